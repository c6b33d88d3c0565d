"""The provider's rate card: effective-dated prices per service, hour or night."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from ..errors import Conflict
from ..locks import lock_key
from .models import Rate

UNITS = ("hour", "night")


def add_rate(session, *, service: str, unit: str, rate: Decimal, effective_from: date,
             user_id: int | None = None) -> Rate:
    # Until the service's first entry commits there is no row to lock: without this, racing
    # first entries with different units would all see none and all land.
    lock_key(session, f"rate:{service}")
    known_unit = session.scalar(sa.select(Rate.unit).where(Rate.service == service).limit(1))
    if known_unit is not None and known_unit != unit:
        raise Conflict(f"{service} is charged per {known_unit}, not per {unit}",
                       {"unit": [f"{service} is charged per {known_unit}"]}, code="unit_mismatch")
    clash = session.scalar(sa.select(Rate).where(Rate.service == service, Rate.effective_from == effective_from))
    if clash is not None:
        raise Conflict(f"{service} already has a rate from {effective_from.isoformat()} ({clash.rate}); "
                       "rate entries are never rewritten: add one from another date",
                       {"effective_from": ["a rate for this service already starts on this date"]},
                       code="duplicate_rate")
    entry = Rate(service=service, unit=unit, rate=rate, effective_from=effective_from, created_by=user_id)
    session.add(entry)
    session.flush()
    return entry


def rate_card_on(session, service: str, day: date) -> Rate | None:
    """The rate card entry in force for a service on a day: the latest that started by then."""
    return session.scalar(sa.select(Rate).where(Rate.service == service, Rate.effective_from <= day)
                          .order_by(Rate.effective_from.desc()).limit(1))


def rate_on(session, service: str, day: date, plan=None) -> Decimal | None:
    """The price of one unit of a service on a day: the plan's override first, then the rate card."""
    if plan is not None and service in (plan.rate_overrides or {}):
        return Decimal(plan.rate_overrides[service])
    entry = rate_card_on(session, service, day)
    return None if entry is None else entry.rate
