"""The month's cost of a shared arrangement and each party's share of it: pure, no database.

domain.md, Shared support: the month costs `per_night` x the nights it ran, or for a weekly cost
ROUND_HALF_UP(weekly x days it ran / 7), rounded once for the month. A member's share is in
proportion to weight x days of membership; on each day the places nobody holds (capacity less
the members that day, whatever their weights) weigh 1 each and go to the empty places' share.
The parts are split by largest remainder, members by person id and the empty places last, so
ties go to the lower person id and the parts always sum to the cost.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from ..money import split_largest_remainder
from ..clock import month_end


@dataclass(frozen=True)
class Version:
    effective_from: date
    capacity: int
    per_night_pence: int | None = None
    weekly_pence: int | None = None


@dataclass(frozen=True)
class Member:
    """One membership: its days run from `starts_on` to `ends_on` (None: open); its weight on a
    day is that of the latest term (effective_from, weight) begun by then."""

    person_id: int
    starts_on: date
    ends_on: date | None
    terms: tuple[tuple[date, Decimal], ...]

    def weight_on(self, day: date) -> Decimal | None:
        if day < self.starts_on or (self.ends_on is not None and day > self.ends_on):
            return None
        begun = [t for t in self.terms if t[0] <= day]
        return max(begun)[1] if begun else min(self.terms)[1]


@dataclass
class Share:
    person_id: int | None  # None: the empty places
    days: int = 0
    weight: Decimal | None = None
    weight_days: Decimal = Decimal(0)
    share_pence: int = 0


@dataclass
class MonthShares:
    month: date
    cost_pence: int = 0
    nights: int = 0  # days the arrangement ran in the month
    capacity: int = 0  # places on the last day it ran
    cost_working: str = ""
    total_weight_days: Decimal = Decimal(0)
    shares: list[Share] = field(default_factory=list)  # members by person id, the empty places last

    def by_party(self) -> dict[int | None, Share]:
        return {s.person_id: s for s in self.shares}


def version_on(versions: list[Version], day: date) -> Version | None:
    begun = [v for v in versions if v.effective_from <= day]
    return max(begun, key=lambda v: v.effective_from) if begun else None


def _money(pence: int | Fraction) -> str:
    return f"{Decimal(pence.numerator) / pence.denominator / 100:.2f}" if isinstance(pence, Fraction) \
        else f"{Decimal(pence) / 100:.2f}"


def apportion(month: date, versions: list[Version], members: list[Member]) -> MonthShares:
    """The month's cost and shares. The result does not depend on the order of the inputs."""
    first = month.replace(day=1)
    out = MonthShares(first)
    exact = Fraction(0)
    costs: dict[tuple[str, int], int] = {}  # ("night"|"week", pence) -> days, for the working
    last = month_end(first)
    days = [first + timedelta(days=i) for i in range(last.day)]
    ordered = sorted(versions, key=lambda v: v.effective_from)
    running = [next((v for v in reversed(ordered) if v.effective_from <= d), None) for d in days]
    present = [0] * len(days)
    people: dict[int, Share] = {}
    for m in sorted(members, key=lambda m: (m.person_id, m.starts_on)):
        lo, hi = max(first, m.starts_on), last if m.ends_on is None else min(last, m.ends_on)
        for i in range((lo - first).days, (hi - first).days + 1):
            if running[i] is None:
                continue
            w = m.terms[0][1] if len(m.terms) == 1 else m.weight_on(days[i])
            present[i] += 1
            s = people.setdefault(m.person_id, Share(m.person_id))
            s.days += 1
            s.weight = w
            s.weight_days += w
    empty = Share(None)
    for v, n in zip(running, present):
        if v is None:
            continue
        out.nights += 1
        out.capacity = v.capacity
        if v.per_night_pence is not None:
            exact += v.per_night_pence
            key = ("night", v.per_night_pence)
        else:
            exact += Fraction(v.weekly_pence, 7)
            key = ("week", v.weekly_pence)
        costs[key] = costs.get(key, 0) + 1
        if v.capacity > n:
            empty.days += 1
            empty.weight_days += v.capacity - n
    # ROUND_HALF_UP once, for the month (the cost is never negative).
    out.cost_pence = math.floor(exact + Fraction(1, 2))
    out.cost_working = " + ".join(
        f"{_money(p)} x {n} nights" if kind == "night" else f"{_money(p)} a week x {n} days / 7"
        for (kind, p), n in costs.items())
    out.shares = [people[pid] for pid in sorted(people)] + ([empty] if empty.weight_days else [])
    out.total_weight_days = sum((s.weight_days for s in out.shares), Decimal(0))
    if out.shares:
        parts = split_largest_remainder(out.cost_pence, [(s.person_id, s.weight_days) for s in out.shares])
        for s in out.shares:
            s.share_pence = parts[s.person_id]
    return out
