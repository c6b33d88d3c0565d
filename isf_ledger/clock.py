"""The provider's calendar: today is today in England, whatever zone the server runs in."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")


def today() -> date:
    return datetime.now(UK).date()
