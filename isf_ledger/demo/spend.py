"""Demo contingency and spend for one person, posted with the rest of their entries.

Each month a twelfth of the plan's contingency is set aside (never beyond the plan year's
amount); now and then some is drawn for extra support, with a reason and an authoriser; a few
flexible spends a month and, for some people, a subcontractor's invoice every quarter. The
entries and rows come from contingency.py and spend.py, so they are what the API would write.

Nothing here may take `available` below zero, whatever else the person's entries do (receipts,
fees and, as the demo grows, charges for support): the day-by-day balance of the entries already
planned is computed once, and an item is kept only if the lowest balance from its day on still
covers it. Items are considered in date order, so each kept item lowers every later balance by
the same amount and one running total keeps the check O(1).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..accounts.contingency import DRAW, SET_ASIDE, movement_entry, movement_row
from ..ledger.post import Entry
from ..accounts.spend import spend_entry, spend_row
from ..clock import add_months

# payee, category, domain, description, lowest and highest pence
FLEXIBLE = (
    ("{town} Taxis", "transport", "work_leisure_learning", "Taxi to drama class and back", 900, 2400),
    ("{town} Taxis", "transport", "health", "Taxi to a hospital appointment", 1200, 3200),
    ("{town} Leisure Centre", "memberships", "health", "Gym membership for a supporter this month", 1800, 3500),
    ("{town} Leisure Centre", "leisure", "work_leisure_learning", "Swimming sessions", 450, 1200),
    ("{town} College", "classes", "work_leisure_learning", "Cookery course materials", 1500, 6000),
    ("Odeon {town}", "leisure", "work_leisure_learning", "Cinema with a friend (supporter's ticket)", 900, 2000),
    ("Argos", "equipment", "essential_living_tasks", "Slow cooker", 2500, 4500),
    ("Currys", "assistive_technology", "communication", "Tablet case and stylus", 1500, 4000),
    ("Amazon", "assistive_technology", "staying_safe", "Door sensor and chime", 2000, 6000),
    ("Interflora", "gifts", "communication", "Thank-you flowers for a neighbour who helped", 1500, 3000),
    ("Greggs", "leisure", "work_leisure_learning", "Lunch out with the Saturday club", 400, 1100),
    ("National Express", "holidays", "work_leisure_learning", "Coach fare for a friend on holiday", 2500, 7000),
)
SUBCONTRACTORS = (("Bright Futures Day Centre", "BFDC", "work_leisure_learning", "Day centre sessions"),
                  ("Harbour Hydrotherapy", "HH", "health", "Hydrotherapy sessions"),
                  ("Signpost Speech and Language CIC", "SSL", "communication", "Communication support sessions"))
DRAW_REASONS = ("Two weeks of extra support after a hospital stay", "Extra day support while a family carer was ill",
                "Extra staff for a family wedding weekend", "Support through a house move",
                "Extra night support during a period of seizures")
AUTHORISERS = ("Jo Pickering, service manager", "Sam Okafor, registered manager", "Priya Nair, finance lead")


@dataclass
class Afford:
    """What `available` can still give on each day, from the entries already planned."""

    first: date
    lowest_from: list[int]  # lowest balance from day i on
    net: int = 0  # what the items kept so far put in (+) or took out (-)

    @classmethod
    def of(cls, entries: list[Entry], account, first: date, last: date) -> "Afford":
        days = (last - first).days + 1
        delta = [0] * days
        for e in entries:
            for a, pence in e.legs:
                if a is account:
                    delta[min(max((e.date - first).days, 0), days - 1)] += pence
        balance, running = [], 0
        for d in delta:
            running += d
            balance.append(running)
        for i in range(days - 2, -1, -1):
            balance[i] = min(balance[i], balance[i + 1])
        return cls(first, balance)

    def take(self, day: date, pence: int) -> bool:
        if self.lowest_from[(day - self.first).days] + self.net < pence:
            return False
        self.net -= pence
        return True

    def give(self, pence: int) -> None:
        self.net += pence


@dataclass
class Planned:
    entries: list[Entry] = field(default_factory=list)
    movements: list[tuple] = field(default_factory=list)  # (entry, kind, pence, reason, authorised_by)
    spend: list[tuple] = field(default_factory=list)  # (entry, pence, payee, category, domain, description, ref)

    def movement_rows(self, person_id: int) -> list[dict]:
        return [movement_row(person_id, kind, e, pence, reason, who) for e, kind, pence, reason, who in self.movements]

    def spend_rows(self, person_id: int) -> list[dict]:
        return [spend_row(person_id, e, pence, payee, category, domain, what, ref, 1 if ref else None)
                for e, pence, payee, category, domain, what, ref in self.spend]


def plan_contingency_and_spend(rng: random.Random, person_id: int, reference: str, town: str, contingency_pence: int,
                               start: date, today: date, entries: list[Entry], fund: dict, provider: dict) -> Planned:
    """The person's set-asides, draws and spend, in date order, each kept only if affordable."""
    afford = Afford.of(entries, fund["available"], start, max([today, *(e.date for e in entries)]))
    candidates = []  # (day, order, what, ...)
    month = start
    contractor = rng.choice(SUBCONTRACTORS) if rng.randrange(100) < 30 else None
    draws_left = 1 if rng.randrange(100) < 30 else 0
    draws_left += 1 if draws_left and rng.randrange(100) < 25 else 0
    n = 0
    while month <= today:
        n += 1
        candidates.append((month + timedelta(days=2), 0, SET_ASIDE))
        if draws_left and n >= 3 and rng.randrange(100) < 20:
            draws_left -= 1
            candidates.append((month + timedelta(days=rng.randint(8, 25)), 1, DRAW))
        for _ in range(rng.randint(1, 4)):
            candidates.append((month + timedelta(days=rng.randint(0, 27)), 2, rng.choice(FLEXIBLE)))
        if contractor and n % 3 == 0:
            candidates.append((month + timedelta(days=19), 3, contractor))
        month = add_months(month, 1)
    planned = Planned()
    monthly = contingency_pence // 12
    year_start, set_aside, held = start, 0, 0
    for day, _, what in sorted((c for c in candidates if c[0] <= today), key=lambda c: (c[0], c[1])):
        if what == SET_ASIDE:
            while day >= add_months(year_start, 12):
                year_start, set_aside = add_months(year_start, 12), 0
            pence = min(monthly, contingency_pence - set_aside)
            if pence > 0 and afford.take(day, pence):
                set_aside, held = set_aside + pence, held + pence
                _move(planned, person_id, SET_ASIDE, day, pence, fund)
        elif what == DRAW:
            pence = held * rng.randint(30, 70) // 100 // 100 * 100  # whole pounds
            if pence > 0:
                held -= pence
                afford.give(pence)
                _move(planned, person_id, DRAW, day, pence, fund, rng.choice(DRAW_REASONS), rng.choice(AUTHORISERS))
        elif len(what) == 6:  # flexible spend
            payee, category, domain, description, low, high = what
            pence = rng.randint(low, high)
            if afford.take(day, pence):
                _spend(planned, person_id, day, pence, payee.format(town=town), category, domain, description,
                       None, fund, provider)
        else:  # a subcontractor's invoice for the quarter
            payee, code, domain, description = what
            pence = rng.randint(120, 450) * 100
            if afford.take(day, pence):
                _spend(planned, person_id, day, pence, payee, "subcontracted_support", domain,
                       f"{description}, quarter to {day.strftime('%B %Y')}",
                       f"{code}-{reference}-{day:%Y%m}", fund, provider)
    return planned


def _move(planned: Planned, person_id, kind, day, pence, fund, reason=None, who=None) -> None:
    entry = movement_entry(person_id, kind, day, pence, fund, reason)
    planned.entries.append(entry)
    planned.movements.append((entry, kind, pence, reason, who))


def _spend(planned: Planned, person_id, day, pence, payee, category, domain, description, ref, fund, provider):
    entry = spend_entry(person_id, day, pence, payee, description, ref, fund, provider)
    planned.entries.append(entry)
    planned.spend.append((entry, pence, payee, category, domain, description, ref))
