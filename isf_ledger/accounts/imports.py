"""Rostering imports: a CSV or XLSX file of deliveries, applied whole or not at all.

- Every row is checked against the rules of POST /people/{id}/deliveries (the same schema and
  hours.checked_row, the bank over each fund's rows together) and every bad row is reported as
  {row, column, reason}, rows numbered as the spreadsheet shows them (the header is row 1).
  One bad row and nothing is written.
- `external_id`, the rostering system's visit id, is unique provider-wide: a visit already
  imported (from an overlapping export) is skipped and counted, never charged twice; one
  imported for another person is a bad row. A file already applied (the same bytes, by SHA-256)
  writes nothing and answers as if every row were skipped; rows without `external_id` rely on that.
- Written through record_deliveries, one batch per fund (one lock, one post, one insert), in
  the caller's database transaction; imports queue behind each other on one lock.
"""
from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections import defaultdict
from datetime import date, datetime, time
from decimal import Decimal, localcontext

import sqlalchemy as sa
from marshmallow import ValidationError

from ..errors import Invalid, LedgerError
from ..locks import lock_key
from .bank import BANK_STATUSES, bank_events
from .hours import DEFAULT_BANKING_NOTICE_HOURS, DeliveryIn, bank_shortfalls, checked_row, quantity, record_deliveries
from .models import Delivery, DeliveryImport, Fund, Person
from .rates import RateBook
from .schemas.deliveries import DeliveryIn as DeliverySchema

COLUMNS = ("person", "date", "start_time", "service", "quantity", "status", "notice_given_at", "domain")
OPTIONAL = ("external_id",)
MAX_EXTERNAL_ID = 100
_schema = DeliverySchema()


class ImportRefused(LedgerError):
    """The file, or some of its rows, cannot be applied: nothing was written (422)."""

    status = 422
    code = "invalid_import"

    def __init__(self, errors: list[dict]):
        rows = {e["row"] for e in errors if e["row"] is not None}
        what = f"{len(rows)} bad row(s)" if rows else errors[0]["reason"]
        super().__init__(f"nothing was imported: {what}", {"errors": errors})


def _error(row, column, reason) -> dict:
    return {"row": row, "column": column, "reason": reason}


# Reading -----------------------------------------------------------------------------------

def read_rows(data: bytes) -> list[tuple[int, dict]]:
    """(row number, {column: cell}) for every row with anything in it; ImportRefused for a file
    that is empty, not CSV or XLSX, or whose header lacks a column."""
    if not data.strip():
        raise ImportRefused([_error(None, None, "the file is empty")])
    if data.startswith(b"PK\x03\x04"):
        table = _xlsx(data)
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRefused([_error(None, None, "an old .xls workbook: save it as .xlsx or CSV (UTF-8)")])
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportRefused([_error(None, None, "not a spreadsheet: send CSV (UTF-8) or XLSX")]) from None
        if "\x00" in text:
            raise ImportRefused([_error(None, None, "not a spreadsheet: send CSV (UTF-8) or XLSX")])
        table = csv.reader(io.StringIO(text, newline=""))
    return _with_header(table)


def _xlsx(data: bytes):
    from openpyxl import load_workbook  # only for XLSX files

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)  # formulas: their saved values
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise ImportRefused([_error(None, None, "not a spreadsheet: an unreadable XLSX file")]) from None
    return book.worksheets[0].iter_rows(values_only=True)


def _with_header(table) -> list[tuple[int, dict]]:
    rows = iter(table)
    header = next(rows, None)
    if header is None or not any(_blank(c) is not None for c in header):
        raise ImportRefused([_error(1, None, "the first row must be the header: " + ", ".join(COLUMNS))])
    names = [str(c).strip().lower() if c is not None else "" for c in header]
    errors = [_error(1, c, "a required column is missing from the header") for c in COLUMNS if c not in names]
    for name in names:
        if name and name not in COLUMNS + OPTIONAL:
            errors.append(_error(1, name, "not a column of a deliveries import"))
        elif name and names.count(name) > 1 and _error(1, name, "given more than once") not in errors:
            errors.append(_error(1, name, "given more than once"))
    if errors:
        raise ImportRefused(errors)
    at = [(i, n) for i, n in enumerate(names) if n]
    out = []
    for number, cells in enumerate(rows, start=2):
        row = {n: (_blank(cells[i]) if i < len(cells) else None) for i, n in at}
        if any(v is not None for v in row.values()):
            out.append((number, row))
    return out


