"""Many funds' positions as at a date, in a handful of queries whatever their number.

This is the read path of everything that looks at more than one fund: the people list, month
end, dashboards, review packs. Each figure is read set-based (one query for every fund's pots
from the monthly checkpoints plus the last month's postings; later one for every fund's bank,
surplus and arrears), never a query per person. The bank is replayed from the
banked and drawn deliveries of all the funds, read in one query.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from ..db import among
from ..money import apply_rate
from .bank import BankEvent, bank_events_query, banks, held_at
from ..ledger.post import fund_balance_query
from ..models import Account, AccountMonth, Posting
from .rates import RateBook
from ..clock import month_start

# Above this many ids a filter is a join on the ids, not an IN list the database must parse.
_IN_LIST_LIMIT = 1000


@dataclass
class Position:
    person_id: int
    available: int = 0  # pence
    contingency: int = 0
    bank_hundredths: int = 0  # hours (or nights) banked and not yet used or lapsed
    bank_value: int = 0  # pence: the bank at the rates in force on the date; earmarked, not surplus


def pots(session, person_ids: list[int] | None, as_of: date) -> dict[int, dict[str, int]]:
    """Every listed fund's pots in pence as at `as_of` (None: every fund), in one query: whole
    months from the checkpoints, the last month from its postings. A short list finds its funds'
    accounts first and reads each part through its account index: filtering after the union made
    SQLite materialise every fund's rows (1.2 s a call at 10,000 people, for a page of 50)."""
    first = month_start(as_of)
    months = sa.select(AccountMonth.account_id, AccountMonth.net_pence.label("pence")).where(AccountMonth.month < first)
    last = (sa.select(Posting.account_id, Posting.amount_pence.label("pence"))
            .where(Posting.date >= first, Posting.date <= as_of))
    if person_ids is not None and len(person_ids) <= _IN_LIST_LIMIT:
        wanted = sa.select(Account.id).where(among(session, Account.person_id, person_ids))
        months = months.where(AccountMonth.account_id.in_(wanted))
        last = last.where(Posting.account_id.in_(wanted))
    moves = sa.union_all(months, last).subquery()
    q = (sa.select(Account.person_id, Account.kind, sa.func.sum(moves.c.pence))
         .join(moves, moves.c.account_id == Account.id)
         .where(Account.person_id.is_not(None))
         .group_by(Account.person_id, Account.kind))
    if person_ids is not None and len(person_ids) > _IN_LIST_LIMIT:
        ids = sa.values(sa.column("pid", sa.Integer), name="wanted").data([(i,) for i in person_ids])
        q = q.join(ids, ids.c.pid == Account.person_id)
    out: dict[int, dict[str, int]] = {pid: {} for pid in person_ids or []}
    for pid, kind, pence in session.execute(q):
        out.setdefault(pid, {})[kind] = int(pence)
    return out


def bank_positions(session, person_ids: list[int], as_of: date) -> dict[int, tuple[int, int]]:
    """Each fund's bank as at a date: (hundredths, value in pence), valued per service at the rate
    in force on that date (the plan's override first), rounded half up, summed."""
    return bank_values(session, banks(session, person_ids, as_of), as_of)


def bank_values(session, held: dict[int, dict[str, int]], as_of: date) -> dict[int, tuple[int, int]]:
    """Each fund's bank (service -> hundredths, as `bank.banks` gives it) as (hundredths, value in
    pence) at the rates in force on `as_of`; the rates are read only when some bank holds hours."""
    holding = [pid for pid, services in held.items() if services]
    book = RateBook(session, {s for pid in holding for s in held[pid]}, holding) if holding else None
    out = {}
    for pid, services in held.items():
        value = 0
        for service, hundredths in services.items():
            rate = book.rate(pid, service, as_of)
            value += apply_rate(hundredths, rate) if rate is not None else 0
        out[pid] = (sum(services.values()), value)
    return out


def positions(session, person_ids: list[int] | None, as_of: date) -> dict[int, Position]:
    """Each listed fund's position as at a date (None: every fund)."""
    held = pots(session, person_ids, as_of)
    bank = bank_positions(session, list(held), as_of)
    return {pid: Position(pid, p.get("available", 0), p.get("contingency", 0), *bank.get(pid, (0, 0)))
            for pid, p in held.items()}


def _fund_position_query():
    """Built once (every balance request reads it): one fund's banked and drawn hours up to a date
    (as `bank.bank_events` reads them) and its pots as at that date (as `ledger.fund_balance`
    reads them), as one UNION ALL. A pot's row has no delivery id; its kind and pence stand in
    the service and quantity columns."""
    pots_q = fund_balance_query(True)
    kind, pence = pots_q.selected_columns
    nothing = lambda type_: sa.type_coerce(sa.null(), type_)  # noqa: E731
    pots_q = pots_q.with_only_columns(
        nothing(sa.BigInteger), nothing(sa.Integer), kind, nothing(sa.Date), nothing(sa.String),
        sa.type_coerce(pence, sa.BigInteger), nothing(sa.Date))
    return sa.union_all(pots_q, bank_events_query(True, one=True))


_FUND_POSITION = _fund_position_query()


def fund_position(session, person_id: int, as_of: date) -> Position:
    """One fund's position as at a date, as `positions` gives it, from one query (pots and bank
    together); the rates are read only when the bank holds hours."""
    pence: dict[str, int] = {}
    events: dict[tuple[int, str], list[BankEvent]] = {}
    rows = session.execute(_FUND_POSITION, {"person_id": person_id, "first": month_start(as_of), "as_of": as_of,
                                                "until": as_of})
    for did, _, name, day, status, amount, lapses_on in rows:
        if did is None:
            pence[name] = int(amount)
        else:
            events.setdefault((person_id, name), []).append(BankEvent(day, int(amount), status == "banked",
                                                                      lapses_on, did))
    hundredths, value = bank_values(session, held_at(events, [person_id], as_of), as_of)[person_id]
    return Position(person_id, pence.get("available", 0), pence.get("contingency", 0), hundredths, value)
