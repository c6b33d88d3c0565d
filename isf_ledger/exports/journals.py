"""Journals for the provider's own finance system: Xero, Sage 50 and Sage Accounting.

Summary journals, never one person's money (per-person detail stays in this ledger: a finance
system cannot hold thousands of tracking options): one journal per calendar month of the period,
per kind of money (a correction counts with the kind it corrects) and per service or house
(a delivery's service, a shared arrangement), each line one nominal code and council. Every
journal holds whole transactions, so it sums to zero; that is checked, with every format's
limits, before a byte is written. The same books and period give the same bytes.

The layouts, as documented by their makers:
- Xero manual journal import (help.xero.com/uk/ManualJournalsImport): columns Narration, Date
  (dd/mm/yyyy), Description, AccountCode, TaxRate, Amount (positive a debit, negative a credit),
  TrackingName1, TrackingOption1, TrackingName2, TrackingOption2; lines with the same narration
  and date are one journal; up to 300 lines in one file; at most 2 tracking categories of at
  most 100 options each (Xero's limits on tracking).
- Sage 50 Accounts audit trail transactions import (Sage's "Audit Trail Transaction" template,
  as listed at makingithappen.co.uk/CI/std/audittrans.htm and gb-kb.sage.com): Type (JD journal
  debit, JC journal credit), Account Reference (blank for journals), Nominal A/C Ref, Department
  Code, Date (dd/mm/yyyy), Reference (30 characters), Details (60), Net Amount, Tax Code, Tax
  Amount; departments are numbered 0 to 999; T9 is the tax code outside the scope of VAT.
- Sage Accounting journal import (ca-kb.sage.com solution 240304191549557 "How to import journal
  entries", help.sbc.sage.com/en-ca/accounting/importing/import-journals.html): the template's
  headings, columns A to K: Reference, Date, Description, Ledger Account Number, Details,
  Analysis Type 1-3, Include on Tax Return, Debit (J), Credit (K); the optional Exchange rate
  (L) is left out, every journal being in pounds, and Include on Tax Return is left blank
  (client money and fees are outside VAT). The template's Date is month first (01/01/2022) for
  a Canadian business; a UK business's Sage reads its own dd/mm/yyyy, as written here. The UK
  page (gb-kb.sage.com solution 222001000100916) puts Debit and Credit at G and H of a shorter
  template; Sage reads the columns by heading, in any order. Reference at most 75 characters, a new journal
  wherever it changes, so each journal's is unique; Description and Details at most 200; Debit
  and Credit balance within a journal; a file at most 0.5 MB (split otherwise).
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from .. import clock
from ..ledger.kinds import KINDS
from ..models import Account, Council, Delivery, Person, Posting, Transaction
from ..db import month_label, utcnow
from ..errors import Invalid
from ..money import format_pence
from ..sheets import csv_cell
from .books import first_posting_date, last_posting_date
from ..models.exports import ExportDepartment, ExportRun, NominalCode
from ..clock import month_end

FORMATS = ("xero", "sage50", "sage-accounting")

# Our account kinds -> (default nominal code, what it is), after a UK small-business chart:
# 1xxx assets, 2xxx liabilities, 4xxx income, 5xxx costs.
DEFAULT_CODES: dict[str, tuple[str, str]] = {
    "client_money": ("1210", "Client money bank account"),
    "provider_bank": ("1200", "Provider's own bank account"),
    "council_voids": ("1105", "Due from councils: empty places they fund"),
    "available": ("2110", "Individual Service Funds held: available"),
    "contingency": ("2111", "Individual Service Funds held: contingency"),
    "council_refunds": ("2120", "Refunds and recoveries due to councils"),
    "third_parties": ("2130", "Payments due to third parties"),
    "fee_income": ("4000", "Management fee income"),
    "support_income": ("4010", "Income from support charged"),
    "shared_arrangement": ("4020", "Income from shared support"),
    "interest_income": ("4030", "Bank interest kept by the provider"),
    "void": ("5010", "Empty places borne by the provider"),
}
CODE = re.compile(r"[0-9]{1,8}")  # Sage's nominal codes: up to 8 digits (Xero takes these too)

XERO_HEADER = ["Narration", "Date", "Description", "AccountCode", "TaxRate", "Amount",
               "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2"]
XERO_MAX_LINES = 300  # per file, its heading row included
XERO_TAX_RATE = "No VAT"  # the UK organisation's rate for lines outside VAT, by its name
XERO_MAX_OPTIONS = 100
SAGE50_HEADER = ["Type", "Account Reference", "Nominal A/C Ref", "Department Code", "Date", "Reference",
                 "Details", "Net Amount", "Tax Code", "Tax Amount"]
SAGE50_TAX_CODE = "T9"
SAGE_ACCOUNTING_HEADER = ["Reference", "Date", "Description", "Ledger Account Number", "Details",
                          "Analysis Type 1", "Analysis Type 2", "Analysis Type 3", "Include on Tax Return", "Debit", "Credit"]
SAGE_ACCOUNTING_MAX_BYTES = 500 * 1024
TRACKING = ("Service", "Council")
SHARED_KINDS = ("shared_charge", "shared_void")
SHARED_TRACKING = "shared_support"


def spreadsheet_text(text: str) -> str:
    """A text cell a spreadsheet will show as text, never run as a formula, with control
    characters replaced: as every CSV the app writes (sheets.csv_cell)."""
    return csv_cell(text)


# --- The provider's nominal codes and departments -----------------------------------------

def nominal_codes(session) -> dict[str, str]:
    codes = {kind: code for kind, (code, _) in DEFAULT_CODES.items()}
    codes.update(dict(session.execute(sa.select(NominalCode.account_kind, NominalCode.code)).all()))
    return codes


def departments(session) -> dict[str, int]:
    return dict(session.execute(sa.select(ExportDepartment.option, ExportDepartment.number)).all())


def mapping_json(session) -> dict:
    codes = nominal_codes(session)
    return {"codes": {kind: {"code": codes[kind], "account": what} for kind, (_, what) in DEFAULT_CODES.items()},
            "departments": dict(sorted(departments(session).items()))}


def set_mapping(session, body: dict, user_id: int | None) -> dict:
    """Finance sets some codes (`codes`: account kind -> code) and departments (`departments`:
    service or house -> 0-999); anything left out keeps what it was. All checked, then written."""
    if not isinstance(body, dict) or set(body) - {"codes", "departments"} or not body:
        raise Invalid("codes", "give `codes` (account kind -> nominal code) and/or `departments` "
                               "(service or house -> 0-999)")
    codes, depts = body.get("codes") or {}, body.get("departments") or {}
    if not isinstance(codes, dict):
        raise Invalid("codes", "an object: account kind -> nominal code")
    if not isinstance(depts, dict):
        raise Invalid("departments", "an object: service or house -> department number")
    for kind, code in codes.items():
        if kind not in DEFAULT_CODES:
            raise Invalid(f"codes.{kind}", f"not one of our accounts ({', '.join(DEFAULT_CODES)})")
        if not isinstance(code, str) or not CODE.fullmatch(code):
            raise Invalid(f"codes.{kind}", "a nominal code of 1 to 8 digits, as a string (e.g. \"1210\")")
    for option, number in depts.items():
        if not option.strip() or len(option) > 200:
            raise Invalid("departments", "name each service or house in 1 to 200 characters")
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 999:
            raise Invalid(f"departments.{option}", "a whole number from 0 to 999")
    now = utcnow()
    for kind, code in codes.items():
        session.merge(NominalCode(account_kind=kind, code=code, changed_by=user_id, changed_at=now))
    for option, number in depts.items():
        session.merge(ExportDepartment(option=option, number=number, changed_by=user_id, changed_at=now))
    session.flush()
    return mapping_json(session)


# --- Summary journals -----------------------------------------------------------------------

@dataclass
class Line:
    code: str
    account: str  # what the code is, for the line's description
    council: str
    pence: int  # debit positive, as the finance systems sign it


@dataclass
class Journal:
    reference: str
    day: date
    narration: str
    service: str  # the service or house it summarises ('' for money not tied to one)
    lines: list[Line] = field(default_factory=list)
    kind: str = ""

    @property
    def tracking(self) -> str:
        """Its option in Xero's Service category: the service, or `shared_support` for every
        house (named in the narration), so the options stay as few as the rate card's services
        however many houses the provider runs."""
        return SHARED_TRACKING if self.kind in SHARED_KINDS and self.service else self.service


def summary_journals(session, start: date, end: date) -> list[Journal]:
    """The period's journals, built from one grouped query over its postings."""
    month = month_label(session, Posting.date)
    original = aliased(Transaction)
    house_account = aliased(Account)
    # The house of a shared charge: the arrangement whose account the transaction credits.
    houses = (sa.select(Posting.transaction_id.label("tid"), sa.func.min(house_account.name).label("house"))
              .join(house_account, house_account.id == Posting.account_id)
              .where(house_account.kind == "shared_arrangement", Posting.date >= start, Posting.date <= end)
              .group_by(Posting.transaction_id).subquery())
    kind = sa.case((Transaction.kind == "reversal", original.kind), else_=Transaction.kind)
    service = sa.func.coalesce(Delivery.service, houses.c.house, "")
    council = sa.func.coalesce(Council.name, "")
    q = (sa.select(month, kind, service, council, Account.kind, sa.func.sum(Posting.amount_pence))
         .select_from(Posting)
         .join(Transaction, Transaction.id == Posting.transaction_id)
         .join(Account, Account.id == Posting.account_id)
         .outerjoin(original, original.id == Transaction.reverses_id)
         .outerjoin(Delivery, Delivery.transaction_id == sa.func.coalesce(Transaction.reverses_id, Transaction.id))
         .outerjoin(houses, houses.c.tid == Transaction.id)
         .outerjoin(Person, Person.id == Transaction.person_id)
         .outerjoin(Council, Council.id == Person.council_id)
         .where(Posting.date >= start, Posting.date <= end)
         .group_by(month, kind, service, council, Account.kind))
    codes = nominal_codes(session)
    order = {k: i for i, k in enumerate(KINDS)}
    grouped: dict[tuple, dict[tuple, int]] = {}
    for ym, k, svc, council_name, account_kind, pence in session.execute(q):
        if account_kind not in codes:
            raise Invalid("codes", f"no nominal code for our {account_kind} account")
        svc = svc.split(": ", 1)[1] if svc.startswith("Shared arrangement ") and ": " in svc else svc
        lines = grouped.setdefault((ym, order.get(k, len(order)), k, svc), {})
        key = (codes[account_kind], account_kind if account_kind in DEFAULT_CODES else "", council_name)
        lines[key] = lines.get(key, 0) - int(pence)  # ours is credit-positive
    journals, numbers = [], {}
    for (ym, _, k, svc), lines in sorted(grouped.items()):
        kept = [Line(code, DEFAULT_CODES.get(ak, ("", ak))[1], council_name, pence)
                for (code, ak, council_name), pence in sorted(lines.items()) if pence]
        if not kept:
            continue
        first = date(int(ym[:4]), int(ym[5:]), 1)
        numbers[ym] = numbers.get(ym, 0) + 1
        label = KINDS[k].label if k in KINDS else k
        # The reference names the journal's first day, so journals of two periods never share one.
        narration = f"ISF {first:%b %Y}: {label}" + (f" - {svc}" if svc else "")
        journals.append(Journal(reference=f"ISF-{max(first, start):%Y%m%d}-{numbers[ym]:03d}",
                                day=min(month_end(first), end), narration=narration, service=svc,
                                lines=_merged(kept), kind=k))
    for j in journals:
        if sum(line.pence for line in j.lines):
            raise Invalid("period", f"journal {j.reference} ({j.narration}) does not sum to zero; nothing written")
    return journals


