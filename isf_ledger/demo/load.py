"""Demo data: a realistic provider, filled one database transaction per person.

`isf-ledger demo --people N --months M --seed S` makes a handful of councils, a rate card with
an April uplift, and N people who live in supported-living houses of two to four tenants or
get day support only. Each person has one support plan from the demo's start (the first day
of the month M months before this one, so the data ends today) and the money the plan says
came in: the council's instalments as `expected_instalments` counts them (now and then one
paid late or not at all, so arrears show), the person's assessed contribution, and the
management fee each receipt bore. Their hours come as a rostering system would send them, a
month at a time (every status, banked hours drawn later, the provider's missed visits), recorded
through `record_deliveries` in one batch per person; then contingency set aside and drawn, and
spend on their behalf (demo_spend.py) that the fund can afford after those charges, all in the
person's one database transaction. Last, in a demo of 50 people or more, a few surpluses are
clawed back with notice, a few fees refunded, and a few people leave and their funds are closed
(demo_endings.py).

Every figure comes from `random.Random(seed)` in a fixed order, never from a database id, so
the same seed on the same day gives the same figures on any database. Money goes in only
through the posting engine (`lock_funds`, then one `post` of all the person's entries), so the
demo keeps every invariant a real write keeps: `isf-ledger audit` must say the books hold.
"""
from __future__ import annotations

import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time as clock_time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from sqlalchemy import event

from ..clock import UK, today as uk_today
from ..db import db, utcnow
from ..money import split_largest_remainder
from ..accounts.councils import PROVIDER_DEFAULTS
from ..accounts.fees import fee_on, fee_rate_in
from ..accounts.hours import DeliveryIn, record_deliveries
from ..accounts.instalments import expected_instalments
from ..ledger.post import Entry, lock_funds, person_accounts, post, provider_accounts
from .shared_support import SCHEME_WEEKLY_PENCE, add_shared_support, people_of
from .endings import add_endings
from .spend import plan_contingency_and_spend
from ..models import ContingencyMovement, Council, Person, Posting, Rate, Receipt, Spend, Transaction
from ..accounts.people import create_person
from ..provider import ProviderRow, update as set_provider
from ..clock import add_months
from ..accounts.rates import add_rate
from ..accounts.receipts import receipt_entries
from ..accounts.plans import DEFAULT_FEE_RATE, DOMAINS, add_plan, windows

# name, short code (on references and remittances), how to write a reference, share of people
COUNCILS = (
    ("Northshire County Council", "NCC", "NCC{:06d}", 45),
    ("Southvale Borough Council", "SBC", "SBC/{:05d}", 35),
    ("Eastmere City Council", "ECC", "ECC-{:06d}", 20),
)
TOWNS = {"NCC": ("Ashby Moor", "Kelsall", "Thornley"), "SBC": ("Southvale", "Brayford", "Little Hadham"),
         "ECC": ("Eastmere", "Fenwick", "St Olave's")}
# The rate card: service, unit, rate from the April before the demo starts; 3% each April after.
RATE_CARD = (("day_support", "hour", Decimal("18.50")),
             ("waking_night", "night", Decimal("145.00")),
             ("sleep_in", "night", Decimal("62.40")))
UPLIFT = Decimal("1.03")

FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "Daniel", "Eleanor", "Farah", "George", "Hannah", "Imran", "Jack",
    "Kerry", "Liam", "Megan", "Nathan", "Olivia", "Priya", "Rhys", "Sophie", "Thomas", "Usha",
    "Victoria", "William", "Yasmin", "Zac", "Aidan", "Bethany", "Callum", "Dawn", "Ewan", "Fiona",
    "Gareth", "Holly", "Ian", "Jasmine", "Kieran", "Lauren", "Mohammed", "Niamh", "Owen", "Paula",
    "Ravi", "Sian", "Tariq", "Wendy", "Alfie", "Bronwen", "Craig", "Deborah", "Elliot", "Gemma",
    "Harvey", "Isla", "Joseph", "Kate", "Leon", "Maisie", "Noah", "Rosie", "Stuart", "Tanya",
)
SURNAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Hughes", "Edwards", "Khan", "Lewis", "Harris", "Martin",
    "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison",
    "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis", "Parker", "Price",
    "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter", "Richardson", "Bailey",
    "Collins", "Bell", "Shaw", "Murphy", "Ahmed", "Begum", "Kaur", "Singh", "O'Brien", "Nowak",
)
STREETS = (
    "Rowan Close", "Larch Avenue", "Mill Lane", "Church Street", "Orchard Way", "Beech Grove",
    "Station Road", "Willow Court", "Meadow View", "Hawthorn Drive", "Park Terrace", "Elm Road",
    "Victoria Street", "Canal Side", "Holly Bank", "Priory Walk", "Chapel Row", "Brook Street",
)
# What each domain's money is for; "{home}" is filled with the house for people who share one.
OUTCOMES = {
    "staying_safe": ("Feel safe at home, day and night", "Have someone I trust nearby at night at {home}",
                     "Get help quickly if I have a seizure", "Keep safe when I go out on my own"),
    "communication": ("Use my tablet to keep in touch with my family", "Be understood by new staff",
                      "Make my own phone calls and appointments", "Use Makaton with the people I know"),
    "work_leisure_learning": ("Keep my volunteering job at the garden centre", "Go swimming twice a week",
                              "Do a cookery course at college", "Go to drama club on Thursdays",
                              "See my friends at the Saturday club"),
    "essential_living_tasks": ("Cook my own tea most nights", "Keep my flat clean and tidy",
                               "Do my weekly shop and manage my money", "Keep my home at {home} the way I like it"),
    "personal_care": ("Have help with washing and dressing in the morning", "Get ready for bed with support",
                      "Look after my skin and take my medicines"),
    "health": ("See my GP and dentist when I need to", "Keep my epilepsy under control",
               "Walk every day to stay well", "Go to my hospital appointments with someone I know"),
}
# Rough shares of the budget by domain, for people in supported living and for day support.
TENANT_WEIGHTS = {"staying_safe": 24, "communication": 6, "work_leisure_learning": 14,
                  "essential_living_tasks": 22, "personal_care": 24, "health": 10}
DAY_WEIGHTS = {"staying_safe": 12, "communication": 10, "work_leisure_learning": 34,
               "essential_living_tasks": 18, "personal_care": 12, "health": 14}
MIN_BUDGET, MAX_BUDGET = 15_000, 160_000  # whole pounds
BANK_EXPIRY_DAYS = PROVIDER_DEFAULTS["bank_expiry_days"]  # the demo's councils keep the provider's default
DAY_DOMAINS = ("personal_care", "work_leisure_learning", "essential_living_tasks", "health", "communication")


# The demo provider's own details: made up (an Ofcom drama number, an example.org address).
DEMO_PROVIDER = {"name": "Brightwater Support (demo)", "address_lines": ["Unit 4, Mill Lane", "Northtown", "NT1 2AB"],
                 "phone": "01632 960 123", "email": "questions@brightwater.example.org", "contact_name": "Sam Patel"}


def demo_start(today: date, months: int) -> date:
    """The first day of the month `months` months before this one."""
    return add_months(today.replace(day=1), -months)


def rate_entries(start: date, today: date) -> list[tuple[str, str, Decimal, date]]:
    """The rate card from the April before the demo starts, uplifted every April up to today."""
    first = date(start.year if start > date(start.year, 4, 1) else start.year - 1, 4, 1)
    out = []
    for service, unit, rate in RATE_CARD:
        day = first
        while day <= today:
            out.append((service, unit, rate, day))
            rate = (rate * UPLIFT).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            day = date(day.year + 1, 4, 1)
    return out


def rate_in_force(entries, service: str, day: date) -> Decimal:
    return max((e for e in entries if e[0] == service and e[3] <= day), key=lambda e: e[3])[2]


@dataclass
class PersonSpec:
    name: str
    council: tuple
    reference: str
    home: str | None  # the supported-living house, or None for day support only
    budget_pence: int
    payment_cycle: str | None
    fee_rate: Decimal
    contribution_pence: int
    planned_weekly_hours: dict
    contingency_pence: int
    budget_lines: list[dict] = field(default_factory=list)
    # How the payments went: one council instalment late by `late_days` (0: none was), one
    # missed, one of the person's contributions missed; a pick is taken modulo the instalments.
    # The person's hours come from a generator of their own, so they never shift anyone's money.
    hours_seed: str = ""
    late_pick: int = 0
    late_days: int = 0
    missed_pick: int | None = None
    own_missed_pick: int | None = None
    # Seeds the person's contingency and spend (demo_spend.py), apart from the draws above.
    money_seed: str = ""


