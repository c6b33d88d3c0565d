"""The provider's calendar: today is today in England, whatever zone the server runs in."""
from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from .errors import Invalid

UK = ZoneInfo("Europe/London")


def today() -> date:
    return datetime.now(UK).date()


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    """England and Wales share their bank holidays (Wales has none of its own)."""
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date) -> bool:
    """Monday to Friday, and not a bank holiday in England and Wales."""
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def working_days_after(day: date, n: int) -> date:
    """The `n`th working day after `day` (`day` itself not counted)."""
    seen = 0
    while seen < n:
        day += timedelta(days=1)
        seen += is_working_day(day)
    return day


# --- Months: the one home of month arithmetic (domain.md "Month end in order") -------------

def month_start(d: date) -> date:
    return d.replace(day=1)


def month_end(d: date) -> date:
    return d.replace(day=monthrange(d.year, d.month)[1])


def next_month(d: date) -> date:
    """The first day of the month after d's."""
    return month_end(d) + timedelta(days=1)


def add_months(d: date, n: int) -> date:
    """The same day n months on, or the month's last day when it has no such day."""
    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, monthrange(year, month)[1]))


def month_starts(first: date, last: date) -> list[date]:
    """The first day of each month from first's month to last's, in order."""
    out, m = [], month_start(first)
    while m <= last:
        out.append(m)
        m = add_months(m, 1)
    return out


def plan_year_of(first_plan_start: date | None, day: date) -> tuple[date, date] | None:
    """The plan year holding `day`, (first day, last day): plan years run twelve months at a
    time from the first plan's start (domain.md "Plans"); None before it or without a plan."""
    if first_plan_start is None or day < first_plan_start:
        return None
    first = first_plan_start
    k = ((day.year - first.year) * 12 + day.month - first.month) // 12
    start = add_months(first, 12 * k)
    if start > day:
        start = add_months(first, 12 * (k - 1))
    return start, add_months(start, 12) - timedelta(days=1)


def parse_month(text: str) -> date:
    """'2026-10' -> 2026-10-01; anything else is a 422 naming `month`."""
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2 or not (year + month).isascii() or not (year + month).isdigit():
            raise ValueError
        return date(int(year), int(month), 1)
    except ValueError:
        raise Invalid("month", "give the month as YYYY-MM, e.g. 2026-10") from None