def _merged(lines: list[Line]) -> list[Line]:
    """Lines of one code and council (two of our kinds may share a code) as one."""
    out: dict[tuple, Line] = {}
    for line in lines:
        key = (line.code, line.council)
        if key in out:
            out[key].pence += line.pence
            out[key].account = out[key].account if out[key].account == line.account else "Client funds"
        else:
            out[key] = Line(line.code, line.account, line.council, line.pence)
    return [line for line in out.values() if line.pence]


# --- The three layouts ------------------------------------------------------------------------

def _csv(rows) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
    return buf.getvalue().encode("utf-8")


def _day(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def xero_files(journals: list[Journal]) -> list[bytes]:
    options = {name: set() for name in TRACKING}
    for j in journals:
        if j.tracking:
            options["Service"].add(j.tracking)
        options["Council"].update(line.council for line in j.lines if line.council)
    for name, seen in options.items():
        if len(seen) > XERO_MAX_OPTIONS:
            raise Invalid("format", f"Xero takes at most {XERO_MAX_OPTIONS} options in a tracking category; "
                                    f"this period has {len(seen)} for {name}; nothing written")
    files, rows = [], []
    for j in journals:
        if len(j.lines) > XERO_MAX_LINES - 1:
            raise Invalid("format", f"journal {j.reference} has {len(j.lines)} lines, more than a Xero file holds")
        if len(rows) + len(j.lines) > XERO_MAX_LINES - 1:
            files.append(_csv([XERO_HEADER, *rows]))
            rows = []
        for line in j.lines:
            rows.append([spreadsheet_text(j.narration), _day(j.day), spreadsheet_text(line.account), line.code,
                         XERO_TAX_RATE, format_pence(line.pence),
                         "Service" if j.tracking else "", spreadsheet_text(j.tracking),
                         "Council" if line.council else "", spreadsheet_text(line.council)])
    if rows or not files:
        files.append(_csv([XERO_HEADER, *rows]))
    return files


def sage50_files(session, journals: list[Journal]) -> list[bytes]:
    numbers = departments(session)
    rows = [SAGE50_HEADER]
    for j in journals:
        department = numbers.get(j.service, 0)
        for line in j.lines:
            details = j.narration + (f" ({line.council})" if line.council else "")
            details = details if len(details) <= 60 else j.narration[:60]
            rows.append(["JD" if line.pence > 0 else "JC", "", line.code, str(department), _day(j.day),
                         spreadsheet_text(j.reference[:30]), spreadsheet_text(details[:60]),
                         format_pence(abs(line.pence)), SAGE50_TAX_CODE, "0.00"])
    return [_csv(rows)]


def sage_accounting_files(journals: list[Journal]) -> list[bytes]:
    header = _csv([SAGE_ACCOUNTING_HEADER])
    files, current = [], [header]
    size = len(header)
    for j in journals:
        rows = []
        for line in j.lines:
            # Columns A to C on every line of a journal, the same: Sage starts a new journal
            # where the Reference changes, so the same three again are the same journal.
            rows.append([spreadsheet_text(j.reference[:75]), _day(j.day), spreadsheet_text(j.narration[:200]),
                         line.code,
                         spreadsheet_text((line.account + (f" ({line.council})" if line.council else ""))[:200]),
                         "", "", "", "", format_pence(line.pence) if line.pence > 0 else "",
                         format_pence(-line.pence) if line.pence < 0 else ""])
        block = _csv(rows)
        if len(header) + len(block) > SAGE_ACCOUNTING_MAX_BYTES:
            raise Invalid("format", f"journal {j.reference} alone is more than Sage Accounting's 0.5 MB")
        if size + len(block) > SAGE_ACCOUNTING_MAX_BYTES:
            files.append(b"".join(current))
            current, size = [header], len(header)
        current.append(block)
        size += len(block)
    files.append(b"".join(current))
    return files


@dataclass
class Export:
    body: bytes
    media_type: str
    filename: str
    start: date
    end: date
    note: str | None = None  # set when this format and period were exported before
    files: int = 1


def _zip(names_and_bodies: list[tuple[str, bytes]], day: date) -> bytes:
    """A zip that is the same bytes for the same files: fixed times and attributes."""
    buf = io.BytesIO()
    stamp = (max(day.year, 1980), day.month, day.day, 0, 0, 0)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in names_and_bodies:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, body)
    return buf.getvalue()


