"""Corrections: a posted transaction is never changed; a reversal that points at it undoes it, once."""
from __future__ import annotations

from datetime import date

from ..errors import Conflict, Invalid
from .ledger import Entry, lock_funds, post, reversing_entry
from .models import Transaction
from .receipts import receipt_for


def reverse(session, txn: Transaction, *, reason: str, day: date | None = None,
            user_id: int | None = None) -> list[Entry]:
    """Reverse a transaction, and with a receipt the fee it bore. Returns the reversals posted,
    the one for `txn` first."""
    if day is not None and day < txn.service_date:
        raise Invalid("date", f"a reversal cannot be dated before the item it reverses ({txn.service_date})")
    receipt = receipt_for(session, txn.id)
    if receipt is not None and txn.id == receipt.fee_transaction_id:
        raise Conflict(f"a fee is reversed together with its receipt: reverse transaction {receipt.transaction_id}",
                       {"receipt_transaction_id": receipt.transaction_id}, code="reverse_the_receipt")
    funds = lock_funds(session, [txn.person_id] if txn.person_id is not None else [])
    targets = [txn]
    if receipt is not None and receipt.fee_transaction_id is not None:
        targets.append(session.get(Transaction, receipt.fee_transaction_id))
    entries = [reversing_entry(session, t, reason, day) for t in targets]
    return post(session, entries, funds, user_id)
