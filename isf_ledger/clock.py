"""The provider's calendar: today is today in England, whatever zone the server runs in."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

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
