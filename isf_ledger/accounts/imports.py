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
from .councils import rule_history, rule_on
from .hours import DEFAULT_BANKING_NOTICE_HOURS, DeliveryIn, bank_shortfalls, checked_row, quantity, write_deliveries
from .ledger import lock_funds, provider_accounts
from .models import Account, Delivery, DeliveryImport, Fund, Person, Rate
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

def _table(data: bytes):
    """A function giving the file's rows (lists of cells, the header first) afresh on each call,
    read as they are needed; ImportRefused for a file that is empty or not CSV or XLSX."""
    if not data.strip():
        raise ImportRefused([_error(None, None, "the file is empty")])
    if data.startswith(b"PK\x03\x04"):
        sheet = _xlsx(data)
        return lambda: sheet.iter_rows(values_only=True)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRefused([_error(None, None, "an old .xls workbook: save it as .xlsx or CSV (UTF-8)")])
    try:
        data.decode("utf-8-sig")  # checked whole first, then read a line at a time (the text is not kept)
    except UnicodeDecodeError:
        raise ImportRefused([_error(None, None, "not a spreadsheet: send CSV (UTF-8) or XLSX")]) from None
    if b"\x00" in data:  # in UTF-8 only NUL itself has a zero byte
        raise ImportRefused([_error(None, None, "not a spreadsheet: send CSV (UTF-8) or XLSX")])
    return lambda: csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""))


def _xlsx(data: bytes):
    from openpyxl import load_workbook  # only for XLSX files

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)  # formulas: their saved values
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise ImportRefused([_error(None, None, "not a spreadsheet: an unreadable XLSX file")]) from None
    return book.worksheets[0]


def _columns(rows) -> list[tuple[int, str]]:
    """The header's (position, column) pairs; ImportRefused unless it names every column once."""
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
    return [(i, n) for i, n in enumerate(names) if n]


def _with_header(table):
    """(row number, {column: cell}) for every row with anything in it, one at a time."""
    rows = iter(table())
    at = _columns(rows)
    for number, cells in enumerate(rows, start=2):
        row = {n: (_blank(cells[i]) if i < len(cells) else None) for i, n in at}
        if any(v is not None for v in row.values()):
            yield number, row


def _people_cells(table) -> tuple[int, set[str]]:
    """A first, light pass: how many rows have anything in them, and the distinct `person` cells
    (so every fund is locked before anything is written, lowest person id first)."""
    rows = iter(table())
    at = _columns(rows)
    where = next(i for i, n in at if n == "person")
    count, people = 0, set()
    for cells in rows:
        if any(i < len(cells) and _blank(cells[i]) is not None for i, _ in at):
            count += 1
            person = _blank(cells[where]) if where < len(cells) else None
            if person is not None:
                people.add(_person_text(person))
    return count, people


def _person_text(person) -> str:
    return _number_text(person) if isinstance(person, (int, float)) else str(person)


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


class _Cells:
    """The API schema's fields read cell by cell, each distinct cell once: a file's dates,
    times, services, quantities, statuses and domains repeat, so marshmallow sees each text once
    and the answer (the value, or its reasons) is reused; the same values and messages as
    `DeliverySchema().load`, which has no rules across fields."""

    LIMIT = 50_000  # distinct texts remembered per column; beyond that each is read anew

    def __init__(self):
        self.fields = {name: _schema.fields[name] for name in _schema.fields}
        self.seen = {name: {} for name in self.fields}

    def load(self, cells: dict) -> tuple[dict, dict]:
        """The row's arguments, and {column: reason} for what the schema refuses."""
        args, bad = {}, {}
        for name, field in self.fields.items():
            if name not in cells:
                if field.required:
                    bad[name] = str(field.error_messages["required"])
                else:
                    args[name] = field.load_default
                continue
            value = cells[name]
            seen = self.seen[name]
            found = seen.get(value, seen)
            if found is seen:
                try:
                    found = (True, field.deserialize(value, name, cells))
                except ValidationError as e:
                    reasons = e.messages
                    found = (False, "; ".join(map(str, reasons)) if isinstance(reasons, list) else str(reasons))
                if len(seen) < self.LIMIT:
                    seen[value] = found
            if found[0]:
                args[name] = found[1]
            else:
                bad[name] = found[1]
        return args, bad


CHUNK = 5000  # rows checked and written together: one post, one insert


