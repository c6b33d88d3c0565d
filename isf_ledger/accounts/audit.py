"""The self-audit: re-derive what the ledger keeps and check every invariant, from the database.

Each check returns the problems it found as sentences; an empty list means the books hold.
"""
from __future__ import annotations

import sqlalchemy as sa

from .fees import fee_on
from .models import Account, AccountMonth, Posting, Receipt, Transaction
from .reconciliation import reconcile


def _month_of(session, column):
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.date_trunc("month", column), sa.Date)
    return sa.func.date(column, "start of month")


def unbalanced_transactions(session) -> list[str]:
    q = (sa.select(Posting.transaction_id, sa.func.sum(Posting.amount_pence), sa.func.count())
         .group_by(Posting.transaction_id)
         .having(sa.or_(sa.func.sum(Posting.amount_pence) != 0, sa.func.count() < 2)))
    return [f"transaction {t}: {n} postings summing to {s} pence" for t, s, n in session.execute(q)]


def headerless_postings(session) -> list[str]:
    q = (sa.select(Posting.transaction_id).outerjoin(Transaction, Transaction.id == Posting.transaction_id)
         .where(Transaction.id.is_(None)).distinct())
    return [f"postings of transaction {t} have no header" for t in session.scalars(q)]


def misdated_postings(session) -> list[str]:
    q = (sa.select(Posting.id, Posting.transaction_id).join(Transaction, Transaction.id == Posting.transaction_id)
         .where(Posting.date != Transaction.date))
    return [f"posting {p} is dated apart from its transaction {t}" for p, t in session.execute(q)]


def cross_fund_transactions(session) -> list[str]:
    q = (sa.select(Posting.transaction_id).join(Account, Account.id == Posting.account_id)
         .where(Account.person_id.is_not(None)).group_by(Posting.transaction_id)
         .having(sa.func.count(sa.distinct(Account.person_id)) > 1))
    return [f"transaction {t} moves money between two people's funds" for t in session.scalars(q)]


def checkpoint_drift(session) -> list[str]:
    month = _month_of(session, Posting.date)
    derived = {(a, m if not isinstance(m, str) else m): int(s) for a, m, s in session.execute(
        sa.select(Posting.account_id, month, sa.func.sum(Posting.amount_pence)).group_by(Posting.account_id, month))}
    derived = {(a, str(m)[:10]): s for (a, m), s in derived.items()}
    kept = {(a, str(m)[:10]): int(s) for a, m, s in session.execute(
        sa.select(AccountMonth.account_id, AccountMonth.month, AccountMonth.net_pence))}
    out = []
    for key in sorted(set(derived) | set(kept)):
        if derived.get(key, 0) != kept.get(key, 0):
            out.append(f"account {key[0]} in {key[1][:7]}: checkpoint {kept.get(key, 0)} pence, "
                       f"postings {derived.get(key, 0)} pence")
    return out


def wrong_fees(session) -> list[str]:
    out = []
    for r in session.scalars(sa.select(Receipt)):
        want = 0 if r.fee_exempt else fee_on(r.amount_pence, r.fee_rate)
        if r.fee_pence != want:
            out.append(f"receipt {r.id}: fee {r.fee_pence} pence, the rate gives {want}")
        if (r.fee_transaction_id is None) != (r.fee_pence == 0):
            out.append(f"receipt {r.id}: fee transaction missing or unexpected")
    return out


def unreconciled(session) -> list[str]:
    r = reconcile(session)
    if r["reconciles"]:
        return []
    return [f"client money held {r['client_money_held']} pence, funds total {r['funds_total']} pence"]


CHECKS = {
    "every transaction balances": unbalanced_transactions,
    "every posting has its transaction": headerless_postings,
    "postings carry their transaction's date": misdated_postings,
    "no transaction moves money between funds": cross_fund_transactions,
    "monthly checkpoints equal the postings": checkpoint_drift,
    "every receipt bore the right fee": wrong_fees,
    "client money equals the sum of funds": unreconciled,
}


def audit(session) -> dict[str, list[str]]:
    return {name: check(session) for name, check in CHECKS.items()}
