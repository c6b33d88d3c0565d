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
import re
import zipfile
import zlib
from collections import Counter, defaultdict
from datetime import date, datetime, time
from decimal import Decimal, localcontext

import sqlalchemy as sa
from marshmallow import ValidationError

from ..errors import Invalid, LedgerError
from ..locks import lock_key
from ..db import begin_read_only
from .bank import BANK_STATUSES, bank_events
from .councils import rule_history, rule_on
from .hours import DeliveryIn, banking_notice_hours, bank_shortfalls, checked_row, quantity, write_deliveries
from ..ledger.post import lock_funds, provider_accounts
from ..models import Account, Delivery, DeliveryImport, Fund, Person, Rate
from .rates import RateBook
from .schemas.deliveries import DeliveryIn as DeliverySchema
from .schemas.imports import COLUMNS, OPTIONAL

MAX_EXTERNAL_ID = 100
_schema = DeliverySchema()


class ImportRefused(LedgerError):
    """The file, or some of its rows, cannot be applied: nothing was written (422). `details`
    lists the first MAX_ERRORS errors (a file's rows by row, then column) and `error_count`
    counts them all."""

    status = 422
    code = "invalid_import"

    def __init__(self, errors: list[dict], total: int | None = None, bad_rows: int | None = None):
        errors = errors[:MAX_ERRORS]
        total = len(errors) if total is None else total
        if bad_rows is None:
            bad_rows = len({e["row"] for e in errors if e["row"] is not None})
        what = f"{bad_rows} bad row(s)" if bad_rows else errors[0]["reason"]
        super().__init__(f"nothing was imported: {what}",
                         {"errors": errors, "error_count": total, "errors_listed": len(errors)})


def _error(row, column, reason) -> dict:
    return {"row": row, "column": column, "reason": reason}


def _order(e: dict):
    return (e["row"] or 0, e["column"] or "")


class _Errors:
    """The bad rows found so far, in bounded memory: the first MAX_ERRORS by row and column, how
    many there are in all, and how many rows have one."""

    def __init__(self):
        self.kept: list[dict] = []
        self.total = 0
        self.rows = 0  # rows with an error, counted as they arrive (exact once errors are dropped)
        self._last_row = None
        self._dropped = False

    def __bool__(self) -> bool:
        return self.total > 0

    def append(self, e: dict) -> None:
        self.total += 1
        if e["row"] is not None and e["row"] != self._last_row:  # rows arrive in order, mostly
            self.rows += 1
            self._last_row = e["row"]
        self.kept.append(e)
        if len(self.kept) >= 2 * MAX_ERRORS:
            self.kept = sorted(self.kept, key=_order)[:MAX_ERRORS]
            self._dropped = True

    def extend(self, errors) -> None:
        for e in errors:
            self.append(e)

    def refusal(self) -> ImportRefused:
        return ImportRefused(sorted(self.kept, key=_order), self.total, self.rows if self._dropped or self.total > MAX_ERRORS else None)


# Reading -----------------------------------------------------------------------------------
# Limits, checked before anything larger is parsed, so that no upload can cost more than a
# bounded amount of work and memory (an XLSX file's zip directory is read before openpyxl).

MAX_ERRORS = 1000  # errors listed in a refusal (error_count says how many there were)
MAX_COLUMNS = 100  # cells in the header up to its last non-empty one
MAX_ROWS = 1_000_000
MAX_CELL_BYTES = 131_072
MAX_ZIP_MEMBERS = 1000
MAX_UNZIPPED = 512 * 1024 * 1024  # an XLSX file's parts, unzipped, in all
MAX_UNZIP_RATIO = 100  # ... and at most this many times the file's own size (plus 16 MiB)
MAX_SHARED_STRINGS = 2_000_000
_CSV_FIELD_LIMIT = 1 << 20  # characters csv reads in one cell; MAX_CELL_BYTES is checked after


