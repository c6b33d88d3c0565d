"""Dates that may be entered (domain.md "Dates that may be entered").

Money movements and deliveries are facts: a receipt, delivery, spend, contingency set-aside or
draw, clawback, fee refund or closing is dated on or before today (UK, `clock.today`), and never
before the person's fund opened. Plans, rate card entries, council rule changes and shared
arrangements (their versions and memberships) may start in the future, but a membership never
before the member's fund opened. Each refusal is a 422 naming the field, in the API and, through
the same functions, as a row error in an import.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from .. import clock
from ..errors import Invalid
from ..models import Fund


def refuse_future(day: date, field: str = "date", what: str = "money movements and deliveries") -> None:
    today = clock.today()
    if day > today:
        raise Invalid(field, f"{day.isoformat()} is after today ({today.isoformat()}): {what} are recorded "
                             "once they have happened")


def refuse_before_opening(day: date, opened_on: date | None, field: str = "date") -> None:
    if opened_on is not None and day < opened_on:
        raise Invalid(field, f"before the fund opened on {opened_on.isoformat()}; record the plan first")


def opened_on(session, person_id: int) -> date | None:
    return session.scalar(sa.select(Fund.opened_on).where(Fund.person_id == person_id))


def check_fact_date(session, person_id: int, day: date, field: str = "date") -> None:
    """A money movement's date: not after today, not before the fund opened. Checked before the
    fund's lock so a bad date is a 422 ahead of any 409; `opened_on` only moves earlier, so a date
    accepted here stays valid under the lock."""
    refuse_future(day, field)
    refuse_before_opening(day, opened_on(session, person_id), field)
