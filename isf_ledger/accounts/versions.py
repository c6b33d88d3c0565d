"""Which version of an effective-dated record is in force on a day: a plan's versions (and so
the rate overrides the rate card reads). Plans and the rate card both stand on it."""
from __future__ import annotations

from datetime import date, timedelta

from ..models import PlanVersion


def windows(plans: list[PlanVersion]) -> list[tuple[PlanVersion, date, date | None]]:
    """Each version with the days it is in force: from its start until its own end, or the day
    before a later version starts. add_plan refuses two versions starting on one day; should
    two exist anyway, the later one is in force and the earlier never."""
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