def _table(data: bytes):
    """A function giving the file's rows (lists of cells, the header first) afresh on each call,
    read as they are needed; ImportRefused for a file that is empty or not CSV or XLSX, or an
    XLSX file larger than the limits once unzipped."""
    if not data.strip():
        raise ImportRefused([_error(None, None, "the file is empty")])
    if data.startswith(b"PK\x03\x04"):
        _check_zip(data)
        sheet = _xlsx(data)
        return lambda: _xlsx_rows(sheet)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRefused([_error(None, None, "an old .xls workbook: save it as .xlsx or CSV (UTF-8)")])
    try:
        data.decode("utf-8-sig")  # checked whole first, then read a line at a time (the text is not kept)
    except UnicodeDecodeError:
        raise ImportRefused([_error(None, None, "not a spreadsheet: send CSV (UTF-8) or XLSX")]) from None
    if b"\x00" in data:  # in UTF-8 only NUL itself has a zero byte
        raise ImportRefused([_error(None, None, "not a spreadsheet: send CSV (UTF-8) or XLSX")])
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    return lambda: _csv_rows(data)


def _csv_rows(data: bytes):
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:  # a cell beyond _CSV_FIELD_LIMIT characters, or a quote left open at the end
            raise ImportRefused([_error(reader.line_num or 1, None,
                                        f"a cell longer than {MAX_CELL_BYTES:,} bytes, or a quote never closed")]
                                ) from None
        yield row


def _unreadable(why: str = "") -> ImportRefused:
    return ImportRefused([_error(None, None, "not a spreadsheet: an unreadable XLSX file" + why)])


def _check_zip(data: bytes) -> None:
    """Refuse an XLSX file from its zip directory (and its shared strings, counted as they
    unzip) before openpyxl parses anything: too many parts, too large unzipped, or more shared
    strings than any import needs."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _unreadable() from None
    with z:
        members = z.infolist()
        unzipped = sum(m.file_size for m in members)
        limit = min(MAX_UNZIPPED, MAX_UNZIP_RATIO * len(data) + (16 << 20))
        if len(members) > MAX_ZIP_MEMBERS or unzipped > limit:
            raise ImportRefused([_error(None, None, f"the XLSX file unzips to {unzipped:,} bytes in {len(members):,} "
                                                    f"parts: at most {limit:,} bytes in {MAX_ZIP_MEMBERS:,} parts")])
        path = _shared_strings_path(z)
        if path is None:
            return
        count, tail = 0, b""
        try:
            with z.open(path) as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    text = tail + chunk
                    count += len(_SHARED_STRING.findall(text))
                    # A tag cut at the chunk's end is counted with the next chunk.
                    cut = text.rfind(b"<")
                    tail = text[cut:] if cut >= 0 and not _SHARED_STRING.match(text, cut) else b""
                    if count > MAX_SHARED_STRINGS:
                        raise ImportRefused([_error(None, None, f"the XLSX file has more than "
                                                                f"{MAX_SHARED_STRINGS:,} shared strings")])
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error):
            raise _unreadable() from None


_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")


def _shared_strings_path(z: zipfile.ZipFile) -> str | None:
    """The part openpyxl reads shared strings from, as it finds it: [Content_Types].xml."""
    from openpyxl.packaging.manifest import Manifest
    from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS
    from openpyxl.xml.functions import fromstring

    try:
        info = z.getinfo(ARC_CONTENT_TYPES)
        if info.file_size > 1 << 20:
            raise _unreadable(": its content types are too large")
        ct = Manifest.from_tree(fromstring(z.read(info))).find(SHARED_STRINGS)
    except ImportRefused:
        raise
    except Exception:  # a broken manifest (defusedxml refuses entities): openpyxl would fail on it too
        raise _unreadable() from None
    return ct.PartName[1:] if ct is not None and ct.PartName[1:] in z.namelist() else None


def _xlsx(data: bytes):
    from openpyxl import load_workbook  # only for XLSX files

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)  # formulas: their saved values
    except Exception:  # openpyxl raises whatever its parsers raise for a broken part
        raise _unreadable() from None
    if not book.worksheets:
        raise ImportRefused([_error(None, None, "the XLSX file has no worksheet: the first sheet is imported")])
    return book.worksheets[0]


def _xlsx_rows(sheet):
    """The first sheet's rows, at most MAX_COLUMNS + 1 cells wide; broken sheet XML is refused."""
    rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1, max_row=MAX_ROWS + 2)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception:  # broken sheet XML (ParseError, a bad cell reference, a bad number)
            raise _unreadable(": its first sheet's XML is broken") from None
        yield row


