"""Support plans: versioned and effective-dated; the version in force on a date decides.

The contingency is within the annual budget, not on top of it: the council pays it with the
budget (domain.md, Contingency), so budget lines plus contingency may not exceed the budget.
A version never replaces another: one starting on the same day as an earlier one is refused.

The fund opens at the earliest plan's effective_from: people are often entered after their plan
began, so a plan dated before the fund's `opened_on` moves `opened_on` back to its start. It only
ever moves earlier (the funds table's guard must allow exactly that); receipts dated before it
are refused (receipts.py).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from ..clock import plan_year_of
from ..db import among
from ..errors import Conflict, Invalid
from ..money import format_decimal, format_pence
from ..ledger.post import lock_funds
from ..models import BudgetLine, PlanService, PlanVersion
from .rates import check_rate, units_of
from .versions import in_force, windows  # noqa: F401 - read from here too

DEFAULT_FEE_RATE = Decimal("0.10")
# The fee is at most half of what comes in, for everyone; what the fund pays the provider is
# finance's to agree, as are prices other than the rate card's: a broker's plan version keeps
# the terms in force (carry_finance_terms; api/plans.py refuses these fields from a broker with 403).
MAX_FEE_RATE = Decimal("0.50")
FINANCE_ONLY = ("management_fee_rate", "rate_overrides")
# Lancashire's six outcome domains: every budget line, charge and spend names one.
DOMAINS = ("staying_safe", "communication", "work_leisure_learning", "essential_living_tasks",
           "personal_care", "health")
PAYMENTS_A_YEAR = {"four_weekly": 13, "monthly": 12, "weekly": 52}
MAX_ENTRIES = 50  # budget lines, and services in planned hours or rate overrides: checked here too, whoever calls


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
    _check_sizes(budget_lines, planned_weekly_hours, rate_overrides)
    _check_rates(session, management_fee_rate, rate_overrides)
    _check_within_budget(annual_budget_pence, contingency_amount_pence, budget_lines)
    fund = lock_funds(session, [person_id])[person_id]  # versions numbered one at a time, never for a closed fund
    if session.scalar(sa.select(PlanVersion.version).where(PlanVersion.person_id == person_id,
                                                           PlanVersion.effective_from == effective_from)) is not None:
        raise Conflict(f"a plan version already starts on {effective_from.isoformat()}; versions are never "
                       "replaced: start the new one on another day",
                       {"effective_from": ["a plan version already starts on this day"]},
                       code="duplicate_plan_version")
    if effective_from < fund.opened_on:
        fund.opened_on = effective_from  # earlier only: the fund opens with its first plan
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
    # Beside the JSON (what the plan said), exact hundredths that SQL can sum for hours against the plan.
    for service, hours in (planned_weekly_hours or {}).items():
        session.add(PlanService(plan_id=plan.id, service=service,
                                weekly_hundredths=int((Decimal(hours) * 100).to_integral_exact())))
    session.flush()
    session.refresh(plan)
    return plan


def carry_finance_terms(session, person_id: int, args: dict) -> dict:
    """A version from someone who may not set FINANCE_ONLY keeps finance's terms: the fee rate and
    rate overrides of the version in force on its first day (else the person's latest), so a
    broker's new version never quietly resets them to the default and re-prices charged support."""
    start = args["effective_from"]
    q = sa.select(PlanVersion).where(PlanVersion.person_id == person_id)
    before = session.scalars(q.where(PlanVersion.effective_from <= start)
                             .order_by(PlanVersion.effective_from.desc(), PlanVersion.version.desc()).limit(1)).first()
    basis = before or session.scalars(q.order_by(PlanVersion.effective_from.desc(),
                                                 PlanVersion.version.desc()).limit(1)).first()
    if basis is None:
        return args
    return {**args, "management_fee_rate": basis.management_fee_rate,
            "rate_overrides": {k: Decimal(v) for k, v in (basis.rate_overrides or {}).items()}}


def _check_sizes(budget_lines, planned_weekly_hours, rate_overrides) -> None:
    for field, value, what in (("budget_lines", budget_lines, "budget lines"),
                               ("planned_weekly_hours", planned_weekly_hours, "services"),
                               ("rate_overrides", rate_overrides, "services")):
        if value is not None and len(value) > MAX_ENTRIES:
            raise Invalid(field, f"at most {MAX_ENTRIES} {what}")


def _check_rates(session, fee_rate: Decimal, rate_overrides: dict | None) -> None:

    if not 0 <= fee_rate <= MAX_FEE_RATE:
        raise Invalid("management_fee_rate", f"must be from 0 to {MAX_FEE_RATE}")
    units = units_of(session, list(rate_overrides or {}))
    for service, rate in (rate_overrides or {}).items():
        check_rate("rate_overrides", service, units[service], Decimal(rate))


def _check_within_budget(budget_pence: int, contingency_pence: int, budget_lines) -> None:
    lines = sum(line["annual_amount_pence"] for line in budget_lines or [])
    budget = format_pence(budget_pence)
    if lines > budget_pence:
        raise Invalid("budget_lines", f"they total {format_pence(lines)}, more than the annual budget {budget}")
    if contingency_pence + lines > budget_pence:
        raise Invalid("contingency_amount", f"{format_pence(contingency_pence)} with the budget lines' "
                      f"{format_pence(lines)} is more than the annual budget {budget}; the contingency is "
                      "part of the budget")


def plans_of(session, person_id: int) -> list[PlanVersion]:
    return list(session.scalars(sa.select(PlanVersion).where(PlanVersion.person_id == person_id)
                                .order_by(PlanVersion.effective_from, PlanVersion.version)))


# What readers of many people's plans use (dates, amounts, the rules a plan may set): plain rows,
# as an entity costs more to build than its figures and loads its budget lines too.
PLAN_COLUMNS = (PlanVersion.id, PlanVersion.person_id, PlanVersion.version, PlanVersion.effective_from,
                PlanVersion.effective_to, PlanVersion.annual_budget_pence, PlanVersion.payment_cycle,
                PlanVersion.management_fee_rate, PlanVersion.weekly_client_contribution_pence,
                PlanVersion.surplus_threshold_weeks, PlanVersion.bank_expiry_days, PlanVersion.surplus_notice_days,
                PlanVersion.contribution_spent_first, PlanVersion.surplus_alert_weeks)


def plans_by_person(session, person_ids: list[int]) -> dict[int, list]:
    """Many people's plan versions as rows of PLAN_COLUMNS, each person's in order (as plans_of),
    in one query."""
    out: dict[int, list] = defaultdict(list)
    q = (sa.select(*PLAN_COLUMNS).where(among(session, PlanVersion.person_id, person_ids))
         .order_by(PlanVersion.person_id, PlanVersion.effective_from, PlanVersion.version))
    for plan in session.execute(q):
        out[plan.person_id].append(plan)
    return out


def plan_on(session, person_id: int, day: date) -> PlanVersion | None:
    return in_force(windows(plans_of(session, person_id)), day)


def plan_year_start(session, person_id: int, day: date) -> date | None:
    """Plan years run twelve months at a time from the first plan's effective_from."""
    first = session.scalar(sa.select(sa.func.min(PlanVersion.effective_from))
                           .where(PlanVersion.person_id == person_id))
    year = plan_year_of(first, day)
    return None if year is None else year[0]


