"""The demo's shared support, through the same operations the API uses.

Each supported-living house gets a sleep-in at the rate card's sleep-in rate (a new version from
each April uplift); some houses have an empty room, borne by the provider or by a council that
funds voids. People on day support only who live near one another share background support in an
extra-care scheme, at agreed weights. Eastmere funds its houses' empty places. Every month that has ended is charged. Figures come from a
generator of their own (seeded), so adding shared support changes nobody else's demo figures.
"""
from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from ..models import Council, Person
from ..shared_support.charges import add_member, add_version, charge_month, create_arrangement
from ..clock import month_end, next_month

EMPTY_ROOM_IN_100 = 30
SCHEME_WEEKLY_PENCE = 420_00  # background support on call in the scheme, 24 hours a day
SCHEME_SIZE = 6
VOIDS_COUNCIL = "Eastmere City Council"


def add_shared_support(session, people: list[tuple[int, str | None, str]], start: date, today: date,
                       rates, seed: int) -> tuple[int, int]:
    """`people`: (person id, home or None, council name) in the order the demo made them. Returns
    (arrangements, months charged)."""
    rng = random.Random(f"{seed}:shared")
    # One demo council funds empty places (its own line in actuals); the others leave them to the provider.
    eastmere = session.scalar(sa.select(Council).where(Council.name == VOIDS_COUNCIL))
    if eastmere is not None and eastmere.voids_funded_by_council is None:
        eastmere.voids_funded_by_council = True
    homes: dict[str, list[tuple[int, str]]] = {}
    day_only: list[tuple[int, str]] = []
    for pid, home, council in people:
        (homes.setdefault(home, []) if home else day_only).append((pid, council))
    made = []
    for home, tenants in homes.items():
        empty_room = rng.randrange(100) < EMPTY_ROOM_IN_100
        sleep_in = [r for r in rates if r[0] == "sleep_in"]
        first = max((r for r in sleep_in if r[3] <= start), key=lambda r: r[3])
        arrangement = create_arrangement(session, name=f"Sleep-in, {home}", capacity=len(tenants) + empty_room,
                                         method="equal", per_night_pence=_pence(first[2]), effective_from=start,
                                         council=tenants[0][1])
        for _, _, rate, day in sleep_in:
            if start < day <= today:
                add_version(session, arrangement, effective_from=day, capacity=len(tenants) + empty_room,
                            per_night_pence=_pence(rate))
        for pid, _ in tenants:
            add_member(session, arrangement, person_id=pid, starts_on=start, agreed_on=start,
                       recorded_by="demo: tenancy agreement")
        made.append(arrangement.id)
    # One extra-care scheme per council, for people on day support only.
    by_council: dict[str, list[int]] = {}
    for pid, council in day_only:
        by_council.setdefault(council, []).append(pid)
    for council, pids in sorted(by_council.items()):
        members = pids[:SCHEME_SIZE]
        if len(members) < 2:
            continue
        scheme = create_arrangement(session, name=f"Background support, {council.split()[0]} extra care scheme",
                                    capacity=len(members) + rng.randint(0, 2), method="weighted",
                                    weekly_pence=SCHEME_WEEKLY_PENCE, effective_from=start,
                                    domain="staying_safe", council=council)
        for pid in members:
            add_member(session, scheme, person_id=pid, starts_on=start, agreed_on=start,
                       weight=rng.choice((Decimal(1), Decimal(1), Decimal("1.5"), Decimal(2))),
                       recorded_by="demo: scheme agreement")
        made.append(scheme.id)
    session.commit()
    months, month = 0, start
    while month_end(month) < today:
        charge_month(session, made, month)
        session.commit()
        months += 1
        month = next_month(month)
    return len(made), months


def _pence(pounds: Decimal) -> int:
    return int(pounds * 100)


def people_of(session, specs) -> list[tuple[int, str | None, str]]:
    """The demo's people (PersonSpec, in order) with their ids, found by council and reference."""
    refs = {(s.council[0], s.reference): s for s in specs}
    rows = session.execute(sa.select(Person.id, Council.name, Person.council_reference)
                           .join(Council, Council.id == Person.council_id)
                           .where(Person.council_reference.in_([s.reference for s in specs])))
    ids = {(name, ref): pid for pid, name, ref in rows}
    return [(ids[key], spec.home, spec.council[0]) for key, spec in refs.items() if key in ids]
