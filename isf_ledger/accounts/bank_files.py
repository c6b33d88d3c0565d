"""Reading the client bank account's statements: OFX, camt.053 and the CSVs UK banks export.

Every reader gives the same `Line`s, amounts in signed pence (money into the account positive),
kept as the bank wrote them. Dates are read day first, as UK banks write them (or ISO); a date
that cannot be read so (a 13th month) refuses the file, naming its line. Layouts:

- OFX 1.x (SGML) or 2.x (XML), read with ofxtools: STMTTRN's FITID, DTPOSTED, TRNAMT, NAME/MEMO,
  and LEDGERBAL for the closing balance.
- camt.053 (ISO 20022 BankToCustomerStatement), read with defusedxml: Stmt/Acct/Id, each Ntry's
  Amt, CdtDbtInd (CRDT/DBIT), BookgDt/Dt (or DtTm), AcctSvcrRef, NtryDtls/TxDtls/Refs/EndToEndId,
  RmtInf/Ustrd and AddtlNtryInf; the balance whose Bal/Tp/CdOrPrtry/Cd is CLBD closes it.
- CSV `Date,Description,Amount` and `Date,Description,Money in,Money out` (optional `Balance`).
- Lloyds: `Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,
  Debit Amount,Credit Amount,Balance`, sort codes often written with a leading `'`.
- Barclays.Net: a title line, then `GROUP,ACC ID,ACCOUNT NO,TYPE,BANK CODE,CURR,ENTRY DATE,AS AT,
  AMOUNT,TLA CODE,CHEQUE NO,STATUS,DESCRIPTION`, dates dd/MM/yy, AMOUNT signed.
- NatWest (RBS) Bankline, 18 columns: 1 sort code, 2 account number, 5 currency, 10 date
  (DD/MM/YY), 11 description, 16 type, 17 debit, 18 credit (the layout as documented by
  Access Coins' "Format S (RBS/Natwest BankLine)" help page), with its header row
  `Sort Code,Account Number,...` .
- HSBCnet: 1 sort code and account combined (`123456-01234567`), 2 date, 3 currency, 4 amount
  (signed), 5 description, 6 type (Access Coins' "Format T (HSBCNet)"); with or without a header.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from operator import itemgetter
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from ..errors import LedgerError

MAX_BYTES = 5 * 1024 * 1024
MAX_LINES = 50_000


class StatementRefused(LedgerError):
    """The file cannot be read as a statement: nothing was written (422)."""

    status = 422
    code = "invalid_statement"

    def __init__(self, line: int | None, column: str | None, reason: str):
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"nothing was imported: {where}{reason}",
                         {"file": [f"{where}{reason}"], "errors": [{"line": line, "column": column, "reason": reason}]})


class Line(NamedTuple):
    """One line as the bank wrote it. A tuple of plain values: the cyclic garbage collector stops
    watching it, so a year's statement held in memory does not set off its full collections."""

    line_no: int
    date: date
    amount_pence: int
    description: str
    account: str = ""
    reference: str = ""
    balance_pence: int | None = None
    fitid: str | None = None

    def identity(self, occurrence: int) -> str:
        if self.fitid:
            key = f"fitid|{self.account}|{self.fitid}"
        else:
            key = "|".join((self.account, self.date.isoformat(), str(self.amount_pence), self.description,
                            "" if self.balance_pence is None else str(self.balance_pence), str(occurrence)))
        return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Statement:
    format: str
    lines: list[Line]
    closing_balance_pence: int | None = None
    closing_date: date | None = None


_PLAIN_AMOUNT = re.compile(r"([-+]?)([0-9]{1,9})\.([0-9]{2})")


def _pence(text, line, column) -> int:
    raw = (text or "").strip().replace(",", "").replace("£", "")
    negative = raw.startswith("(") and raw.endswith(")")
    raw = raw.strip("()")
    if m := _PLAIN_AMOUNT.fullmatch(raw):  # the usual shape, read without a Decimal
        pence = int(m[2]) * 100 + int(m[3])
        return -pence if negative != (m[1] == "-") else pence
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise StatementRefused(line, column, f"not an amount of money: {text!r}") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")) or abs(value) >= 10 ** 9:
        raise StatementRefused(line, column, f"not an amount in pounds and pence: {text!r}")
    pence = int(value * 100)
    return -pence if negative else pence


def _optional_pence(text, line, column) -> int:
    return 0 if not (text or "").strip() else _pence(text, line, column)


