"""The books in the accountants' own plain-text tools: Beancount (`bean-check`) and the Ledger
format (ledger-cli, and `hledger check`).

Every account of the period, one per fund pot (`Liabilities:Funds:P0001:Available`, the person's
id, their name and council in the account's metadata); balances brought forward when the period
starts after the first posting; every transaction with its kind, its reference, the transaction
it reverses and its reason as metadata; and at each month end a balance assertion for every
fund pot and the client money account, which the tools check against their own sums.

Written as a stream of text chunks: the transactions are read once, in date order, and the
month-end balances kept as they go, so the size of the books costs time, not memory.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from .. import clock
from ..money import format_pence
from .books import (CURRENCY, BookAccount, BookTransaction, book_accounts, brought_forward, first_posting_date,
                    last_posting_date, stream_transactions)
from ..clock import month_end, next_month

FORMATS = ("beancount", "ledger")
MEDIA_TYPES = {"beancount": "text/plain; charset=utf-8", "ledger": "text/plain; charset=utf-8"}
EXTENSIONS = {"beancount": "beancount", "ledger": "journal"}


def bean_string(text: str) -> str:
    """A Beancount string literal: backslash, quote and line breaks escaped, any Unicode kept."""
    return '"' + (text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")
                  .replace("\n", "\\n")) + '"'


def ledger_comment_value(text: str) -> str:
    """A value in a Ledger comment (which runs to the end of its line): only the line breaks and
    the backslash that escapes them need escaping."""
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def ledger_description(text: str) -> str:
    """A transaction's description on its first line, where `;` would start a comment (hledger):
    written as the full-width semicolon, and line breaks as spaces. The exact text is kept in
    the transaction's metadata where it differs."""
    return " ".join(text.replace(";", "\uff1b").split())


def _amount(pence: int) -> str:
    """Our credit-positive pence as the tools' debit-positive amount."""
    return f"{format_pence(-pence)} {CURRENCY}"


TAGS = ("transaction_id", "kind", "reference", "person_id", "fund_id", "reverses", "reason", "service_date",
        "description", "person_name", "council", "pot")


def _metadata(t: BookTransaction) -> list[tuple[str, str]]:
    out = [("transaction_id", str(t.id)), ("kind", t.kind)]
    if t.reference:
        out.append(("reference", t.reference))
    if t.person_id is not None:
        out.append(("person_id", str(t.person_id)))
    if t.reverses_id is not None:
        out.append(("reverses", str(t.reverses_id)))
    if t.reason:
        out.append(("reason", t.reason))
    if t.service_date != t.date:
        out.append(("service_date", t.service_date.isoformat()))
    return out


def _account_metadata(a: BookAccount) -> list[tuple[str, str]]:
    if a.is_pot:
        return [("person_id", str(a.person_id)), ("fund_id", str(a.fund_id)), ("person_name", a.person_name or ""),
                ("council", a.council or ""), ("pot", a.kind)]
    return [("description", a.description)]


class _Period:
    """What both formats need before the first transaction: the accounts, the dates, and the
    balances brought forward."""

    def __init__(self, session, start: date | None, end: date | None):
        self.accounts = book_accounts(session)
        self.by_id = {a.id: a for a in self.accounts}
        first = first_posting_date(session)
        self.carried = brought_forward(session, start) if start and first and start > first else {}
        self.start = start or first or end or clock.today()
        if end is not None and end < self.start:
            self.start = end  # books that end before their first posting: nothing in them
        last = last_posting_date(session, end)
        self.end = end or max(d for d in (last, self.start) if d)
        # Month ends worth asserting: from the first posting's month (or the period's) to the
        # last posting's or this month, however far back or ahead the period is asked for.
        self.first_check = max(self.start, first or self.start)
        self.last_check = min(self.end, month_end(max(d for d in (last, clock.today()) if d)))
        self.checked = [a for a in self.accounts if a.is_pot or a.kind == "client_money"]
        self.running = {a.id: self.carried.get(a.id, 0) for a in self.checked}
        self.transactions = stream_transactions(session, start, end)

    def month_ends(self) -> list[date]:
        out, m = [], month_end(self.first_check)
        while m <= self.last_check:
            out.append(m)
            m = month_end(next_month(m))
        if self.end <= self.last_check and (not out or out[-1] != self.end):
            out.append(self.end)  # the period's own last day, when it is not a month end
        return out

    def brought_forward_narration(self) -> str:
        return f"Balances brought forward at {(self.start - timedelta(days=1)).isoformat()}"

    def brought_forward_legs(self) -> list[tuple[int, int]]:
        """Every account's balance the day before the period, by account name; they sum to zero,
        as every transaction does."""
        return sorted(self.carried.items(), key=lambda kv: self.by_id[kv[0]].name)

    def add(self, t: BookTransaction) -> None:
        for account_id, pence in t.legs:
            if account_id in self.running:
                self.running[account_id] += pence

    def walk(self) -> Iterator[tuple[str, object]]:
        """('transaction', t) and ('balances', day) in the order the books must be written:
        each day's balances after that day's transactions."""
        ends = iter(self.month_ends())
        due = next(ends, None)
        for t in self.transactions:
            while due is not None and t.date > due:
                yield "balances", due
                due = next(ends, None)
            self.add(t)
            yield "transaction", t
        while due is not None:
            yield "balances", due
            due = next(ends, None)