def _columns(rows) -> list[tuple[int, str]]:
    """The header's (position, column) pairs; ImportRefused unless it names every column once.
    Linear in the header's cells, and at most MAX_COLUMNS of them are looked at one by one."""
    header = next(rows, None)
    if header is None or not any(_blank(c) is not None for c in header):
        raise ImportRefused([_error(1, None, "the first row must be the header: " + ", ".join(COLUMNS))])
    width = len(header)
    while width and _blank(header[width - 1]) is None:
        width -= 1
    if width > MAX_COLUMNS:
        raise ImportRefused([_error(1, None, f"the header has {width:,} columns: at most {MAX_COLUMNS}")])
    names = [_text(c).strip().lower() if c is not None else "" for c in header[:width]]
    counts = Counter(names)
    errors = [_error(1, c, "a required column is missing from the header") for c in COLUMNS if c not in counts]
    for name in counts:
        if name and name not in COLUMNS + OPTIONAL:
            errors.append(_error(1, name[:100], "not a column of a deliveries import"))
        elif name and counts[name] > 1:
            errors.append(_error(1, name, "given more than once"))
    if errors:
        raise ImportRefused(errors)
    return [(i, n) for i, n in enumerate(names) if n]


def _text(cell) -> str:
    return _number_text(cell) if isinstance(cell, (int, float)) and not isinstance(cell, bool) else str(cell)


def _with_header(table):
    """(row number, {column: cell}) for every row with anything in it, one at a time; a row past
    MAX_ROWS, or a cell longer than MAX_CELL_BYTES, is refused (naming where) at once."""
    rows = iter(table())
    at = _columns(rows)
    for number, cells in enumerate(rows, start=2):
        if cells.count(None) == len(cells):  # an empty row (an XLSX sheet may claim a million)
            continue
        row = {n: (_blank(cells[i]) if i < len(cells) else None) for i, n in at}
        if any(v is not None for v in row.values()):
            if number > MAX_ROWS + 1:
                raise ImportRefused([_error(number, None, f"more than {MAX_ROWS:,} rows: split the file")])
            for column, v in row.items():
                if isinstance(v, str) and len(v) > MAX_CELL_BYTES // 4 and len(v.encode()) > MAX_CELL_BYTES:
                    raise ImportRefused([_error(number, column, f"longer than {MAX_CELL_BYTES:,} bytes")])
            yield number, row


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
    text = _text(v)
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
        if _is_id(text) and int(text) in ids:
            candidates.add(int(text))
        if len(candidates) == 1:
            found[text] = candidates.pop()
        elif candidates:
            why[text] = "more than one person has this council reference: give the person's id"
        elif any(c.isdigit() for c in text) and not text.isascii():
            why[text] = "no person has this council reference, and an id is written in the digits 0-9"
        else:
            why[text] = "no person has this id or council reference"
    return found, why


def _is_id(text: str) -> bool:
    """Only ASCII digits are an id: str.isdigit() and int() also take "٦٣" and "⁶³"."""
    return text.isascii() and text.isdigit()


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


class DeliveryFile:
    """A deliveries file read whole once and checked as far as it can be without the database,
    before any lock is taken: a file of the wrong size or shape is refused here (ImportRefused),
    and the cells the API's schema refuses are kept in `errors` (bounded), so that the import
    only checks such a file against the ledger, reading, and refuses it whole without a lock.
    The rows are not kept: the import reads the file again, a row at a time."""

    def __init__(self, data: bytes):
        self.data = data
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.table = _table(data)
        self.cells = _Cells()
        errors, self.people, self.count = _Errors(), set(), 0
        external_seen: dict[str, int] = {}
        for number, row in _with_header(self.table):
            self.count += 1
            args = _row_args(number, row, self.cells, external_seen, errors)
            if args is not None:
                self.people.add(args[0])
        self.errors = errors


