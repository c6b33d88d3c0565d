"""The management fee: the provider's only take from a fund besides charges for support it gave.

Each receipt bears ROUND_HALF_UP(amount x rate) at the rate of the plan in force on the
receipt's date (the provider's default where no plan is in force yet), unless it is fee-exempt.

A fund never gets back more fee than it paid, net of reversals (domain.md "Receipts and the
management fee", "Underspend and clawback"): a fee refund is at most the fee paid so far
(clawback.record_fee_refund), and reversing a receipt, which gives its fee back, is refused
with 409 `fee_refunded` when that fee has already been refunded: the fund would hold money
that never came in. Reverse the fee refund first.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from ..errors import Conflict
from ..money import apply_rate, format_pence
from ..ledger.post import Entry
from ..models import Account, Posting, Transaction
from .plans import DEFAULT_FEE_RATE, plan_on
from .versions import in_force
from ..ledger.reversals import after_reversal


def fee_rate_of(plan) -> Decimal:
    """The fee rate of a plan version; the provider's default where no plan is in force. The one
    place this is decided (receipts, the demo, the statement's forecast)."""
    return DEFAULT_FEE_RATE if plan is None else plan.management_fee_rate


def fee_rate_in(plan_windows, day: date) -> Decimal:
    """The fee rate on a day, from plan windows already read (`versions.windows`)."""
    return fee_rate_of(in_force(plan_windows, day))


def fee_rate_on(session, person_id: int, day: date) -> Decimal:
    return fee_rate_of(plan_on(session, person_id, day))


def fee_on(amount_pence: int, rate: Decimal) -> int:
    return apply_rate(amount_pence, rate)


def fee_entry(person_id: int, day: date, fee_pence: int, fund: dict, provider: dict, what: str,
              follows: Entry | None = None) -> Entry:
    """The fee leaves the fund as the provider's income, and the money moves from the client
    money account to the provider's own bank, so client money still equals the sum of funds."""
    return Entry(kind="fee", date=day, person_id=person_id, description=f"Management fee on {what}", follows=follows,
                 legs=[(fund["available"], -fee_pence), (provider["fee_income"], fee_pence),
                       (provider["client_money"], fee_pence), (provider["provider_bank"], -fee_pence)])


def fee_taken(session, person_id: int) -> int:
    """The fee this fund has paid the provider, net of refunds and reversals."""
    q = (sa.select(sa.func.coalesce(sa.func.sum(Posting.amount_pence), 0))
         .join(Transaction, Transaction.id == Posting.transaction_id)
         .join(Account, Account.id == Posting.account_id)
         .where(Transaction.person_id == person_id, Account.kind == "fee_income"))
    return int(session.scalar(q))


@after_reversal("receipt")
def _refuse_giving_back_refunded_fee(session, txn, reversal: Entry, user_id) -> None:
    net = fee_taken(session, txn.person_id)
    if net < 0:
        raise Conflict(f"a fund never gets back more fee than it paid: this receipt's fee has been refunded, so "
                       f"reversing it would leave the fund's net fee paid at {format_pence(net)}. Reverse the fee "
                       "refund first", {"fee_paid": format_pence(net)}, code="fee_refunded")