def period_of(session, start: date | None, end: date | None) -> tuple[date, date]:
    """A journal period: as given, else from the first posting and to the last (or today)."""
    given = start
    start = start or first_posting_date(session) or clock.today()
    end = end or max(d for d in (last_posting_date(session, None), start) if d)
    if end < start:
        if given is not None:
            raise Invalid("to", f"before from ({start.isoformat()})")
        start = end  # a period that ends before the first posting: no journals
    return start, end


def journal_export(session, fmt: str, start: date | None, end: date | None, user_id: int | None) -> Export:
    """The journals of a period in a finance system's layout, and a record that they were
    exported (the note says when the same format and period went out before)."""
    start, end = period_of(session, start, end)
    journals = summary_journals(session, start, end)
    if fmt == "xero":
        files = xero_files(journals)
    elif fmt == "sage50":
        files = sage50_files(session, journals)
    else:
        files = sage_accounting_files(journals)
    stem = f"{fmt}-journals-{start.isoformat()}-to-{end.isoformat()}"
    if len(files) == 1:
        export = Export(files[0], "text/csv; charset=utf-8", stem + ".csv", start, end)
    else:
        body = _zip([(f"{stem}-{i:02d}.csv", f) for i, f in enumerate(files, 1)], end)
        export = Export(body, "application/zip", stem + ".zip", start, end, files=len(files))
    export.note = _record(session, fmt, export, user_id)
    return export


