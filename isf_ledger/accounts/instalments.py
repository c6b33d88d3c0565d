"""What the council and the person are due to pay in, and what is in arrears.

Plan years run twelve months from the first plan's `effective_from`, and a year holds exactly
its n instalments (`four_weekly` 13, `monthly` 12, `weekly` 52), due in advance, whatever
versions start inside it:

- The cycle runs from the plan year's start (every 28 days, the same day each month, or every
  7 days). A new version with the same cycle does not restart it: the instalment paid on
  2026-10-08 covers to 2026-11-04 whether or not a version starts on 2026-11-01.
- Each instalment takes its amount from the version in force on its due date: the version's
  annual council part (budget less 52 weeks of the person's contribution) / n, and the person's
  contribution likewise. The pence left over go on the year's last instalment, at the rate of
  the version in force then; so a budget changed mid-year changes the instalments due from the
  new version's date on, and the year pays each version's share for the instalments it covers.
- Gaps: an instalment whose period (its due date to the day before the next) has no version in
  force is not due. One whose due date falls in a gap but whose period reaches a version that
  starts later in it falls due on that version's first day (paid in advance, as any other),
  so no instalment is ever due in a gap and a restarted plan is funded from its first day.
- A version with a different payment cycle starts its own cycle on its `effective_from` (the
  council pays the new way from the change). The instalments already due in the year count as
  the share of the year they paid for (m of n_old is m/n_old), and the new cycle adds only what
  is left of its n (n_new x the unpaid share, to the nearest whole instalment). A plain count
  (n_new - m) would stop all payment after 48 weekly instalments turn four-weekly, and pay for
  more than the year after four-weekly ones turn weekly; by share, an unchanged budget still
  totals the budget (4-weekly x3 then weekly x40 is 26,000 of 26,000). The year's last
  instalment is then the last the new cycle fits in.
- Where the plan leaves the cycle to the council, the council's cycle is read at each date
  (its rule history): a council change effective from a date is a change of cycle from that
  date, exactly as a version with another cycle would be.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from math import lcm

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..db import among
from .councils import History, rule_history, rule_on
from ..models import Person, Receipt, Transaction
from .plans import PAYMENTS_A_YEAR, in_force, plans_of, windows
from ..clock import add_months

STEP_DAYS = {"four_weekly": 28, "weekly": 7}
YEAR_PARTS = lcm(*PAYMENTS_A_YEAR.values())  # a year in parts (156): every instalment is a whole number of them


@dataclass(frozen=True)
class Instalment:
    due: date
    plan_id: int
    council_pence: int
    person_pence: int


def _nth(anchor: date, cycle: str, i: int) -> date:
    return add_months(anchor, i) if cycle == "monthly" else anchor + timedelta(days=STEP_DAYS[cycle] * i)


def _first_day_in_force(plan_windows, start: date, end: date):
    """The first day from start to end on which a version is in force, and that version."""
    plan = in_force(plan_windows, start)
    if plan is not None:
        return start, plan
    later = [(s, p) for p, s, e in plan_windows if start < s <= end]
    return min(later, key=lambda sp: sp[0]) if later else (None, None)


def _year(plan_windows, cycle_at, change_days, year_start: date, year_end: date) -> list[Instalment]:
    """One plan year's instalments (see the module docstring). `cycle_at(day, plan)` is the cycle
    in force on a day under a version; `change_days` are the days the council's cycle changes."""
    touching = [(p, s, e) for p, s, e in plan_windows if s <= year_end and (e is None or e >= year_start)]
    if not touching:
        return []
    # Runs of one payment cycle: the first from the year's start, then a run from each day a
    # version starts or the council's cycle changes, where the cycle differs.
    runs = [(year_start, cycle_at(year_start, touching[0][0]))]
    starts = {s: p for p, s, _ in touching if s > year_start}
    for day in sorted(set(starts) | {d for d in change_days if year_start < d <= year_end}):
        plan = starts.get(day) or in_force(plan_windows, day) or next(
            (p for p, s, _ in touching if s > day), touching[-1][0])  # in a gap: the next version's
        cycle = cycle_at(day, plan)
        if cycle != runs[-1][1]:
            runs.append((day, cycle))
    slots = []  # (due, plan, n) for each instalment due
    paid_parts = 0  # of the year's YEAR_PARTS, by the instalments due so far
    last_slot_due = False  # whether the year's last slot, which carries the remainder, is due
    for j, (anchor, cycle) in enumerate(runs):
        run_end = runs[j + 1][0] - timedelta(days=1) if j + 1 < len(runs) else year_end
        n = PAYMENTS_A_YEAR[cycle]
        # whole instalments left, half up: n x the unpaid share + 1/2, rounded down
        room = max(0, (2 * n * (YEAR_PARTS - paid_parts) + YEAR_PARTS) // (2 * YEAR_PARTS))
        dates = [d for d in (_nth(anchor, cycle, i) for i in range(n)) if d <= run_end][:room]
        for i, slot in enumerate(dates):
            period_end = dates[i + 1] - timedelta(days=1) if i + 1 < len(dates) else run_end
            due, plan = _first_day_in_force(plan_windows, slot, period_end)
            last_slot_due = due is not None
            if due is not None:
                slots.append((due, plan, n))
                paid_parts += YEAR_PARTS // n
    out = []
    for i, (due, plan, n) in enumerate(slots):
        person_year = plan.weekly_client_contribution_pence * 52
        council_year = plan.annual_budget_pence - person_year
        last = last_slot_due and i == len(slots) - 1
        out.append(Instalment(due, plan.id, council_year // n + (council_year % n if last else 0),
                              person_year // n + (person_year % n if last else 0)))
    return out


def expected_instalments(session, person: Person, until: date) -> list[Instalment]:
    """Every instalment due up to `until`, plan year by plan year."""
    council = person.council
    history = rule_history(session, [council.id]) if council is not None else None
    return instalments_of(plans_of(session, person.id), council, until, history)


def instalments_of(plans: list, council, until: date, history: History | None = None) -> list[Instalment]:
    """The same from plans already read (by effective_from, version), so month end can read every
    person's plans in one query. `history` is the councils' rule history (councils.rule_history,
    read once for many people); without it the council's current cycle holds on every date."""
    if not plans:
        return []
    plan_windows = windows(plans)
    first = plans[0].effective_from
    last_day = max((e or date.max) for _, _, e in plan_windows)

    history = history if history is not None else {}

    def cycle_at(day, plan):
        return rule_on(None, "payment_cycle", council, plan, day, history)

    change_days = [c[0] for c in history.get((council.id, "payment_cycle"), [])] if council is not None else []

    out: list[Instalment] = []
    k = 0
    while (year_start := add_months(first, 12 * k)) <= min(until, last_day):
        year_end = add_months(first, 12 * (k + 1)) - timedelta(days=1)
        out.extend(i for i in _year(plan_windows, cycle_at, change_days, year_start, year_end) if i.due <= until)
        k += 1
    return out


def received(session, person_id: int, as_of: date) -> dict[str, int]:
    """Receipts by source dated on or before `as_of`, less those reversed on or before it."""
    return received_by_person(session, [person_id], as_of).get(person_id, {})


def received_by_person(session, person_ids: list[int], as_of: date) -> dict[int, dict[str, int]]:
    """The same for many people in one query: the one reader arrears use. A clawback by
    deduction is a council receipt (clawback.py), so the instalment it was withheld from counts
    as paid in full here."""
    reversal = aliased(Transaction)
    q = (sa.select(Receipt.person_id, Receipt.source, sa.func.sum(Receipt.amount_pence))
         .outerjoin(reversal, sa.and_(reversal.reverses_id == Receipt.transaction_id, reversal.date <= as_of))
         .where(among(session, Receipt.person_id, person_ids), Receipt.date <= as_of, reversal.id.is_(None))
         .group_by(Receipt.person_id, Receipt.source))
    out: dict[int, dict[str, int]] = {}
    for pid, source, pence in session.execute(q):
        out.setdefault(pid, {})[source] = int(pence)
    return out


def arrears(session, person: Person, as_of: date) -> dict:
    """Due and received to date, the council's and the person's contribution separately."""
    return arrears_of(expected_instalments(session, person, as_of), received(session, person.id, as_of))


def arrears_of(due: list[Instalment], got: dict[str, int]) -> dict:
    """Arrears from instalments due and receipts by source, both already read."""
    out = {}
    for who, source, attr in (("council", "council", "council_pence"),
                              ("person", "client_contribution", "person_pence")):
        due_total = sum(getattr(i, attr) for i in due)
        paid = got.get(source, 0)
        out[who] = {"due": due_total, "received": paid, "arrears": max(0, due_total - paid)}
    return out
