"""The management fee: the provider's only take from a fund besides charges for support it gave.

Each receipt bears ROUND_HALF_UP(amount x rate) at the rate of the plan in force on the
receipt's date (the provider's default where no plan is in force yet), unless it is fee-exempt.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from ..money import apply_rate
from .ledger import Entry
from .plans import DEFAULT_FEE_RATE, plan_on


def fee_rate_on(session, person_id: int, day: date) -> Decimal:
    plan = plan_on(session, person_id, day)
    return DEFAULT_FEE_RATE if plan is None else plan.management_fee_rate


def fee_on(amount_pence: int, rate: Decimal) -> int:
    return apply_rate(amount_pence, rate)


def fee_entry(person_id: int, day: date, fee_pence: int, fund: dict, provider: dict, what: str,
              follows: Entry | None = None) -> Entry:
    """The fee leaves the fund as the provider's income, and the money moves from the client
    money account to the provider's own bank, so client money still equals the sum of funds."""
    return Entry(kind="fee", date=day, person_id=person_id, description=f"Management fee on {what}", follows=follows,
                 legs=[(fund["available"], -fee_pence), (provider["fee_income"], fee_pence),
                       (provider["client_money"], fee_pence), (provider["provider_bank"], -fee_pence)])