def _record(session, fmt: str, export: Export, user_id: int | None) -> str | None:
    """Record the file; say when this format went out before for the same period (the same
    bytes, or not), or for one that overlaps it."""
    digest = hashlib.sha256(export.body).hexdigest()
    before = session.execute(sa.select(ExportRun.period_from, ExportRun.period_to, ExportRun.exported_at,
                                       ExportRun.sha256)
                             .where(ExportRun.format == fmt, ExportRun.period_from <= export.end,
                                    ExportRun.period_to >= export.start)
                             .order_by(ExportRun.exported_at, ExportRun.id)).all()
    same_period = [r for r in before if (r[0], r[1]) == (export.start, export.end)]
    if not any(r[3] == digest for r in same_period):
        # Two finance users exporting the same period at once record it once, neither refused.
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(ExportRun).values(format=fmt, period_from=export.start, period_to=export.end,
                                                 sha256=digest, size_bytes=len(export.body), exported_by=user_id,
                                                 exported_at=utcnow()).on_conflict_do_nothing())
    period = f"{export.start.isoformat()} to {export.end.isoformat()}"
    if same_period:
        same = any(r[3] == digest for r in same_period)
        return (f"{fmt} journals for {period} were already exported on {same_period[0][2]:%Y-%m-%d %H:%M} UTC"
                + ("; these are the same bytes" if same else
                   "; the books have changed since, so these differ: import only what the finance system "
                   "does not hold"))
    if before:
        other = before[0]
        return (f"{fmt} journals for {period} overlap those already exported for {other[0].isoformat()} to "
                f"{other[1].isoformat()} on {other[2]:%Y-%m-%d %H:%M} UTC: do not import the same days twice")
    return None
