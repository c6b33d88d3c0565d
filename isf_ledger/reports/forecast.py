"""The year ahead (domain.md "Forecast"): one place for the plan year's pace and projections, which
the forecast endpoint, the statements, the dashboard and the pages read.

For the plan year in force on `as_of` (twelve months at a time from the first plan's start):
- `used` is "used in the plan year" (domain.md "One meaning for each figure"): the fee, support
  charged, shared support and spend, net of their reversals, from the year's first day to
  `as_of`; not contingency set aside, clawbacks or closing payments. `left` = budget - used.
- `elapsed_share` = days of the year gone (as_of included) / days in the year; `used_share` =
  used / budget; both exact inside, shown to 4 places. `pace` compares them exactly.
- `projected_end_balance`: what is left at the year's end if money goes as in the last three
  whole calendar months ending on or before `as_of` (only months from the first plan's start;
  the year so far when there is no whole month yet), as a daily rate, leaving out spend marked
  `one_off`. `runs_out_on`: the day that rate uses up what is left, or null when it lasts the year.
- `planned_end_balance`: what is left at the year's end at the plan's rates: the planned weekly
  hours of each service at its rate on `as_of` (the plan's override, else the rate card) for the
  days left, and the rest of the year's fee (budget x the plan's fee rate, less the fee taken).
- `weekly_allowance`: what is left / the weeks left (days left / 7); null on the year's last day.

Per budget line (`lines`): the line's annual amount is its budget; its use is the support, shared
support and spend tagged with its domain (lines sharing a domain share its use in proportion to
their amounts, largest remainder); its plan is its amount spread evenly over the year. The fee
belongs to no line, so the lines' use adds up to the whole's less the fee.
"""
from __future__ import annotations

import math
from fractions import Fraction
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..models import Account, Posting, Spend, Transaction
from ..accounts.plans import in_force, plans_of, windows
from ..accounts.rates import rate_on
from ..money import format_pence, round_half_up, split_largest_remainder
from .figures import actual_by_domain, movements_by_heading
from ..clock import add_months, month_end, month_start, plan_year_of

# Outgoings that use the budget: the fee, support, shared support, spend (figures.HEADINGS).
USES_BUDGET = ("management_fee_total", "support_charged_total", "shared_support_total", "spend_total")
SPENDING_FAST = Decimal("0.10")  # used share more than 10 points ahead of the year gone
BUILDING_UP = Decimal("0.15")  # more than 15 points behind
RATE_MONTHS = 3
SHARE_PLACES = Decimal("0.0001")


def plan_year(plans, day: date) -> tuple[date, date] | None:
    """The plan year holding `day`: twelve months at a time from the first plan's start."""
    return plan_year_of(plans[0].effective_from if plans else None, day)


def elapsed_share(start: date, end: date, day: date) -> Decimal:
    """The share of the year [start, end] gone by the end of `day`, exact."""
    return Decimal((day - start).days + 1) / Decimal((end - start).days + 1)


def pace(used_share: Decimal, elapsed: Decimal) -> str:
    """`spending_fast` when the share of the year's budget used runs more than 10 points ahead of
    the share of the year gone, `building_up` when more than 15 points behind, else `on_track`."""
    if used_share - elapsed > SPENDING_FAST:
        return "spending_fast"
    if elapsed - used_share > BUILDING_UP:
        return "building_up"
    return "on_track"


def rate_window(first_plan_start: date, year_start: date, as_of: date) -> tuple[date, date]:
    """The days the recent rate is read over: the last RATE_MONTHS whole calendar months ending on
    or before `as_of` that began on or after the first plan's start; else the year so far."""
    last_whole = month_start(as_of) if as_of == month_end(as_of) else add_months(month_start(as_of), -1)
    earliest = first_plan_start if first_plan_start.day == 1 else add_months(month_start(first_plan_start), 1)
    begin = max(add_months(last_whole, -(RATE_MONTHS - 1)), earliest)
    if begin > last_whole:
        return year_start, as_of
    return begin, month_end(last_whole)


def _share(part: int, whole: int) -> str | None:
    if whole <= 0:
        return None
    return str((Decimal(part) / whole).quantize(SHARE_PLACES, ROUND_HALF_UP))


def projection(budget: int, used: int, rate_use: int, rate_days: int, planned_rest: int, as_of: date,
               end: date) -> dict:
    """The figures of a budget (the whole, or a line) from what it used and how fast."""
    left, days_left = budget - used, (end - as_of).days
    # rate_use / rate_days pence a day, kept as a quotient: rounded once, where the amount is made
    projected = left - round_half_up(Decimal(rate_use * days_left) / rate_days)
    runs_out_on = None
    if projected < 0:  # so the rate is above zero
        runs_out_on = as_of if left <= 0 else min(end, as_of + timedelta(
            days=math.ceil(Fraction(left * rate_days, rate_use))))
    return {"budget": format_pence(budget), "used": format_pence(used), "left": format_pence(left),
            "used_share": _share(used, budget),
            "projected_end_balance": format_pence(projected),
            "planned_end_balance": format_pence(left - planned_rest),
            "runs_out_on": runs_out_on.isoformat() if runs_out_on else None,
            "weekly_allowance": format_pence(round_half_up(Decimal(left) * 7 / days_left)) if days_left else None}