def _blank(cell):
    """None for an empty cell; text trimmed."""
    if isinstance(cell, str):
        cell = cell.strip()
        return cell or None
    return cell


# Cells as the API's JSON would give them ------------------------------------------------------

def _number_text(x) -> str:
    """A number cell as text with no float error: as Excel shows it (15 significant digits)."""
    if isinstance(x, bool):
        raise ValueError("not a number")
    if isinstance(x, int):
        return str(x)
    with localcontext() as ctx:
        ctx.prec = 15
        d = +Decimal(repr(x))
    return format(d.normalize(), "f")


def _as_json(row: dict) -> tuple[dict, dict]:
    """The cells of a row as the strings POST .../deliveries takes, and {column: reason} for
    cells that cannot be read as such."""
    out, bad = {}, {}
    for column in ("date", "start_time", "service", "quantity", "status", "notice_given_at", "domain"):
        v = row.get(column)
        if v is None:
            continue
        try:
            out[column] = _cell(column, v)
        except ValueError as e:
            bad[column] = str(e)
    return out, bad


class _BadCell(Exception):
    def __init__(self, column, reason):
        super().__init__(reason)
        self.column, self.reason = column, reason


def _cell(column: str, v):
    if column == "date":
        if isinstance(v, datetime):
            if v.time() != time(0):
                raise ValueError("a date without a time of day")
            return v.date().isoformat()
        if isinstance(v, date):
            return v.isoformat()
    elif column == "start_time":
        if isinstance(v, datetime):
            v = v.time()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1:  # a fraction of a day
            minutes = round(v * 1440)
            v = time(minutes // 60, minutes % 60)
        if isinstance(v, time):
            if v.second or v.microsecond:
                raise ValueError("a time to the minute: HH:MM")
            return v.strftime("%H:%M")
    elif column == "quantity":
        if isinstance(v, (int, float, Decimal)):
            return _number_text(v) if not isinstance(v, Decimal) else str(v)
    elif column == "notice_given_at":
        if isinstance(v, datetime):
            return v.isoformat()
    if not isinstance(v, str):
        v = _number_text(v) if isinstance(v, (int, float)) else str(v)
    return v


def _external_id(v) -> str | None:
    if v is None:
        return None
    text = _number_text(v) if isinstance(v, (int, float)) else str(v)
    if len(text) > MAX_EXTERNAL_ID:
        raise _BadCell("external_id", f"at most {MAX_EXTERNAL_ID} characters")
    return text


# Checking and writing -------------------------------------------------------------------------

def _people(session, values) -> tuple[dict, dict]:
    """Each `person` cell's person id, or why not: an id, or a council reference used by one person."""
    by_ref = defaultdict(list)
    ids = set()
    for pid, ref in session.execute(sa.select(Person.id, Person.council_reference)):
        ids.add(pid)
        if ref is not None:
            by_ref[ref.strip()].append(pid)
    found, why = {}, {}
    for text in values:
        candidates = set(by_ref.get(text, []))
        if text.isdigit() and int(text) in ids:
            candidates.add(int(text))
        if len(candidates) == 1:
            found[text] = candidates.pop()
        else:
            why[text] = ("no person has this id or council reference" if not candidates else
                         "more than one person has this council reference: give the person's id")
    return found, why


def import_deliveries(session, data: bytes, *, filename: str = "", user_id: int | None = None,
                      notice_hours: int = DEFAULT_BANKING_NOTICE_HOURS, progress=None) -> dict:
    """Apply a file of deliveries whole, in the session's transaction (the caller commits), or
    raise ImportRefused listing every bad row. `progress(stage, n)` is told of rows as they pass."""
    tell = progress or (lambda stage, n: None)
    sha256 = hashlib.sha256(data).hexdigest()
    lock_key(session, "delivery-imports")  # one import at a time: visit ids and file hashes checked, then written
    seen = session.scalar(sa.select(DeliveryImport).where(DeliveryImport.sha256 == sha256))
    if seen is not None:
        return {"import_id": seen.id, "rows": seen.rows, "written": 0, "skipped": seen.rows, "people": 0,
                "charged": 0, "already_imported": True}
    rows = read_rows(data)
    tell("read", len(rows))

    errors, good = [], []  # good: (row number, person text, DeliveryIn)
    external_seen: dict[str, int] = {}
    for number, row in rows:
        tell("check", 1)
        cells, bad = _as_json(row)
        try:
            args = _schema.load(cells)
        except ValidationError as e:
            bad.update({column: "; ".join(map(str, reasons)) if isinstance(reasons, list) else str(reasons)
                        for column, reasons in e.messages.items() if column not in bad})
        if bad:
            errors.extend(_error(number, column, reason) for column, reason in sorted(bad.items()))
            args = None
        try:
            ext = _external_id(row.get("external_id"))
        except _BadCell as e:
            errors.append(_error(number, e.column, e.reason))
            continue
        if ext is not None:
            if ext in external_seen:
                errors.append(_error(number, "external_id", f"the same visit as row {external_seen[ext]}"))
                continue
            external_seen[ext] = number
        person = row.get("person")
        if person is None:
            errors.append(_error(number, "person", "Missing data for required field."))
            continue
        if args is not None:
            good.append((number, _number_text(person) if isinstance(person, (int, float)) else str(person),
                         DeliveryIn(**args, external_id=ext)))

    found, unknown = _people(session, {p for _, p, _ in good})
    already = {}  # external id -> person id, for the file's visits already imported
    ext_ids = sorted(external_seen)
    for i in range(0, len(ext_ids), 5000):
        already.update(session.execute(sa.select(Delivery.external_id, Delivery.person_id)
                                       .where(Delivery.external_id.in_(ext_ids[i:i + 5000]))).all())
    by_person: dict[int, list[tuple[int, DeliveryIn]]] = defaultdict(list)
    skipped = 0
    for number, person, item in good:
        if person in unknown:
            errors.append(_error(number, "person", unknown[person]))
        elif item.external_id in already:
            if already[item.external_id] != found[person]:
                errors.append(_error(number, "external_id", f"this visit was imported for person "
                                                            f"{already[item.external_id]}, not {found[person]}: "
                                                            "reverse that delivery and import this row without it"))
            else:
                skipped += 1
        else:
            by_person[found[person]].append((number, item))

    pids = sorted(by_person)
    funds = {f.person_id: f for f in session.scalars(sa.select(Fund).where(Fund.person_id.in_(pids)))}
    councils = {p.id: p.council for p in session.scalars(sa.select(Person).where(Person.id.in_(pids)))}
    book = RateBook(session, {item.service for items in by_person.values() for _, item in items}, pids)
    events = bank_events(session, pids)
    for pid in pids:
        fund, checked = funds[pid], []
        for number, item in by_person[pid]:
            if fund.closed_on is not None:
                errors.append(_error(number, "person", f"the fund was closed on {fund.closed_on.isoformat()}"))
                continue
            try:
                row = checked_row(book, pid, item, opened_on=fund.opened_on, council=councils[pid],
                                  notice_hours=notice_hours)
            except Invalid as e:
                column, reasons = next(iter(e.details.items()))
                errors.append(_error(number, column, reasons[0]))
                continue
            row["number"] = number
            checked.append(row)
        for service, short in bank_shortfalls(events, pid, [r for r in checked if r["status"] in BANK_STATUSES]).items():
            rows_of = {id(r["bank_event"]): r["number"] for r in checked if "bank_event" in r}
            for s in short:
                if id(s.event) in rows_of:
                    errors.append(_error(rows_of[id(s.event)], "quantity",
                                         f"the {service} bank holds {quantity(s.held)} h on "
                                         f"{s.event.day.isoformat()}, not enough for {quantity(s.event.hundredths)} h"))
    if errors:
        raise ImportRefused(sorted(errors, key=lambda e: (e["row"] or 0, e["column"] or "")))

    written = charged = 0
    for pid in pids:  # lowest person id first, as lock_funds orders locks
        items = [item for _, item in by_person[pid]]
        done = record_deliveries(session, pid, items, notice_hours=notice_hours, user_id=user_id)
        written += len(done)
        charged += sum(r["charge_pence"] for r in done)
        tell("write", len(done))
    record = DeliveryImport(sha256=sha256, filename=(filename or "")[:255], rows=len(rows), written=written,
                            skipped=skipped, created_by=user_id)
    session.add(record)
    session.flush()
    return {"import_id": record.id, "rows": len(rows), "written": written, "skipped": skipped,
            "people": len(pids), "charged": charged, "already_imported": False}
