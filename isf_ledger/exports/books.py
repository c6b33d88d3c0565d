"""The books of a period as the exports read them: every account, the balances brought forward,
and every transaction with its postings, streamed in date order (domain.md "Exports for
accountants and finance systems").

A handful of queries whatever the size of the books: the accounts (one row each), the balances
brought forward (from the monthly checkpoints), and one streamed join of the period's postings
with their transactions and the references kept beside them (receipts, spend, clawbacks,
closings). No posting becomes an ORM object.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..ledger.post import balances
from ..models import Account, Clawback, Council, Fund, FundClosing, Person, Posting, Receipt, Spend, Transaction
from ..errors import Invalid

# Our accounts as an accountant's chart: client money and the provider's bank are assets, each
# fund pot is a liability to its person, the fee, support charges and shared support are the
# provider's income, empty places it bears are an expense, and voids a council funds are owed
# to it. A posting's positive pence is a credit (models.Posting), so the tools' signed amount
# (debit positive) is minus ours.
PROVIDER_NAMES = {
    "client_money": "Assets:ClientMoney",
    "provider_bank": "Assets:ProviderBank",
    "council_voids": "Assets:DueFromCouncils:Voids",
    "council_refunds": "Liabilities:DueToCouncils",
    "third_parties": "Liabilities:DueToThirdParties",
    "fee_income": "Income:ManagementFees",
    "support_income": "Income:SupportCharges",
    "interest_income": "Income:BankInterest",
    "void": "Expenses:EmptyPlaces",
}
POT_NAMES = {"available": "Available", "contingency": "Contingency"}
OPENING = "Equity:OpeningBalances"
CURRENCY = "GBP"


@dataclass(frozen=True)
class BookAccount:
    id: int
    kind: str
    name: str  # the tools' account name, e.g. Liabilities:Funds:P0001:Available
    person_id: int | None
    person_name: str | None
    council: str | None
    description: str  # our own name of the account
    fund_id: int | None = None

    @property
    def is_pot(self) -> bool:
        return self.person_id is not None


@dataclass(frozen=True)
class BookTransaction:
    id: int
    kind: str
    date: date
    service_date: date
    person_id: int | None
    description: str
    reverses_id: int | None
    reason: str | None
    reference: str | None
    legs: tuple[tuple[int, int], ...]  # (account id, pence), positive a credit


def account_name(kind: str, code: str, person_id: int | None) -> str:
    """A fund pot is named by the person's id, the id the API knows the fund by
    (`/api/v1/people/{id}/balance`): P0001 is person 1's fund."""
    if person_id is not None:
        return f"Liabilities:Funds:P{person_id:04d}:{POT_NAMES.get(kind, kind.title())}"
    if kind == "shared_arrangement":  # code "arrangement:ID"
        return f"Income:SharedSupport:A{int(code.rsplit(':', 1)[1]):04d}"
    return PROVIDER_NAMES.get(kind, "Equity:Other:" + "".join(w.title() for w in kind.split("_")))


def parse_period(start: str | date | None, end: str | date | None) -> tuple[date | None, date | None]:
    """`from` and `to` as dates (either may be left out); a bad one is a 422 naming it."""
    out = []
    for field, value in (("from", start), ("to", end)):
        if value is None or value == "" or isinstance(value, date):
            out.append(value or None)  # `?from=&to=`: left out
            continue
        try:
            if len(value) != 10:
                raise ValueError
            out.append(date.fromisoformat(value))
        except ValueError:
            raise Invalid(field, "give the date as YYYY-MM-DD, e.g. 2026-10-01") from None
    if out[0] and out[1] and out[1] < out[0]:
        raise Invalid("to", f"before from ({out[0].isoformat()})")
    return out[0], out[1]


def book_accounts(session) -> list[BookAccount]:
    """Every account, each with its person and council where it is a fund pot; by name."""
    rows = session.execute(
        sa.select(Account.id, Account.kind, Account.code, Account.person_id, Account.name, Person.name, Council.name,
                  Fund.id)
        .outerjoin(Person, Person.id == Account.person_id).outerjoin(Council, Council.id == Person.council_id)
        .outerjoin(Fund, Fund.person_id == Account.person_id))
    out = [BookAccount(aid, kind, account_name(kind, code, pid), pid, pname, council, name, fund_id)
           for aid, kind, code, pid, name, pname, council, fund_id in rows]
    return sorted(out, key=lambda a: a.name)


def first_posting_date(session) -> date | None:
    return session.scalar(sa.select(sa.func.min(Posting.date)))


def last_posting_date(session, end: date | None) -> date | None:
    q = sa.select(sa.func.max(Posting.date))
    return session.scalar(q if end is None else q.where(Posting.date <= end))


def brought_forward(session, start: date | None) -> dict[int, int]:
    """Each account's balance at the end of the day before `start` (nothing when no start)."""
    if start is None:
        return {}
    return {a: p for a, p in balances(session, None, as_of=start - timedelta(days=1)).items() if p}


def _references():
    """The reference a transaction carries: its receipt's (a fee its receipt's), its spend's
    invoice, its clawback's or its closing's; a reversal the reference of what it reverses."""
    fee_of = aliased(Receipt)
    candidates = [
        sa.select(Receipt.transaction_id.label("tid"), Receipt.reference.label("ref")),
        sa.select(fee_of.fee_transaction_id, fee_of.reference).where(fee_of.fee_transaction_id.is_not(None)),
        sa.select(Spend.transaction_id, Spend.invoice_reference),
        sa.select(Clawback.transaction_id, Clawback.reference),
        sa.select(FundClosing.transaction_id, FundClosing.reference).where(FundClosing.transaction_id.is_not(None)),
    ]
    found = sa.union_all(*candidates).subquery("found")
    # One row a transaction whatever is found, so no leg is ever read twice.
    return sa.select(found.c.tid, sa.func.min(found.c.ref).label("ref")).group_by(found.c.tid).subquery("refs")


def stream_transactions(session, start: date | None, end: date | None, batch: int = 2000):
    """The period's transactions in date order (then id), with their legs, read as one streamed
    query of plain rows."""
    refs = _references()
    own = aliased(refs)
    theirs = aliased(refs)
    q = (sa.select(Transaction.id, Transaction.kind, Transaction.date, Transaction.service_date,
                   Transaction.person_id, Transaction.description, Transaction.reverses_id, Transaction.reason,
                   sa.func.coalesce(own.c.ref, theirs.c.ref), Posting.account_id, Posting.amount_pence)
         .join(Posting, Posting.transaction_id == Transaction.id)
         .outerjoin(own, own.c.tid == Transaction.id)
         .outerjoin(theirs, theirs.c.tid == Transaction.reverses_id)
         .order_by(Transaction.date, Transaction.id, Posting.id))
    if start is not None:
        q = q.where(Transaction.date >= start)
    if end is not None:
        q = q.where(Transaction.date <= end)
    rows = session.execute(q.execution_options(yield_per=batch))
    for tid, group in groupby(rows, key=lambda r: r[0]):
        group = list(group)
        r = group[0]
        yield BookTransaction(tid, r[1], r[2], r[3], r[4], r[5] or "", r[6], r[7], r[8],
                              tuple((g[9], int(g[10])) for g in group))
