"""How long a fund's dashboard figures hold with nothing written (reports/current.py keeps them):
the first day after `as_of` on which the calendar alone may change one of them. Each figure that
moves with the calendar says when:

- the plan in force and the plan year: the next version's start, the day after a version's end,
  the day after the plan year's last day; a council's rule changing from a later date;
- arrears: the next instalment falling due (a closed fund's arrears no longer move);
- queries: the day an open query becomes overdue;
- the recent hours' alerts: the first day one of them changes as the window moves on (worked out
  from the window's hours day by day), though the hours shown move daily and are read for the page;
- the bank (it lapses, and is valued at the rates in force) and a surplus that has not yet lasted
  long enough: the next day (they are read again each day).
What moves every day but is simple arithmetic (the budget's pace, the overspending alert) is
worked out when the page is read.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from .. import clock
from ..accounts.instalments import instalments_of
from ..accounts.plans import windows
from ..accounts.queries import answer_due_by
from ..models import CouncilRuleChange, FundQuery, QueryAnswer
from .dashboard import HOURS, _hours_query, hours_alerts, hours_window
from .forecast import plan_year

AHEAD = timedelta(days=400)  # instalments are looked for this far ahead: more than a year


def valid_until(session, funds, as_of: date, *, people, plans, history, held) -> None:
    """Set each FundFigures' `until` (None: until something is written)."""
    councils = {pid: council for pid, _, _, _, council in people}
    closed = {pid: closed_on for pid, _, _, closed_on, _ in people}
    rules = dict(session.execute(sa.select(CouncilRuleChange.council_id, sa.func.min(CouncilRuleChange.effective_from))
                                 .where(CouncilRuleChange.effective_from > as_of)
                                 .group_by(CouncilRuleChange.council_id)).all())
    queries = _queries_falling_due(session, as_of)
    hours = _hours_changing(session, [f for f in funds if any(f.hours.values())], as_of)
    tomorrow = as_of + timedelta(days=1)
    for f in funds:
        pid, mine = f.person_id, plans.get(f.person_id, [])
        days = [rules.get(councils[pid].id), queries.get(pid), hours.get(pid)]
        for _, start, end in windows(mine) if mine else ():
            days += [start, end and end + timedelta(days=1)]
        year = plan_year(mine, as_of)
        if year:
            days.append(year[1] + timedelta(days=1))
        if mine and closed[pid] is None:
            due = (i.due for i in instalments_of(mine, councils[pid], as_of + AHEAD, history) if i.due > as_of)
            days.append(min(due, default=None))
        pos = held.get(pid)
        if (pos is not None and (pos.bank_hundredths or pos.bank_value)) or (f.surplus > 0 and not f.surplus_lasting):
            days.append(tomorrow)
        later = [d for d in days if d is not None and d > as_of]
        f.until = min(later) if later else None


def _queries_falling_due(session, as_of: date) -> dict[int, date]:
    """Each person's first day after `as_of` on which a query still open becomes overdue."""
    end = datetime.combine(as_of + timedelta(days=1), time(0), clock.UK)
    answered = aliased(QueryAnswer)
    q = sa.select(FundQuery.person_id, FundQuery.raised_at).where(
        ~sa.exists().where(answered.query_id == FundQuery.id, answered.answered_at < end))
    out: dict[int, date] = {}
    for pid, raised_at in session.execute(q):
        day = answer_due_by(raised_at) + timedelta(days=1)
        if day > as_of and (pid not in out or day < out[pid]):
            out[pid] = day
    return out


def _hours_changing(session, funds, as_of: date) -> dict[int, date]:
    """For funds with hours in the window: the first day the hours' alerts differ from today's as
    the window moves on with no more hours recorded (it empties within RECENT_MONTHS months)."""
    if not funds:
        return {}
    days: dict[int, list] = {}
    rows = session.execute(_hours_query(hours_window(as_of), as_of, [f.person_id for f in funds], session, True))
    for pid, status, day, total in rows:
        days.setdefault(pid, []).append((day, status, int(total)))
    out = {}
    for f in funds:
        mine = sorted(days.get(f.person_id, []), key=lambda r: r[0])
        h = dict.fromkeys(HOURS, 0)
        for _, status, total in mine:
            h[status] += total
        now, i, d = hours_alerts(h), 0, as_of
        while i < len(mine):
            d += timedelta(days=1)
            first = hours_window(d)
            while i < len(mine) and mine[i][0] < first:
                h[mine[i][1]] -= mine[i][2]
                i += 1
            if hours_alerts(h) != now:
                out[f.person_id] = d
                break
    return out