_DAY_FIRST = re.compile(r"(\d{1,2})[/.\- ](\d{1,2}|[A-Za-z]{3})[/.\- ](\d{2}|\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                        "nov", "dec"), 1)}


@lru_cache(maxsize=4096)  # a year's statement writes at most a few hundred different days
def _day(raw: str) -> date | None:
    try:
        if m := _ISO.fullmatch(raw):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _DAY_FIRST.fullmatch(raw):
            month = _MONTHS.get(m[2].lower()) if m[2].isalpha() else int(m[2])
            year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
            if month is None:
                raise ValueError
            return date(year, month, int(m[1]))
    except ValueError:
        pass
    return None


def _date(text, line, column) -> date:
    raw = (text or "").strip()
    day = _day(raw)
    if day is None:
        raise StatementRefused(line, column, f"not a date read day first (dd/mm/yyyy) or ISO: {raw!r}")
    return day


def _sort_code(text) -> str:
    return (text or "").strip().lstrip("'").strip()


def _closing_from_balances(lines: list[Line]) -> tuple[int | None, date | None]:
    """The balance after the last line: the last of the latest day in the file's own order
    (Lloyds lists newest first)."""
    with_balance = [ln for ln in lines if ln.balance_pence is not None]
    if not with_balance:
        return None, None
    newest_first = len(with_balance) > 1 and with_balance[0].date > with_balance[-1].date
    last = with_balance[0] if newest_first else with_balance[-1]
    return last.balance_pence, last.date


# CSV layouts -------------------------------------------------------------------------------

def _norm(row) -> list[str]:
    return [c.strip().lower() for c in row]


LLOYDS = ["transaction date", "transaction type", "sort code", "account number", "transaction description",
          "debit amount", "credit amount", "balance"]
BARCLAYS = ["group", "acc id", "account no", "type", "bank code", "curr", "entry date", "as at", "amount",
            "tla code", "cheque no", "status", "description"]


def _generic(rows, header):
    cols = {name: i for i, name in enumerate(header)}
    two = "money in" in cols
    at = [cols.get(name) for name in ("date", "description", "amount", "money in", "money out", "balance")]
    # Each row read padded with blanks: a cell a short row lacks is blank, and so is a column the
    # file lacks (read as the last blank).
    cells = itemgetter(*(-1 if i is None else i for i in at))
    pad = [""] * (1 + max(i for i in at if i is not None))
    for n, row in rows:
        day, text, amount, money_in, money_out, balance = cells(row + pad)
        pence = (_optional_pence(money_in, n, "Money in") - _optional_pence(money_out, n, "Money out")
                 if two else _pence(amount, n, "Amount"))
        yield Line(n, _date(day, n, "Date"), pence, text.strip(),
                   balance_pence=_pence(balance, n, "Balance") if balance.strip() else None)


def _lloyds(rows):
    for n, row in rows:
        balance = row[7] if len(row) > 7 else ""
        yield Line(n, _date(row[0], n, "Transaction Date"),
                   _optional_pence(row[6], n, "Credit Amount") - _optional_pence(row[5], n, "Debit Amount"),
                   row[4].strip(), account=f"{_sort_code(row[2])} {row[3].strip()}",
                   balance_pence=_pence(balance, n, "Balance") if balance.strip() else None)


def _barclays(rows):
    for n, row in rows:
        yield Line(n, _date(row[6], n, "ENTRY DATE"), _pence(row[8], n, "AMOUNT"), row[12].strip(),
                   account=f"{_sort_code(row[4])} {row[2].strip()}", reference=row[10].strip())


def _natwest(rows):
    for n, row in rows:
        yield Line(n, _date(row[9], n, "Date"),
                   _optional_pence(row[17], n, "Credit") - _optional_pence(row[16], n, "Debit"),
                   row[10].strip(), account=f"{_sort_code(row[0])} {row[1].strip()}")


def _hsbc(rows):
    for n, row in rows:
        yield Line(n, _date(row[1], n, "Date"), _pence(row[3], n, "Amount"), row[4].strip(),
                   account=_sort_code(row[0]))


_HSBC_ACCOUNT = re.compile(r"'?\d{6}-\d{8}")


def _read_csv(text: str) -> Statement:
    all_rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), 1) if "".join(row).strip()]
    if not all_rows:
        raise StatementRefused(None, None, "the file has no lines")
    first = _norm(all_rows[0][1])
    if first[:8] == LLOYDS:
        fmt, lines = "lloyds", _lloyds(all_rows[1:])
    elif len(all_rows) > 1 and _norm(all_rows[1][1])[:13] == BARCLAYS:
        fmt, lines = "barclays", _barclays(all_rows[2:])
    elif len(first) >= 18 and first[:2] == ["sort code", "account number"]:
        fmt, lines = "natwest", _natwest(all_rows[1:])
    elif len(first) >= 6 and "sort code" in first[0] and "account" in first[0] and "currency" in first[2]:
        fmt, lines = "hsbc", _hsbc(all_rows[1:])
    elif len(first) >= 6 and _HSBC_ACCOUNT.fullmatch(all_rows[0][1][0].strip()):
        fmt, lines = "hsbc", _hsbc(all_rows)
    elif first[:3] == ["date", "description", "amount"] or first[:4] == ["date", "description", "money in",
                                                                          "money out"]:
        fmt, lines = "csv", _generic(all_rows[1:], first)
    else:
        raise StatementRefused(1, None, "not a statement layout this reads: OFX, camt.053, "
                                        "Date,Description,Amount, Date,Description,Money in,Money out, "
                                        "or a Lloyds, Barclays.Net, NatWest Bankline or HSBCnet export")
    try:
        out = []
        for ln in lines:
            out.append(ln)
            if len(out) > MAX_LINES:
                raise StatementRefused(ln.line_no, None, f"at most {MAX_LINES} lines in one file")
    except IndexError:
        raise StatementRefused(ln.line_no + 1 if out else None, None, "a line has too few columns") from None
    closing, closing_date = _closing_from_balances(out)
    return Statement(fmt, out, closing, closing_date)


