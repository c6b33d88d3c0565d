"""The provider's rate card: effective-dated prices per service, hour or night."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from ..errors import Conflict, Invalid
from ..locks import lock_key
from ..models import PlanVersion, Rate
from .versions import in_force, windows

UNITS = ("hour", "night")
# A unit rate is above zero and at most these (an hour of support, a night's sleep-in or
# waking night): far above any rate card in use, low enough that one mistyped figure cannot
# move a fortune out of a fund. For everyone, finance included, on the rate card and in a
# plan's rate_overrides.
MAX_RATE = {"hour": Decimal("250.00"), "night": Decimal("1000.00")}


def check_rate(field: str, service: str, unit: str, rate: Decimal) -> None:
    if not 0 < rate <= MAX_RATE[unit]:
        raise Invalid(field, f"{service}: a rate per {unit} is more than 0 and at most {MAX_RATE[unit]}")


def units_of(session, services) -> dict[str, str]:
    """Each service's unit on the rate card; a service priced only by a plan's override is by the hour."""
    known = dict(session.execute(sa.select(Rate.service, Rate.unit).where(Rate.service.in_(sorted(services)))
                                 .distinct()).all()) if services else {}
    return {s: known.get(s, "hour") for s in services}


def add_rate(session, *, service: str, unit: str, rate: Decimal, effective_from: date,
             user_id: int | None = None) -> Rate:
    check_rate("rate", service, unit, rate)
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


class RateBook:
    """The rates of many (person, service, day) questions from two queries, not one per question:
    the rate card for the services, and the people's plan versions (for their overrides)."""

    def __init__(self, session, services, person_ids):
        self.card: dict[str, list[tuple[date, Decimal]]] = {}
        self.units: dict[str, str] = {}
        for entry in session.scalars(sa.select(Rate).where(Rate.service.in_(sorted(set(services))))
                                     .order_by(Rate.service, Rate.effective_from)):
            self.card.setdefault(entry.service, []).append((entry.effective_from, entry.rate))
            self.units[entry.service] = entry.unit
        by_person: dict[int, list] = {}
        # The plans' budget lines are no rate's business: loaded only if something reads them
        # (a delivery's POST saved the query).
        for plan in session.scalars(sa.select(PlanVersion).where(PlanVersion.person_id.in_(sorted(set(person_ids))))
                                    .options(lazyload(PlanVersion.budget_lines))
                                    .order_by(PlanVersion.person_id, PlanVersion.effective_from, PlanVersion.version)):
            by_person.setdefault(plan.person_id, []).append(plan)
        self.windows = {pid: windows(plans) for pid, plans in by_person.items()}

    def plan(self, person_id: int, day: date):
        return in_force(self.windows.get(person_id, []), day)

    def unit(self, service: str) -> str:
        """Hour or night, as the rate card says; a service priced only by a plan's override is by the hour."""
        return self.units.get(service, "hour")

    def rate(self, person_id: int, service: str, day: date) -> Decimal | None:
        """As rate_on: the plan's override first, then the rate card entry in force on the day."""
        plan = self.plan(person_id, day)
        if plan is not None and service in (plan.rate_overrides or {}):
            return Decimal(plan.rate_overrides[service])
        found = None
        for start, rate in self.card.get(service, []):
            if start > day:
                break
            found = rate
        return found
