"""The bank: hours a person planned ahead not to use, kept per service to be drawn later.

Banked hours go in as a lot on the banked session's date and lapse `bank_expiry_days` after it
(the first day they are gone is the delivery's `lapses_on`). A `bank_used` draws from the oldest
lot not yet lapsed on the day it is used, first in first out. A lapse moves no money. Reversed
deliveries are not in the bank at all. The bank is never stored: it is replayed from the
deliveries, for many funds at once, so it can be read as at any date.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from ..models import Delivery, DeliveryReversal

BANK_STATUSES = ("banked", "bank_used")


@dataclass(frozen=True)
class BankEvent:
    day: date
    hundredths: int  # in: banked; out: bank_used
    banked: bool
    lapses_on: date | None = None
    delivery_id: int | None = None  # None: a delivery not yet written


@dataclass(frozen=True)
class Shortfall:
    """A draw the bank could not cover: what it needed and what the bank held then."""

    event: BankEvent
    held: int


def _order(e: BankEvent):
    # On one day lots go in before draws; then in the order written (new ones last).
    return e.day, not e.banked, e.delivery_id is None, e.delivery_id or 0


def replay(events: list[BankEvent], dates=()) -> tuple[dict[date, int], list[Shortfall]]:
    """Run one service's bank through time. Returns the hours held at the end of each of `dates`
    and every draw the bank could not cover (those draw what there was)."""
    lots: list[list] = []  # [lapses_on, hundredths left], oldest first
    wanted = sorted(set(dates))
    held: dict[date, int] = {}
    shortfalls: list[Shortfall] = []
    i = 0

    def in_bank(day: date) -> int:
        return sum(left for lapses_on, left in lots if lapses_on > day)

    for e in sorted(events, key=_order):
        while i < len(wanted) and wanted[i] < e.day:
            held[wanted[i]] = in_bank(wanted[i])
            i += 1
        if e.banked:
            lots.append([e.lapses_on, e.hundredths])
            continue
        before, need = in_bank(e.day), e.hundredths
        for lot in lots:
            if need == 0:
                break
            if lot[0] > e.day and lot[1]:
                take = min(need, lot[1])
                lot[1] -= take
                need -= take
        if need:
            shortfalls.append(Shortfall(e, before))
    for day in wanted[i:]:
        held[day] = in_bank(day)
    return held, shortfalls


def bank_events_query(dated: bool, one: bool = False):
    """Built once (a balance reads it on every request): every listed fund's banked and drawn
    hours, not reversed, optionally up to a date; `one`: one fund's (`person_id`), no list to expand."""
    if one:  # plain comparisons: nothing for the statement to expand on every run
        whose = sa.and_(Delivery.person_id == sa.bindparam("person_id"),
                        sa.or_(*(Delivery.status == status for status in BANK_STATUSES)))
    else:
        whose = sa.and_(Delivery.person_id.in_(sa.bindparam("ids", expanding=True)),
                        Delivery.status.in_(BANK_STATUSES))
    q = (sa.select(Delivery.id, Delivery.person_id, Delivery.service, Delivery.date, Delivery.status,
                   Delivery.quantity_hundredths, Delivery.lapses_on)
         .outerjoin(DeliveryReversal, DeliveryReversal.delivery_id == Delivery.id)
         .where(DeliveryReversal.id.is_(None), whose))
    return q.where(Delivery.date <= sa.bindparam("until", type_=sa.Date)) if dated else q


_BANK_EVENTS = {False: bank_events_query(False), True: bank_events_query(True)}


def bank_events(session, person_ids, until: date | None = None) -> dict[tuple[int, str], list[BankEvent]]:
    """Every fund's banked and drawn hours (not reversed) up to a date, per (person, service),
    in one query."""
    params = {"ids": sorted(set(person_ids))}
    if until is not None:
        params["until"] = until
    out: dict[tuple[int, str], list[BankEvent]] = defaultdict(list)
    for did, pid, service, day, status, qty, lapses_on in session.execute(_BANK_EVENTS[until is not None], params):
        out[(pid, service)].append(BankEvent(day, qty, status == "banked", lapses_on, did))
    return out


def banks(session, person_ids, as_of: date) -> dict[int, dict[str, int]]:
    """Each fund's bank as at a date: service -> hundredths held (services holding none left out)."""
    return held_at(bank_events(session, person_ids, as_of), person_ids, as_of)


def held_at(events: dict[tuple[int, str], list[BankEvent]], person_ids, as_of: date) -> dict[int, dict[str, int]]:
    """What each fund's bank holds at a date, replayed from its events (as `bank_events` gives them)."""
    out: dict[int, dict[str, int]] = {pid: {} for pid in person_ids}
    for (pid, service), evs in events.items():
        held = replay(evs, [as_of])[0][as_of]
        if held:
            out[pid][service] = held
    return out