def import_deliveries(session, data: bytes, *, filename: str = "", user_id: int | None = None,
                      notice_hours: int = DEFAULT_BANKING_NOTICE_HOURS, progress=None) -> dict:
    """Apply a file of deliveries whole, in the session's transaction (the caller commits), or
    raise ImportRefused listing every bad row, with nothing written. `progress(stage, n)` is told
    of rows as they pass.

    The file is read twice, as it goes: first only its `person` cells, so every fund is locked
    (lowest id first) before anything is written; then each row is checked once and written in
    chunks under a savepoint. After the first bad row nothing more is written, every row is still
    checked, and the savepoint is rolled back: all or nothing without holding the file's rows."""
    tell = progress or (lambda stage, n: None)
    sha256 = hashlib.sha256(data).hexdigest()
    lock_key(session, "delivery-imports")  # one import at a time: visit ids and file hashes checked, then written
    seen = session.scalar(sa.select(DeliveryImport).where(DeliveryImport.sha256 == sha256))
    if seen is not None:
        return {"import_id": seen.id, "rows": seen.rows, "written": 0, "skipped": seen.rows, "people": 0,
                "charged": 0, "already_imported": True}
    table = _table(data)
    count, texts = _people_cells(table)
    tell("read", count)

    found, unknown = _people(session, texts)
    pids = sorted(set(found.values()))
    funds = {f.person_id: f for f in session.scalars(sa.select(Fund).where(Fund.person_id.in_(pids)))}
    councils = {p.id: p.council for p in session.scalars(sa.select(Person).where(Person.id.in_(pids)))}
    locked = lock_funds(session, [pid for pid in pids if funds[pid].closed_on is None])
    funds.update(locked)  # as locked: closed_on and issued_through as they stand now
    accounts = defaultdict(dict)
    for account in session.scalars(sa.select(Account).where(Account.person_id.in_(pids))):
        accounts[account.person_id][account.kind] = account
    provider = provider_accounts(session)
    events = bank_events(session, pids)  # before this file's rows are written
    history = rule_history(session, [c.id for c in councils.values() if c is not None])
    # Every service on the rate card (the file's services are not known before its rows are read)
    # and every person's plans, for their overrides.
    book = RateBook(session, session.scalars(sa.select(Rate.service).distinct()).all(), pids)
    cells = _Cells()

    savepoint = session.begin_nested()
    errors: list[dict] = []
    external_seen: dict[str, int] = {}
    banking: dict[int, list[tuple[int, dict]]] = defaultdict(list)  # pid -> [(row number, bank row)]
    written = skipped = charged = 0
    people: set[int] = set()
    chunk: list[tuple[int, int, DeliveryIn]] = []  # (row number, person id, item)

    def flush():
        nonlocal written, skipped, charged
        ext_ids = [item.external_id for _, _, item in chunk if item.external_id is not None]
        already = dict(session.execute(sa.select(Delivery.external_id, Delivery.person_id)
                                       .where(Delivery.external_id.in_(ext_ids))).all()) if ext_ids else {}
        rows, items = [], []
        for number, pid, item in chunk:
            if item.external_id in already:
                if already[item.external_id] != pid:
                    errors.append(_error(number, "external_id", f"this visit was imported for person "
                                                                f"{already[item.external_id]}, not {pid}: "
                                                                "reverse that delivery and import this row without it"))
                else:
                    skipped += 1
                continue
            fund = funds[pid]
            if fund.closed_on is not None:
                errors.append(_error(number, "person", f"the fund was closed on {fund.closed_on.isoformat()}"))
                continue
            council = councils[pid]
            try:
                row = checked_row(book, pid, item, opened_on=fund.opened_on,
                                  notice_hours=notice_hours, user_id=user_id,
                                  expiry_days=lambda plan, day: rule_on(session, "bank_expiry_days", council, plan,
                                                                        day, history))
            except Invalid as e:
                column, reasons = next(iter(e.details.items()))
                errors.append(_error(number, column, reasons[0]))
                continue
            if row["status"] in BANK_STATUSES:
                banking[pid].append((number, row))
            rows.append(row)
            items.append(item)
        chunk.clear()
        if rows and not errors:
            write_deliveries(session, rows, items, funds, accounts, provider, user_id, ids=False)
            written += len(rows)
            charged += sum(r["charge_pence"] for r in rows)
            people.update(r["person_id"] for r in rows)
            tell("write", len(rows))

    for number, row in _with_header(table):
        tell("check", 1)
        text, bad = _as_json(row)
        args, refused = cells.load(text)
        bad.update({column: reason for column, reason in refused.items() if column not in bad})
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
        if args is None:
            continue
        person = _person_text(person)
        if person in unknown:
            errors.append(_error(number, "person", unknown[person]))
            continue
        chunk.append((number, found[person], DeliveryIn(**args, external_id=ext)))
        if len(chunk) >= CHUNK:
            flush()
    flush()

    for pid in sorted(banking):  # the bank over each fund's rows together, after every row is known
        new_rows = [row for _, row in banking[pid]]
        for service, short in bank_shortfalls(events, pid, new_rows).items():
            numbers = {id(row["bank_event"]): number for number, row in banking[pid] if "bank_event" in row}
            for s in short:
                if id(s.event) in numbers:
                    errors.append(_error(numbers[id(s.event)], "quantity",
                                         f"the {service} bank holds {quantity(s.held)} h on "
                                         f"{s.event.day.isoformat()}, not enough for {quantity(s.event.hundredths)} h"))
    if errors:
        savepoint.rollback()
        raise ImportRefused(sorted(errors, key=lambda e: (e["row"] or 0, e["column"] or "")))
    savepoint.commit()
    record = DeliveryImport(sha256=sha256, filename=(filename or "")[:255], rows=count, written=written,
                            skipped=skipped, created_by=user_id)
    session.add(record)
    session.flush()
    return {"import_id": record.id, "rows": count, "written": written, "skipped": skipped,
            "people": len(people), "charged": charged, "already_imported": False}