def _use(totals: dict) -> int:
    return sum(totals.get(h, 0) for h in USES_BUDGET)


def by_domain(session, person_id: int, start: date, end: date, *, one_off_only: bool = False) -> dict[str, int]:
    """Money used out of `available` by domain between two dates, net of reversals: support by
    its delivery's domain, shared support by its arrangement's, spend by its own (review_pack's
    plan against actual); with `one_off_only`, spend marked one_off alone."""
    if not one_off_only:
        out: dict[str, int] = defaultdict(int)
        for (_, domain), pence in actual_by_domain(session, person_id, start, end).items():
            out[domain] += pence
        return dict(out)
    original = aliased(Transaction)
    own = sa.func.coalesce(original.id, Transaction.id)
    q = (sa.select(Spend.domain, sa.func.sum(Posting.amount_pence))
         .join(Account, Account.id == Posting.account_id)
         .join(Transaction, Transaction.id == Posting.transaction_id)
         .outerjoin(original, original.id == Transaction.reverses_id)
         .join(Spend, sa.and_(Spend.transaction_id == own, Spend.one_off.is_(True)))
         .where(Account.person_id == person_id, Account.kind == "available", Posting.date >= start,
                Posting.date <= end)
         .group_by(Spend.domain))
    return {domain: -int(pence) for domain, pence in session.execute(q)}


def _planned_support(session, plan, as_of: date, days_left: int) -> int:
    """The plan's weekly hours at their rates on `as_of` for the days left (a service without a
    rate costs nothing here)."""
    total = Decimal(0)
    for service, hours in sorted((plan.planned_weekly_hours or {}).items()):
        rate = rate_on(session, service, as_of, plan)
        if rate is not None:
            total += Decimal(hours) * rate * 100 * days_left / 7  # the rate is in pounds
    return round_half_up(total)


def forecast(session, person_id: int, as_of: date) -> dict | None:
    """The plan year's pace and projections for one person, in all and per budget line; None when
    no plan is in force on `as_of`."""
    plans = plans_of(session, person_id)
    year = plan_year(plans, as_of)
    plan = in_force(windows(plans), as_of) if plans else None
    if year is None or plan is None:
        return None
    start, end = year
    days_left = (end - as_of).days
    r_from, r_to = rate_window(plans[0].effective_from, start, as_of)
    rate_days = (r_to - r_from).days + 1
    used = movements_by_heading(session, [person_id], start, as_of).get(person_id, {})
    recent = movements_by_heading(session, [person_id], r_from, r_to).get(person_id, {})
    one_off = by_domain(session, person_id, r_from, r_to, one_off_only=True)
    budget = plan.annual_budget_pence
    fee_rest = max(0, round_half_up(Decimal(budget) * plan.management_fee_rate) - used.get("management_fee_total", 0))
    planned_rest = _planned_support(session, plan, as_of, days_left) + fee_rest
    whole = projection(budget, _use(used), _use(recent) - sum(one_off.values()), rate_days, planned_rest,
                       as_of, end)
    elapsed = elapsed_share(start, end, as_of)
    out = {"person_id": person_id, "as_of": as_of.isoformat(),
           "plan_year": {"start": start.isoformat(), "end": end.isoformat()},
           "elapsed_share": str(elapsed.quantize(SHARE_PLACES, ROUND_HALF_UP)), **whole,
           "pace": pace(Decimal(_use(used)) / budget, elapsed) if budget > 0 else None,
           "rate_from": r_from.isoformat(), "rate_to": r_to.isoformat(), "lines": []}
    out = {k: out[k] for k in ("person_id", "as_of", "plan_year", "budget", "used", "left", "elapsed_share",
                               "used_share", "pace", "projected_end_balance", "planned_end_balance",
                               "runs_out_on", "weekly_allowance", "rate_from", "rate_to", "lines")}
    lines = list(plan.budget_lines)
    if not lines:
        return out
    year_use, recent_use = by_domain(session, person_id, start, as_of), by_domain(session, person_id, r_from, r_to)
    parts = {}
    for domain in {line.domain for line in lines}:
        mine = [(i, Decimal(line.annual_amount_pence) or Decimal(1)) for i, line in enumerate(lines)
                if line.domain == domain]
        parts[domain] = (split_largest_remainder(year_use.get(domain, 0), mine),
                         split_largest_remainder(recent_use.get(domain, 0) - one_off.get(domain, 0), mine))
    days_in_year = (end - start).days + 1
    for i, line in enumerate(lines):
        used_part, recent_part = (p[i] for p in parts[line.domain])
        amount = line.annual_amount_pence
        planned = round_half_up(Decimal(amount) * days_left / days_in_year)
        figures = projection(amount, used_part, recent_part, rate_days, planned, as_of, end)
        out["lines"].append({"domain": line.domain, "outcome": line.outcome, **figures,
                             "elapsed_share": out["elapsed_share"],
                             "pace": pace(Decimal(used_part) / amount, elapsed) if amount > 0 else None})
    return out
