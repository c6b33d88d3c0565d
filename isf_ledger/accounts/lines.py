"""A fund's ledger lines with their postings, in three queries however many lines there are.

Statements, review packs and the API's ledger read lines from here.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from .models import Account, Posting, Transaction


def ledger_lines(session, person_id: int | None = None, *, start: date | None = None, end: date | None = None,
                 transaction_ids: list[int] | None = None) -> list[dict]:
    """A fund's transactions by accounting date (between `start` and `end`, both included), or the
    transactions named, each with its postings (account code and pence) and what reversed it."""
    reversal = aliased(Transaction)
    q = (sa.select(Transaction, reversal.id.label("reversed_by"))
         .outerjoin(reversal, reversal.reverses_id == Transaction.id))
    if person_id is not None:
        q = q.where(Transaction.person_id == person_id)
    if transaction_ids is not None:
        q = q.where(Transaction.id.in_(transaction_ids))
    if start is not None:
        q = q.where(Transaction.date >= start)
    if end is not None:
        q = q.where(Transaction.date <= end)
    rows = session.execute(q.order_by(Transaction.date, Transaction.id)).all()
    if not rows:
        return []
    wanted = sa.select(Transaction.id).where(Transaction.id.in_([t.id for t, _ in rows]))
    legs: dict[int, list[dict]] = {}
    for txn_id, code, pence in session.execute(
            sa.select(Posting.transaction_id, Account.code, Posting.amount_pence)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.transaction_id.in_(wanted)).order_by(Posting.id)):
        legs.setdefault(txn_id, []).append({"account": code, "amount": pence})
    return [{"id": t.id, "kind": t.kind, "date": t.date, "service_date": t.service_date,
             "person_id": t.person_id, "description": t.description, "reverses_id": t.reverses_id,
             "follows_id": t.follows_id, "reversed_by": reversed_by, "reason": t.reason,
             "created_at": t.created_at, "postings": legs.get(t.id, [])} for t, reversed_by in rows]
