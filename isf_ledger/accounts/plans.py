"""Support plans: versioned and effective-dated; the version in force on a date decides."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from ..errors import Invalid
from ..money import format_decimal
from .ledger import lock_funds
from .models import BudgetLine, PlanVersion

DEFAULT_FEE_RATE = Decimal("0.10")
# Lancashire's six outcome domains: every budget line, charge and spend names one.
DOMAINS = ("staying_safe", "communication", "work_leisure_learning", "essential_living_tasks",
           "personal_care", "health")
PAYMENTS_A_YEAR = {"four_weekly": 13, "monthly": 12, "weekly": 52}


def add_plan(session, person_id: int, *, effective_from: date, annual_budget_pence: int,
             effective_to: date | None = None, payment_cycle: str | None = None,
             management_fee_rate: Decimal = DEFAULT_FEE_RATE, contingency_amount_pence: int = 0,
             weekly_client_contribution_pence: int = 0, planned_weekly_hours: dict | None = None,
             rate_overrides: dict | None = None, budget_lines: list[dict] | None = None,
             user_id: int | None = None, **rules) -> PlanVersion:
    """Record a new plan version. Earlier versions stay as they were; from `effective_from` on
    this one is in force (until `effective_to`, or until a later version starts)."""
    if effective_to is not None and effective_to < effective_from:
        raise Invalid("effective_to", "must be on or after effective_from")
    if weekly_client_contribution_pence * 52 > annual_budget_pence:
        raise Invalid("weekly_client_contribution", "a year of contributions exceeds the annual budget")
    lock_funds(session, [person_id])  # versions are numbered one at a time, and never for a closed fund
    version = 1 + (session.scalar(sa.select(sa.func.max(PlanVersion.version))
                                  .where(PlanVersion.person_id == person_id)) or 0)
    plan = PlanVersion(person_id=person_id, version=version, effective_from=effective_from,
                       effective_to=effective_to, annual_budget_pence=annual_budget_pence,
                       payment_cycle=payment_cycle, management_fee_rate=management_fee_rate,
                       contingency_amount_pence=contingency_amount_pence,
                       weekly_client_contribution_pence=weekly_client_contribution_pence,
                       planned_weekly_hours={k: format_decimal(v) for k, v in (planned_weekly_hours or {}).items()},
                       rate_overrides={k: format_decimal(v) for k, v in (rate_overrides or {}).items()},
                       created_by=user_id, **rules)
    session.add(plan)
    session.flush()
    for line in budget_lines or []:
        session.add(BudgetLine(plan_id=plan.id, domain=line["domain"], outcome=line["outcome"],
                               annual_amount_pence=line["annual_amount_pence"]))
    session.flush()
    session.refresh(plan)
    return plan


def plans_of(session, person_id: int) -> list[PlanVersion]:
    return list(session.scalars(sa.select(PlanVersion).where(PlanVersion.person_id == person_id)
                                .order_by(PlanVersion.effective_from, PlanVersion.version)))


def windows(plans: list[PlanVersion]) -> list[tuple[PlanVersion, date, date | None]]:
    """Each version with the days it is in force: from its start until its own end, or the day
    before a later version starts (a later version with the same start replaces it)."""
    out = []
    for plan, following in zip(plans, plans[1:] + [None]):
        end = plan.effective_to
        if following is not None:
            if following.effective_from <= plan.effective_from:
                continue  # replaced from its first day by a later version
            day_before = following.effective_from - timedelta(days=1)
            end = day_before if end is None else min(end, day_before)
        out.append((plan, plan.effective_from, end))
    return out


def in_force(plan_windows, day: date) -> PlanVersion | None:
    """The version whose window holds the day, from `windows`."""
    for plan, start, end in plan_windows:
        if start <= day and (end is None or day <= end):
            return plan
    return None


def plan_on(session, person_id: int, day: date) -> PlanVersion | None:
    return in_force(windows(plans_of(session, person_id)), day)


def plan_year_start(session, person_id: int, day: date) -> date | None:
    """Plan years run twelve months at a time from the first plan's effective_from."""
    first = session.scalar(sa.select(sa.func.min(PlanVersion.effective_from))
                           .where(PlanVersion.person_id == person_id))
    if first is None or day < first:
        return None
    years = ((day.year - first.year) * 12 + (day.month - first.month)) // 12
    start = add_months(first, 12 * years)
    return start if start <= day else add_months(first, 12 * (years - 1))


def add_months(d: date, n: int) -> date:
    """The same day n months on, or the month's last day when it has no such day."""
    from calendar import monthrange

    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, monthrange(year, month)[1]))