# OFX and camt.053 --------------------------------------------------------------------------

def _read_ofx(data: bytes) -> Statement:
    from ofxtools.Parser import OFXTree

    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(data))
        ofx = tree.convert()
        stmts = ofx.statements
    except Exception as e:  # ofxtools raises many kinds of error for a bad file
        raise StatementRefused(None, None, f"not a valid OFX file: {str(e)[:200]}") from None
    lines, closing, closing_date = [], None, None
    for stmt in stmts:
        account = str(getattr(stmt.account, "acctid", "") or "")
        bankid = getattr(stmt.account, "bankid", None)
        account = f"{bankid} {account}" if bankid else account
        for trn in stmt.banktranlist or []:
            n = len(lines) + 1
            amount = Decimal(trn.trnamt)
            if amount != amount.quantize(Decimal("0.01")):
                raise StatementRefused(n, "TRNAMT", f"not an amount in pounds and pence: {amount}")
            lines.append(Line(n, trn.dtposted.date(), int(amount * 100),
                              " ".join(x for x in (trn.name, trn.memo) if x), account=account,
                              reference=str(trn.refnum or trn.checknum or ""), fitid=str(trn.fitid)))
            if len(lines) > MAX_LINES:
                raise StatementRefused(n, None, f"at most {MAX_LINES} lines in one file")
        if stmt.ledgerbal is not None:
            closing, closing_date = int(Decimal(stmt.ledgerbal.balamt) * 100), stmt.ledgerbal.dtasof.date()
    return Statement("ofx", lines, closing, closing_date)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el, *path):
    for name in path:
        if el is None:
            return None
        el = next((c for c in el if _local(c.tag) == name), None)
    return el


def _text(el, *path) -> str:
    found = _child(el, *path)
    return (found.text or "").strip() if found is not None else ""


def _read_camt(data: bytes) -> Statement:
    from defusedxml import ElementTree

    try:
        root = ElementTree.fromstring(data)
    except Exception as e:
        raise StatementRefused(None, None, f"not valid XML: {str(e)[:200]}") from None
    report = _child(root, "BkToCstmrStmt")
    if report is None:
        raise StatementRefused(None, None, "not a camt.053 statement (no BkToCstmrStmt)")
    lines, closing, closing_date = [], None, None
    for stmt in (c for c in report if _local(c.tag) == "Stmt"):
        account = _text(stmt, "Acct", "Id", "IBAN") or _text(stmt, "Acct", "Id", "Othr", "Id")
        for bal in (c for c in stmt if _local(c.tag) == "Bal"):
            if _text(bal, "Tp", "CdOrPrtry", "Cd") == "CLBD":
                pence = _pence(_text(bal, "Amt"), None, "Bal/Amt")
                closing = -pence if _text(bal, "CdtDbtInd") == "DBIT" else pence
                closing_date = _date(_text(bal, "Dt", "Dt") or _text(bal, "Dt", "DtTm")[:10], None, "Bal/Dt")
        for entry in (c for c in stmt if _local(c.tag) == "Ntry"):
            n = len(lines) + 1
            pence = _pence(_text(entry, "Amt"), n, "Amt")
            if _text(entry, "CdtDbtInd") not in ("CRDT", "DBIT"):
                raise StatementRefused(n, "CdtDbtInd", "must be CRDT or DBIT")
            when = _text(entry, "BookgDt", "Dt") or _text(entry, "BookgDt", "DtTm")[:10]
            tx = _child(entry, "NtryDtls", "TxDtls")
            description = " ".join(x for x in (_text(tx, "RmtInf", "Ustrd"), _text(entry, "AddtlNtryInf")) if x)
            lines.append(Line(n, _date(when, n, "BookgDt"), pence if _text(entry, "CdtDbtInd") == "CRDT" else -pence,
                              description, account=account,
                              reference=_text(tx, "Refs", "EndToEndId") or _text(entry, "NtryRef"),
                              fitid=_text(entry, "AcctSvcrRef") or None))
            if len(lines) > MAX_LINES:
                raise StatementRefused(n, None, f"at most {MAX_LINES} lines in one file")
    return Statement("camt.053", lines, closing, closing_date)


def read_statement(data: bytes) -> Statement:
    if len(data) > MAX_BYTES:
        raise StatementRefused(None, None, f"at most {MAX_BYTES // (1024 * 1024)} MB in one file")
    head = data[:2000].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.upper().startswith(b"OFXHEADER") or b"<OFX>" in head.upper() or b"<?OFX" in head.upper():
        return _read_ofx(data)
    if head.startswith(b"<"):
        return _read_camt(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # UK banks' exports are often Windows-1252
    return _read_csv(text)
