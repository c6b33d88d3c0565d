"""Receipts: money paid into a person's `available` pot, each bearing the management fee.

Nothing is received before the fund opened (`opened_on`: the day the person was entered, or the
earliest plan's start if earlier, see plans.py); such a receipt is refused, naming `date`.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from .dates import check_fact_date
from .fees import fee_entry, fee_on, fee_rate_on
from ..ledger.post import Entry, lock_funds, person_accounts, post, provider_accounts
from ..models import Receipt, Transaction

SOURCES = ("council", "health", "client_contribution", "other")
SOURCE_NAMES = {"council": "council payment", "health": "health funding",
                "client_contribution": "personal contribution", "other": "other income"}


def receipt_entries(person_id: int, day: date, amount_pence: int, source: str, reference: str | None,
                    fee_pence: int, fund: dict, provider: dict) -> list[Entry]:
    """A receipt's transactions: the money into `available`, then its fee (if any) as its own."""
    what = SOURCE_NAMES[source] + (f" {reference}" if reference else "")
    entries = [Entry(kind="receipt", date=day, person_id=person_id, description=f"Received: {what}",
                     legs=[(provider["client_money"], -amount_pence), (fund["available"], amount_pence)])]
    if fee_pence:
        entries.append(fee_entry(person_id, day, fee_pence, fund, provider, what, follows=entries[0]))
    return entries


def record_receipt(session, person_id: int, *, date: date, amount_pence: int, source: str,
                   reference: str | None = None, fee_exempt: bool = False,
                   user_id: int | None = None) -> Receipt:
    check_fact_date(session, person_id, date)
    funds = lock_funds(session, [person_id])
    fund, provider = person_accounts(session, person_id), provider_accounts(session)
    rate = fee_rate_on(session, person_id, date)
    fee = 0 if fee_exempt else fee_on(amount_pence, rate)
    entries = receipt_entries(person_id, date, amount_pence, source, reference, fee, fund, provider)
    receipt = entries[0]
    post(session, entries, funds, user_id)
    row = Receipt(person_id=person_id, date=date, amount_pence=amount_pence, source=source,
                  reference=reference, fee_exempt=fee_exempt, fee_rate=rate, fee_pence=fee,
                  transaction_id=receipt.posted_id, fee_transaction_id=entries[1].posted_id if fee else None)
    session.add(row)
    session.flush()
    return row


def receipts_of(session, person_id: int) -> list[tuple[Receipt, int | None]]:
    """A fund's receipts by date, each with the transaction that reversed it (if any): one query
    however many there are."""
    reversal = aliased(Transaction)
    q = (sa.select(Receipt, reversal.id).outerjoin(reversal, reversal.reverses_id == Receipt.transaction_id)
         .where(Receipt.person_id == person_id).order_by(Receipt.date, Receipt.id))
    return [tuple(r) for r in session.execute(q)]
