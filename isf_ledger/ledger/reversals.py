"""Corrections: a posted transaction is never changed; a reversal that points at it undoes it, once.

Transactions that belong together (a receipt and its fee; a delivery and its charge) are
reversed together: reversing the first reverses every transaction that follows it, and a
follower cannot be reversed alone. A capability that keeps rows beside its transactions (a
delivery's hours) registers a hook to hear of the reversal in the same database transaction.
"""
from __future__ import annotations

from datetime import date
from typing import Callable

import sqlalchemy as sa

from ..errors import Conflict, Invalid
from .post import Entry, lock_funds, post, reversing_entry
from ..models import Transaction

# kind -> called with (session, the reversed transaction, its reversal entry, user_id)
_AFTER_REVERSAL: dict[str, Callable] = {}


def after_reversal(kind: str):
    def register(fn: Callable) -> Callable:
        _AFTER_REVERSAL[kind] = fn
        return fn
    return register


def reverse(session, txn: Transaction, *, reason: str, day: date | None = None,
            user_id: int | None = None) -> list[Entry]:
    """Reverse a transaction and every transaction that follows it. Returns the reversals
    posted, the one for `txn` first."""
    if day is not None and day < txn.service_date:
        raise Invalid("date", f"a reversal cannot be dated before the item it reverses ({txn.service_date})")
    if txn.follows_id is not None:
        first = session.get(Transaction, txn.follows_id)
        raise Conflict(f"a {txn.kind} is reversed together with the {first.kind} it belongs to: "
                       f"reverse transaction {first.id}", {f"{first.kind}_transaction_id": first.id},
                       code=f"reverse_the_{first.kind}")
    funds = lock_funds(session, [txn.person_id] if txn.person_id is not None else [])
    followers = session.scalars(sa.select(Transaction).where(Transaction.follows_id == txn.id)
                                .order_by(Transaction.id))
    entries = [reversing_entry(session, t, reason, day) for t in [txn, *followers]]
    posted = post(session, entries, funds, user_id)
    hook = _AFTER_REVERSAL.get(txn.kind)
    if hook is not None:
        hook(session, txn, posted[0], user_id)
    return posted