def _header(p: _Period, comment: str) -> list[str]:
    return [f"{comment} isf-ledger: the client money books from {p.start.isoformat()} to {p.end.isoformat()}.",
            f"{comment} Amounts are in {CURRENCY}, debits positive: each fund pot is a liability to its person.", ""]


def beancount(session, start: date | None = None, end: date | None = None) -> Iterator[str]:
    p = _Period(session, start, end)
    opened = p.start.isoformat()
    out = _header(p, ";")
    out += ['option "title" "Client money: Individual Service Funds"', f'option "operating_currency" "{CURRENCY}"',
            "", f"{opened} commodity {CURRENCY}"]
    for a in p.accounts:
        out.append(f"{opened} open {a.name} {CURRENCY}")
        out += [f"  {key.replace('_', '-')}: {bean_string(value)}" for key, value in _account_metadata(a)]
    yield "\n".join(out) + "\n\n"
    if p.carried:
        yield _bean_transaction(p, p.start, p.brought_forward_narration(), [("kind", "brought_forward")],
                                p.brought_forward_legs())
    for what, item in p.walk():
        if what == "transaction":
            yield _bean_transaction(p, item.date, item.description or item.kind, _metadata(item), item.legs)
        else:
            # A Beancount balance is checked at the start of its day: the day after the month end;
            # to the penny (`~ 0.00`: by default Beancount lets a balance be a penny out).
            day = (item + timedelta(days=1)).isoformat()
            yield "".join(f"{day} balance {p.by_id[aid].name}  {format_pence(-pence)} ~ 0.00 {CURRENCY}\n"
                          for aid, pence in p.running.items()) + "\n"


def _bean_transaction(p: _Period, day: date, narration: str, metadata, legs) -> str:
    lines = [f"{day.isoformat()} * {bean_string(narration)}"]
    lines += [f"  {key.replace('_', '-')}: {bean_string(value)}" for key, value in metadata]
    lines += [f"  {p.by_id[aid].name}  {_amount(pence)}" for aid, pence in legs]
    return "\n".join(lines) + "\n\n"


def ledger(session, start: date | None = None, end: date | None = None) -> Iterator[str]:
    p = _Period(session, start, end)
    out = _header(p, ";")
    out += [f"commodity {CURRENCY}", f"    format 1000.00 {CURRENCY}", ""]
    out += [f"tag {key}" for key in TAGS] + [""]  # declared, so `ledger --pedantic` accepts them
    for a in p.accounts:
        out.append(f"account {a.name}")
        out += [f"    ; {key}: {ledger_comment_value(value)}" for key, value in _account_metadata(a)]
    yield "\n".join(out) + "\n\n"
    if p.carried:
        yield _ledger_transaction(p, p.start, None, p.brought_forward_narration(), [("kind", "brought_forward")],
                                  p.brought_forward_legs())
    for what, item in p.walk():
        if what == "transaction":
            metadata = _metadata(item)
            description = ledger_description(item.description or item.kind)
            if item.description and description != item.description:
                metadata.append(("description", item.description))
            yield _ledger_transaction(p, item.date, item.id, description, metadata, item.legs)
        else:
            lines = [f"{item.isoformat()} Month-end balances"]
            lines += [f"    {p.by_id[aid].name}  0 {CURRENCY} = {_amount(pence)}" for aid, pence in p.running.items()]
            yield "\n".join(lines) + "\n\n"


def _ledger_transaction(p: _Period, day: date, code: int | None, description: str, metadata, legs) -> str:
    lines = [f"{day.isoformat()} * " + (f"({code}) " if code is not None else "") + description]
    lines += [f"    ; {key}: {ledger_comment_value(value)}" for key, value in metadata]
    lines += [f"    {p.by_id[aid].name}  {_amount(pence)}" for aid, pence in legs]
    return "\n".join(lines) + "\n\n"


WRITERS = {"beancount": beancount, "ledger": ledger}


def in_blocks(chunks: Iterator[str], size: int = 1 << 16) -> Iterator[bytes]:
    """The text as UTF-8 in blocks of about `size` bytes: a write per block, not per line."""
    block, held = [], 0
    for chunk in chunks:
        data = chunk.encode("utf-8")
        block.append(data)
        held += len(data)
        if held >= size:
            yield b"".join(block)
            block, held = [], 0
    if block:
        yield b"".join(block)
