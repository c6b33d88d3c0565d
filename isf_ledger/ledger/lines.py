"""A fund's ledger lines with their postings, in three queries however many lines there are.

Statements, review packs and the API's ledger read lines from here.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..models import Account, Posting, Transaction


def ledger_lines(session, person_id: int | None = None, *, start: date | None = None, end: date | None = None,
                 transaction_ids: list[int] | None = None) -> list[dict]:
    """A fund's transactions by accounting date (between `start` and `end`, both included), or the
    transactions named, each with its postings (account code and pence) and what reversed it."""
    reversal = aliased(Transaction)
    t = Transaction
    # Plain rows, not ORM objects: a year of lines is hundreds of them.
    q = (sa.select(t.id, t.kind, t.date, t.service_date, t.person_id, t.description, t.reverses_id,
                   t.follows_id, reversal.id.label("reversed_by"), t.reason, t.created_at)
         .outerjoin(reversal, reversal.reverses_id == Transaction.id))
    which = []
    if person_id is not None:
        which.append(Transaction.person_id == person_id)
    if transaction_ids is not None:
        which.append(Transaction.id.in_(transaction_ids))
    if start is not None:
        which.append(Transaction.date >= start)
    if end is not None:
        which.append(Transaction.date <= end)
    rows = session.execute(q.where(*which).order_by(Transaction.date, Transaction.id)).all()
    if not rows:
        return []
    legs: dict[int, list[dict]] = {}
    for txn_id, code, pence in session.execute(
            sa.select(Posting.transaction_id, Account.code, Posting.amount_pence)
            .join(Transaction, Transaction.id == Posting.transaction_id)
            .join(Account, Account.id == Posting.account_id)
            .where(*which).order_by(Posting.id)):
        legs.setdefault(txn_id, []).append({"account": code, "amount": pence})
    return [{**r._asdict(), "postings": legs.get(r.id, [])} for r in rows]