class Provider:
    """Draws the demo provider's people from one seeded generator, always in the same order."""

    def __init__(self, seed: int, start: date, rates, used_refs: set[tuple[str, str]]):
        self.rng, self.start, self.rates, self.used_refs = random.Random(seed), start, rates, used_refs
        self.seed = seed
        # References come from a generator of their own: a reference the database already holds
        # is drawn again, and that must not change anyone's figures.
        self.ref_rng = random.Random(f"{seed}:references")
        self.homes: set[str] = set()

    def people(self, n: int):
        made = 0
        while made < n:
            if self.rng.randrange(100) < 55:  # a supported-living house, filled
                tenants = min(self.rng.randint(2, 4), n - made)
                council = self._council()
                home = self._home(council)
                for _ in range(tenants):
                    yield self._person(council, home, tenants)
                made += tenants
            else:
                yield self._person(self._council(), None, 0)
                made += 1

    def _council(self):
        pick = self.rng.randrange(sum(c[3] for c in COUNCILS))
        for council in COUNCILS:
            if pick < council[3]:
                return council
            pick -= council[3]
        raise AssertionError("unreachable")

    def _home(self, council) -> str:
        home = ""
        for _ in range(20):
            home = f"{self.rng.randint(1, 199)} {self.rng.choice(STREETS)}, {self.rng.choice(TOWNS[council[1]])}"
            if home not in self.homes:
                break
        else:  # a very large demo: the streets are full, so number the houses
            home = f"{home} (house {len(self.homes) + 1})"
        self.homes.add(home)
        return home

    def _reference(self, council) -> str:
        while True:
            ref = council[2].format(self.ref_rng.randint(10_000, 99_999 if "/" in council[2] else 999_999))
            if (council[0], ref) not in self.used_refs:
                self.used_refs.add((council[0], ref))
                return ref

    def _person(self, council, home: str | None, housemates: int) -> PersonSpec:
        rng = self.rng
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
        reference = self._reference(council)
        day_rate = rate_in_force(self.rates, "day_support", self.start)
        hours: dict[str, Decimal] = {}
        if home is None:
            hours["day_support"] = Decimal(rng.randint(28, 68)) / 2  # 14 to 34 hours a week
            year = hours["day_support"] * day_rate * 52
            # Their share of the scheme's background support (demo/shared_support.py): a third of
            # its weekly cost, more than a share of the scheme usually comes to.
            year += Decimal(SCHEME_WEEKLY_PENCE) / 100 * 52 / 3
        else:
            waking = rng.randrange(100) < 20
            hours["day_support"] = Decimal(rng.randint(30, 60) if waking else rng.randint(40, 110)) / 2
            year = hours["day_support"] * day_rate * 52
            # Each tenant's share of the house's sleep-in (charged later through a shared arrangement).
            year += rate_in_force(self.rates, "sleep_in", self.start) * 365 / housemates
            if waking:
                hours["waking_night"] = Decimal(7)
                year += rate_in_force(self.rates, "waking_night", self.start) * 7 * 52
        year += rng.randint(300, 2_500)  # flexible spend: trips, classes, equipment
        # The budget holds the contingency as well (five weeks of it) and bears the 10% fee: what is
        # left after both pays for the year's support (budget x (0.9 - 5/52) >= the year's cost).
        pounds = min(max(int((year * 66 / 52).quantize(Decimal(1), rounding=ROUND_HALF_UP)), MIN_BUDGET), MAX_BUDGET)
        contingency = int((Decimal(pounds) * 5 / 52).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        cycle = "monthly" if rng.randrange(100) < 15 else None  # None: the council's (four-weekly)
        fee_rate = Decimal("0.08") if rng.randrange(100) < 12 else DEFAULT_FEE_RATE
        contribution = rng.randint(40, 120) * 50 if rng.randrange(100) < 30 else 0  # £20.00 to £60.00
        base = TENANT_WEIGHTS if home else DAY_WEIGHTS
        weights = [(d, Decimal(base[d] + rng.randint(0, base[d] // 2))) for d in DOMAINS]
        split = split_largest_remainder(pounds - contingency, weights)  # the contingency is in the budget
        lines = []
        for domain in DOMAINS:
            choices = [o for o in OUTCOMES[domain] if home or "{home}" not in o]
            lines.append({"domain": domain, "outcome": rng.choice(choices).format(home=home),
                          "annual_amount_pence": split[domain] * 100})
        late = rng.randrange(100) < 12
        late_pick, late_days = rng.randrange(1000), rng.randint(8, 30)
        missed = rng.randrange(100) < 6
        missed_pick = rng.randrange(1000)
        own_missed = rng.randrange(100) < 8
        own_missed_pick = rng.randrange(1000)
        return PersonSpec(name=name, council=council, reference=reference, home=home,
                          budget_pence=pounds * 100, payment_cycle=cycle, fee_rate=fee_rate,
                          contribution_pence=contribution, planned_weekly_hours=hours,
                          contingency_pence=contingency * 100, budget_lines=lines,
                          late_pick=late_pick, late_days=late_days if late else 0,
                          missed_pick=missed_pick if missed else None,
                          own_missed_pick=own_missed_pick if own_missed and contribution else None,
                          hours_seed=f"{self.seed}:hours:{council[1]}:{reference}",
                          money_seed=f"{self.seed}:{reference}:money")


@dataclass
class PendingReceipt:
    """A receipt on its way in: its entries are posted with the rest of the person's, then its
    row is written with the transaction ids they were given, as record_receipt writes it."""

    person_id: int
    date: date
    amount_pence: int
    source: str
    reference: str | None
    fee_rate: Decimal
    fee_pence: int
    entry: Entry
    fee: Entry | None

    def row(self, created_at) -> dict:
        return {"person_id": self.person_id, "date": self.date, "amount_pence": self.amount_pence,
                "source": self.source, "reference": self.reference, "fee_exempt": False,
                "fee_rate": self.fee_rate, "fee_pence": self.fee_pence,
                "transaction_id": self.entry.posted_id,
                "fee_transaction_id": self.fee.posted_id if self.fee is not None else None,
                "created_at": created_at}


def pending_receipt(person_id: int, day: date, amount_pence: int, source: str, reference: str | None,
                    rate: Decimal, fund: dict, provider: dict) -> PendingReceipt:
    """The same transactions record_receipt posts: the money into `available`, then the fee at
    the plan's rate on the receipt's date, as its own transaction."""
    fee = fee_on(amount_pence, rate)
    entry, *fee_part = receipt_entries(person_id, day, amount_pence, source, reference, fee, fund, provider)
    fee_txn = fee_part[0] if fee_part else None
    return PendingReceipt(person_id, day, amount_pence, source, reference, rate, fee, entry, fee_txn)


def add_rate_card(session, entries) -> int:
    """Add the demo's rate card, leaving alone any service the provider's card already prices."""
    priced = set(session.scalars(sa.select(Rate.service).distinct()))
    added = 0
    for service, unit, rate, day in entries:
        if service not in priced:
            add_rate(session, service=service, unit=unit, rate=rate, effective_from=day)
            added += 1
    return added


def fill_person(session, spec: PersonSpec, start: date, today: date, provider: dict):
    """Write one person, their plan, their money and their hours; returns (receipts, deliveries,
    transactions, postings)."""
    person = create_person(session, name=spec.name, council=spec.council[0],
                           council_reference=spec.reference, opened_on=start,
                           may_name_council=True)
    plan = add_plan(session, person.id, effective_from=start, annual_budget_pence=spec.budget_pence,
                    payment_cycle=spec.payment_cycle, management_fee_rate=spec.fee_rate,
                    contingency_amount_pence=spec.contingency_pence,
                    weekly_client_contribution_pence=spec.contribution_pence,
                    planned_weekly_hours=spec.planned_weekly_hours, budget_lines=spec.budget_lines)
    funds = lock_funds(session, [person.id])
    fund = person_accounts(session, person.id)
    plan_windows = windows([plan])
    due = expected_instalments(session, person, today)
    n = max(len(due), 1)
    late_at = spec.late_pick % n if spec.late_days else None
    missed_at = spec.missed_pick % n if spec.missed_pick is not None else None
    own_missed_at = spec.own_missed_pick % n if spec.own_missed_pick is not None else None
    code = spec.council[1]
    pending = []
    for i, inst in enumerate(due):
        if inst.council_pence > 0 and i != missed_at:
            day = inst.due + timedelta(days=spec.late_days if i == late_at else 0)
            if day <= today:  # a late payment not yet in is simply arrears
                pending.append(pending_receipt(person.id, day, inst.council_pence, "council",
                                               f"{code} remittance {spec.reference} {inst.due.isoformat()}",
                                               fee_rate_in(plan_windows, day), fund, provider))
        if inst.person_pence > 0 and i != own_missed_at:
            pending.append(pending_receipt(person.id, inst.due, inst.person_pence, "client_contribution",
                                           f"standing order {inst.due.isoformat()}",
                                           fee_rate_in(plan_windows, inst.due), fund, provider))
    entries = [e for p in pending for e in (p.entry, p.fee) if e is not None]
    if entries:
        post(session, entries, funds)
        session.execute(sa.insert(Receipt.__table__), [p.row(utcnow()) for p in pending])
    rows = record_deliveries(session, person.id, month_by_month_hours(spec, start, today)) if start < today else []
    charged = [r for r in rows if r["transaction_id"] is not None]
    return (len(pending), len(rows), len(entries) + len(charged),
            sum(len(e.legs) for e in entries) + 4 * len(charged))  # a charge has four legs, like the fee


def fill_contingency_and_spend(session, spec: PersonSpec, person_id: int, start: date, today: date,
                               provider: dict) -> tuple[int, int]:
    """Contingency and spend for one person, planned last: the fund affords them after every
    receipt, fee, charge and share of shared support already posted. Returns (transactions, postings)."""
    funds = lock_funds(session, [person_id])
    fund = person_accounts(session, person_id)
    by_day = session.execute(sa.select(Posting.date, sa.func.sum(Posting.amount_pence))
                             .where(Posting.account_id == fund["available"].id).group_by(Posting.date))
    held = [Entry(kind="receipt", date=day, legs=[(fund["available"], int(pence))]) for day, pence in by_day]
    town = spec.home.rsplit(", ", 1)[-1] if spec.home else TOWNS[spec.council[1]][0]
    money = plan_contingency_and_spend(random.Random(spec.money_seed), person_id, spec.reference, town,
                                       spec.contingency_pence, start, today, held, fund, provider)
    if not money.entries:
        return 0, 0
    post(session, money.entries, funds)
    now = utcnow()
    for model, made in ((ContingencyMovement, money.movement_rows(person_id)), (Spend, money.spend_rows(person_id))):
        if made:
            session.execute(sa.insert(model.__table__), [{**r, "created_at": now} for r in made])
    return len(money.entries), sum(len(e.legs) for e in money.entries)

def _quarter_hours(rng, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 4, high * 4)) / 4


# A session's odds of going otherwise than planned, in a hundred: refused on the day, not used
# without notice, banked with notice, cancelled by the provider (staff sickness, a missed visit).
SESSION_ODDS = (("refused", 5), ("unplanned", 3), ("banked", 3), ("provider_cancelled", 3))
START_TIMES = (clock_time(9), clock_time(9, 30), clock_time(10), clock_time(13, 30), clock_time(14))


@dataclass(frozen=True)
class Slot:
    """One session of a person's week: the weekday (Monday 0), when it starts, how long, and the
    part of the plan it serves."""
    weekday: int
    start: clock_time
    hours: Decimal
    domain: str


def weekly_pattern(rng, weekly: Decimal, lines: list[dict]) -> list[Slot]:
    """A person's week of day support: three to six sessions on set days, the planned weekly hours
    shared between them in quarter hours, each serving a part of the plan in proportion to the
    plan's budget lines (largest remainder over the sessions)."""
    n = max(3, min(6, int(weekly / 5) + 2))
    days = sorted(rng.sample(range(7), n))
    quarters = int(weekly * 4)
    each = [quarters // n + (1 if i < quarters % n else 0) for i in range(n)]
    amounts = [(line["domain"], Decimal(line["annual_amount_pence"])) for line in lines if line["domain"] in DAY_DOMAINS]
    amounts = amounts or [(d, Decimal(1)) for d in DAY_DOMAINS]
    counts = split_largest_remainder(n, amounts)
    domains = [d for d, _ in amounts for _ in range(counts[d])]
    rng.shuffle(domains)
    return [Slot(day, rng.choice(START_TIMES), Decimal(q) / 4, domain)
            for day, q, domain in zip(days, each, domains) if q]


def month_by_month_hours(spec: PersonSpec, start: date, today: date) -> list[DeliveryIn]:
    """A rostering system's sessions, as life goes: day support on the person's set days each week
    (weekly_pattern) at the planned hours; a few sessions refused on the day, not used without
    notice, banked with a week's notice or cancelled by the provider; banked hours drawn later as
    an extra session on another day; a waking night every night. Only days before today; the bank
    is drawn only from what it holds, within the year."""
    rng = random.Random(spec.hours_seed)
    week = {service: weekly_pattern(rng, Decimal(weekly), spec.budget_lines)
            for service, weekly in spec.planned_weekly_hours.items() if service != "waking_night"}
    out: list[DeliveryIn] = []
    lots: list[list] = []  # [lapses_on, hours left], oldest first, as the bank draws them
    day, yesterday = start, today - timedelta(days=1)
    while day <= yesterday:
        if "waking_night" in spec.planned_weekly_hours:
            status = "provider_cancelled" if rng.randrange(100) < 1 else "delivered"
            out.append(DeliveryIn(day, clock_time(22), "waking_night", Decimal(1), status, "staying_safe"))
        for service, slots in week.items():
            for slot in slots:
                if slot.weekday != day.weekday():
                    continue
                status, roll = "delivered", rng.randrange(100)
                for other, chance in SESSION_ODDS:
                    if roll < chance:
                        status = other
                        break
                    roll -= chance
                notice = None
                if status == "banked":
                    lots.append([day + timedelta(days=BANK_EXPIRY_DAYS), slot.hours])
                    notice = datetime.combine(day - timedelta(days=rng.randint(3, 10)), clock_time(9), tzinfo=UK)
                out.append(DeliveryIn(day, slot.start, service, slot.hours, status, slot.domain, notice))
            # Banked hours drawn now and then, as an extra session on a day without one.
            if not any(s.weekday == day.weekday() for s in slots) and rng.randrange(100) < 6:
                held = sum(left for lapses_on, left in lots if lapses_on > day)
                if held > 0:
                    need = qty = min(held, _quarter_hours(rng, 2, 4))
                    for lot in lots:
                        take = min(need, lot[1]) if lot[0] > day else Decimal(0)
                        lot[1], need = lot[1] - take, need - take
                    out.append(DeliveryIn(day, clock_time(10), service, qty, "bank_used", rng.choice(slots).domain
                                          if slots else "personal_care"))
        day += timedelta(days=1)
    return out


# While the demo loads SQLite, its connection keeps a larger page cache and folds the WAL back
# into the database rarely: each person's commit touches the same hot index pages of the
# provider's accounts, and a checkpoint every 1,000 pages (the default) rewrites them over and
# over (about seven times the disk writes for 10,000 people). Per connection, for this run only.
SQLITE_BULK = ("PRAGMA cache_size=-131072", "PRAGMA wal_autocheckpoint=50000")
SQLITE_USUAL = ("PRAGMA cache_size=-2000", "PRAGMA wal_autocheckpoint=1000")


# On PostgreSQL the tables the demo fills are analysed as they grow (and once at the end, as
# after any bulk load): without fresh statistics (autovacuum off, or not caught up yet) the
# plan a connection cached while `postings` was nearly empty stays a sequential scan, and the
# core's balance trigger then re-reads every posting for each transaction written.
FILLED = ("postings", "transactions", "receipts", "account_months", "people", "funds", "accounts",
          "plan_versions", "budget_lines", "contingency_movements", "spend")


def refresh_statistics(session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(f"ANALYZE {', '.join(FILLED)}"))
        session.commit()


def analyse_now(done: int) -> bool:
    """After 20 people, then 200, 2,000, 20,000...: the tables ten times larger each time."""
    return done >= 20 and str(done).rstrip("0") == "2"


@contextmanager
def bulk_loading(engine):
    if engine.dialect.name != "sqlite":
        yield
        return

    def tune(dbapi_conn, _record, _proxy):
        cur = dbapi_conn.cursor()
        for pragma in SQLITE_BULK:
            cur.execute(pragma)
        cur.close()

    event.listen(engine, "checkout", tune)
    try:
        yield
    finally:
        event.remove(engine, "checkout", tune)
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            for pragma in ("PRAGMA wal_checkpoint(TRUNCATE)", *SQLITE_USUAL):
                cur.execute(pragma).fetchall()
            cur.close()
        finally:
            raw.close()


@click.command("demo")
@click.option("--people", default=50, show_default=True, type=click.IntRange(1, 1_000_000),
              help="How many people the provider supports.")
@click.option("--months", default=12, show_default=True, type=click.IntRange(1, 120),
              help="How many months of history, ending today.")
@click.option("--seed", default=1, show_default=True, type=int, help="The same seed gives the same figures.")
@click.option("--append", is_flag=True, help="Add the demo provider to a database that already has people.")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) if the database already has people.")
@with_appcontext
def demo_cmd(people, months, seed, append, if_empty):
    """Fill the ledger with a demo provider: councils, a rate card, people, plans, receipts,
    contingency and spend, and (50 people or more) clawbacks, fee refunds and closed funds."""
    session = db.session
    began = time.perf_counter()
    already = session.scalar(sa.select(sa.func.count(Person.id)))
    if already and if_empty and not append:
        session.rollback()
        click.echo(f"the ledger already has {already} people: no demo data added")
        return
    if already and not append:
        session.rollback()
        raise click.ClickException(f"the database already has {already} people; the demo fills an empty "
                                   "ledger (give --append to add the demo provider alongside them)")
    today = uk_today()
    start = demo_start(today, months)
    rates = rate_entries(start, today)
    held = (sa.select(Council.name, Person.council_reference).join(Person, Person.council_id == Council.id)
            .where(Person.council_reference.is_not(None)))
    used = {(name, ref) for name, ref in session.execute(held)}
    add_rate_card(session, rates)
    if session.get(ProviderRow, 1) is None:  # who "we" are on the demo's letters, unless already set
        set_provider(session, DEMO_PROVIDER)
    provider = provider_accounts(session)
    for account in provider.values():  # detached, so the commits to come leave them loaded
        session.expunge(account)
    session.commit()

    receipts = deliveries = transactions = postings = done = 0
    specs = []
    with bulk_loading(db.engine):
        try:
            with click.progressbar(Provider(seed, start, rates, used).people(people), length=people,
                                   label=f"Filling {people} people from {start.isoformat()}") as bar:
                for spec in bar:
                    r, d, t, p = fill_person(session, spec, start, today, provider)
                    specs.append(spec)
                    session.commit()
                    receipts, deliveries, transactions, postings = receipts + r, deliveries + d, transactions + t, postings + p
                    done += 1
                    if analyse_now(done):
                        refresh_statistics(session)
        except BaseException:
            session.rollback()  # before the end of the bulk load checkpoints the WAL
            if done:
                click.echo(f"stopped after {done} people; each of them is complete", err=True)
            raise
    # The houses' sleep-ins and the schemes' background support, charged for every month ended.
    people = people_of(session, specs)
    arrangements, months = add_shared_support(session, people, start, today, rates, seed)
    # Then what each fund can afford: contingency set aside and drawn, and spend on their behalf.
    by_reference = dict(session.execute(
        sa.select(Person.council_reference, Person.id).where(Person.id.in_([pid for pid, _, _ in people]))).all())
    with bulk_loading(db.engine):
        for spec in specs:
            t, p = fill_contingency_and_spend(session, spec, by_reference[spec.reference], start, today, provider)
            session.commit()
            transactions, postings = transactions + t, postings + p
        # Last: a few surpluses recovered, fee refunds, and people who leave (demo_endings.py).
        ended = add_endings(session, [(by_reference[spec.reference], spec) for spec in specs], start, today, seed)
        transactions, postings = transactions + ended.transactions, postings + ended.postings
    refresh_statistics(session)
    seconds = time.perf_counter() - began
    counted = session.execute(sa.select(sa.func.count(sa.distinct(Transaction.id)), sa.func.count(Posting.id))
                              .select_from(Transaction).join(Posting, Posting.transaction_id == Transaction.id)
                              .where(Transaction.kind.in_(("shared_charge", "shared_void")))).one()
    session.rollback()
    transactions, postings = transactions + counted[0], postings + counted[1]
    click.echo(f"demo: {done} people, {receipts} receipts, {deliveries} deliveries, {transactions} transactions, "
               f"{postings} postings, {arrangements} shared arrangements charged for {months} months, "
               f"{ended.clawbacks} clawback{'s' * (ended.clawbacks != 1)}, "
               f"{ended.fee_refunds} fee refund{'s' * (ended.fee_refunds != 1)}, "
               f"{ended.closings} fund{'s' * (ended.closings != 1)} closed, "
               f"{seconds:.1f} seconds (seed {seed}, {start.isoformat()} to {today.isoformat()})")
    click.echo("To use the API, get a token (on make run's SQLite file): "
               "ISF_ENV=development .venv/bin/isf-ledger users create --name NAME --role finance")