def read_file(data: bytes) -> DeliveryFile:
    """The file read and checked without the database (ImportRefused for a bad one)."""
    return DeliveryFile(data)


def _row_args(number: int, row: dict, cells: _Cells, external_seen: dict, errors) -> tuple | None:
    """(person cell text, the delivery's arguments, external id) for a row whose cells the API's
    schema takes; otherwise None, each bad cell added to `errors`."""
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
        return None
    if ext is not None:
        if ext in external_seen:
            errors.append(_error(number, "external_id", f"the same visit as row {external_seen[ext]}"))
            return None
        external_seen[ext] = number
    person = row.get("person")
    if person is None:
        errors.append(_error(number, "person", "Missing data for required field."))
        return None
    if args is None:
        return None
    return _text(person), args, ext


def import_deliveries(session, data: bytes | DeliveryFile, *, filename: str = "", user_id: int | None = None,
                      notice_hours: int | None = None, progress=None) -> dict:
    """Apply a file of deliveries whole, in the session's transaction (the caller commits), or
    raise ImportRefused listing the bad rows, with nothing written. `progress(stage, n)` is told
    of rows as they pass.

    The file is read and checked first, without the database (DeliveryFile: give one already
    read to keep even the caller's transaction out of it); a bad file is refused before any
    lock. Then, under the imports' lock, every fund in the file is locked (lowest id first)
    before anything is written, and each row is checked against the ledger and written in
    chunks under a savepoint. After the first bad row nothing more is written, every row is still
    checked, and the savepoint is rolled back: all or nothing without holding the file's rows."""
    notice_hours = banking_notice_hours() if notice_hours is None else notice_hours
    tell = progress or (lambda stage, n: None)
    file = data if isinstance(data, DeliveryFile) else DeliveryFile(data)
    count, texts, table, cells = file.count, file.people, file.table, file.cells
    tell("read", count)
    refused = bool(file.errors)  # refused already: only read, to list the ledger's errors too
    if refused:
        begin_read_only(session)  # SQLite: no write lock (unless the caller's transaction holds one)
    else:
        lock_key(session, "delivery-imports")  # one import at a time: visit ids and file hashes checked, then written
        seen = session.scalar(sa.select(DeliveryImport).where(DeliveryImport.sha256 == file.sha256))
        if seen is not None:
            return {"import_id": seen.id, "rows": seen.rows, "written": 0, "skipped": seen.rows, "people": 0,
                    "charged": 0, "already_imported": True}
    found, unknown = _people(session, texts)
    pids = sorted(set(found.values()))
    funds = {f.person_id: f for f in session.scalars(sa.select(Fund).where(Fund.person_id.in_(pids)))}
    councils = {p.id: p.council for p in session.scalars(sa.select(Person).where(Person.id.in_(pids)))}
    if not refused:
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

    savepoint = None if refused else session.begin_nested()
    errors = file.errors  # writes stop at the first error: a refused file writes nothing
    seen_again = _Errors()  # the file's own errors, found again as it is read again
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
        parsed = _row_args(number, row, cells, external_seen, seen_again)
        if parsed is None:
            continue
        person, args, ext = parsed
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
        if savepoint is not None:
            savepoint.rollback()
        raise errors.refusal()
    savepoint.commit()
    record = DeliveryImport(sha256=file.sha256, filename=(filename or "")[:255], rows=count, written=written,
                            skipped=skipped, created_by=user_id)
    session.add(record)
    session.flush()
    return {"import_id": record.id, "rows": count, "written": written, "skipped": skipped,
            "people": len(people), "charged": charged, "already_imported": False}
