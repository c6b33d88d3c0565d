"""Hours: support delivered, refused, unplanned, banked, drawn from the bank, or cancelled by the
provider (domain.md, "Hours"), and the hours against the plan that statements and review packs read.

A charged delivery posts one "delivery" transaction: ROUND_HALF_UP(quantity x rate) at the rate
in force on the session's date (the plan's override first, then the rate card). A delivery is
never edited: reversing it reverses its charge and takes its hours out of every figure.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, has_app_context

from ..clock import UK, month_end, month_starts
from ..config import DEFAULTS
from ..db import among
from ..errors import Conflict, Invalid
from ..money import apply_rate
from .bank import BANK_STATUSES, BankEvent, bank_events, replay
from .dates import refuse_before_opening, refuse_future
from .councils import rule_history, rule_on
from ..ledger.post import person_and_provider_accounts
from ..ledger.post import Entry, lock_funds, post
from ..models import Delivery, DeliveryReversal, Fund, Person, PlanService, Transaction
from .plans import plans_by_person, windows
from .rates import RateBook
from ..ledger.reversals import after_reversal, reverse
from ..models.hours import CHARGED, STATUSES  # noqa: F401 - read from here too
from .rate_adjustments import undo_adjustments

# Hours used (domain.md "One meaning for each figure"): support given and drawn from the bank.
# Refused and unplanned hours are charged but were not used, and are shown as such.
USED = ("delivered", "bank_used")


def hours_used(row: dict):
    """Hours used in a period's figures (hundredths, quantities or their strings alike)."""
    if "used" in row:
        return row["used"]
    values = [row.get(k, 0) for k in USED]
    if any(isinstance(v, str) for v in values):
        return str(sum(Decimal(v) for v in values).quantize(Decimal("0.01")))
    return sum(values)

# One delivery is one day's session at most (domain.md "Hours"): 24 hours, or one night of a
# per-night service; in hundredths.
MAX_QUANTITY = {"hour": 2400, "night": 100}


def hundredths(quantity: Decimal) -> int:
    return int((quantity * 100).to_integral_exact())


def quantity(hundredths_: int) -> Decimal:
    return (Decimal(hundredths_) / 100).quantize(Decimal("0.01"))


@dataclass
class DeliveryIn:
    date: date
    start_time: time
    service: str
    quantity: Decimal
    status: str
    domain: str
    notice_given_at: datetime | None = None  # zone-aware
    external_id: str | None = None  # the rostering system's visit id (imports only)


def session_start(day: date, start: time) -> datetime:
    """The session's start, UK local time, as a moment (a time the clocks skip counts as after the change)."""
    return datetime.combine(day, start, tzinfo=UK)


def banking_notice_hours() -> int:
    """Hours of notice a person must give to bank a session (domain.md "Hours"): the app's
    BANKING_NOTICE_HOURS setting (config.py), read here and nowhere else."""
    default = DEFAULTS["BANKING_NOTICE_HOURS"]
    return int(current_app.config.get("BANKING_NOTICE_HOURS", default)) if has_app_context() else default


def check_notice(item: DeliveryIn, notice_hours: int) -> None:
    """Banking needs `notice_hours` of notice, counted in real elapsed hours (UTC), so a night
    the clocks change is 23 or 25 hours long."""
    how = "record these hours as `unplanned` (not used, without the notice needed to bank them)"
    if item.notice_given_at is None:
        raise Invalid("notice_given_at", f"banking needs notice given at least {notice_hours} hours "
                                         f"before the session; without it {how}")
    start = session_start(item.date, item.start_time).astimezone(timezone.utc)
    elapsed = start - item.notice_given_at.astimezone(timezone.utc)
    if elapsed < timedelta(hours=notice_hours):
        hours, rest = divmod(int(elapsed.total_seconds()) // 60, 60)
        given = f"{hours} h {rest:02d} m" if elapsed > timedelta(0) else "none (given after the start)"
        raise Invalid("notice_given_at", f"only {given} of notice before the session; banking needs "
                                         f"{notice_hours} h, so {how}")


def charge_entry(person_id: int, item: DeliveryIn, unit: str, charge: int, fund: dict, provider: dict) -> Entry:
    """Like the fee: the charge leaves the fund as support income and moves from client money to
    the provider's own bank, so client money still equals the sum of funds."""
    units = "h" if unit == "hour" else "nights"
    return Entry(kind="delivery", date=item.date, person_id=person_id, service_date=item.date,
                 description=f"Support: {quantity(hundredths(item.quantity))} {units} {item.service} "
                             f"on {item.date.isoformat()} ({item.status.replace('_', ' ')})",
                 legs=[(fund["available"], -charge), (provider["support_income"], charge),
                       (provider["client_money"], charge), (provider["provider_bank"], -charge)])


def checked_row(book: RateBook, person_id: int, item: DeliveryIn, *, opened_on: date | None,
                notice_hours: int, expiry_days, user_id: int | None = None) -> dict:
    """The delivery's row as it will be written, with its charge; Invalid (naming the field) if a
    rule refuses it. The bank's balance is checked over all of a fund's new rows together.
    `expiry_days(plan, day)` is the bank_expiry_days rule on the session's date."""
    refuse_future(item.date)
    refuse_before_opening(item.date, opened_on)
    rate = book.rate(person_id, item.service, item.date)
    if rate is None:
        raise Invalid("service", f"no rate for {item.service} on {item.date.isoformat()}: add it to the "
                                 "rate card (or the plan's rate_overrides) first")
    unit, qty = book.unit(item.service), hundredths(item.quantity)
    if unit == "night" and qty % 100:
        raise Invalid("quantity", f"{item.service} is charged per night: give a whole number of nights")
    if qty > MAX_QUANTITY[unit]:
        raise Invalid("quantity", f"one delivery is at most the length of a day: {quantity(MAX_QUANTITY[unit])} "
                                  f"{unit}s of {item.service}; record each day's session on its own")
    lapses_on = None
    if item.status == "banked":
        check_notice(item, notice_hours)
        plan = book.plan(person_id, item.date)
        lapses_on = item.date + timedelta(days=expiry_days(plan, item.date))
    return {"person_id": person_id, "date": item.date, "start_time": item.start_time,
            "service": item.service, "unit": unit, "quantity_hundredths": qty, "status": item.status,
            "notice_given_at": item.notice_given_at, "domain": item.domain, "rate": rate,
            "charge_pence": apply_rate(qty, rate) if item.status in CHARGED else 0, "lapses_on": lapses_on,
            "created_by": user_id, "transaction_id": None, "external_id": item.external_id}


def record_deliveries(session, person_id: int, items: list[DeliveryIn], *,
                      notice_hours: int | None = None, user_id: int | None = None) -> list[dict]:
    """Record a person's deliveries together (one lock, one post, one insert): all or none.
    Returns the rows written, in the order given. `notice_hours`: banking_notice_hours() unless given."""
    notice_hours = banking_notice_hours() if notice_hours is None else notice_hours
    opened_on = session.scalar(sa.select(Fund.opened_on).where(Fund.person_id == person_id))
    book = RateBook(session, {i.service for i in items}, [person_id])
    banking = any(i.status == "banked" for i in items)
    # The council's rules are read only for banked hours (their expiry); the person is the one the
    # guard already loaded (session.get: no query).
    council = session.get(Person, person_id).council if banking else None
    history = rule_history(session, [council.id]) if banking else None

    def expiry_days(plan, day):
        return rule_on(session, "bank_expiry_days", council, plan, day, history)

    rows = [checked_row(book, person_id, item, opened_on=opened_on, notice_hours=notice_hours,
                        user_id=user_id, expiry_days=expiry_days) for item in items]
    funds = lock_funds(session, [person_id])  # a fund's writers queue here: two draws cannot both land
    _check_bank_holds(session, person_id, rows)
    accounts, provider = person_and_provider_accounts(session, person_id)
    return write_deliveries(session, rows, items, funds, {person_id: accounts}, provider, user_id)


def write_deliveries(session, rows: list[dict], items: list[DeliveryIn], funds: dict, accounts: dict,
                     provider: dict, user_id: int | None = None, *, ids: bool = True) -> list[dict]:
    """Write checked rows (checked_row's, the bank already checked, their funds locked): one post
    of their charges, one insert. `accounts` is each person's person_accounts. With `ids` False
    the rows' ids are not read back, so the insert is one executemany (SQLite sends RETURNING
    with sort_by_parameter_order one row at a time)."""
    entries = {i: charge_entry(row["person_id"], item, row["unit"], row["charge_pence"], accounts[row["person_id"]],
                               provider)
               for i, (row, item) in enumerate(zip(rows, items)) if row["charge_pence"]}
    if entries:
        post(session, list(entries.values()), funds, user_id)
    for i, entry in entries.items():
        rows[i]["transaction_id"] = entry.posted_id
    table = Delivery.__table__  # the table, not the class: the ORM's bulk path costs more per row than SQL
    if not ids:
        session.execute(sa.insert(table), rows)
        return rows
    for row, did in zip(rows, session.scalars(sa.insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                              rows).all()):
        row["id"] = did
    return rows


def bank_shortfalls(events: dict, person_id: int, new_rows: list[dict], without: int | None = None):
    """Per service, the draws the bank could not cover with the new rows added to `events`
    (bank_events' answer); each new row's event is the one in `row["bank_event"]`."""
    out = {}
    for service in sorted({r["service"] for r in new_rows}):
        mine = [e for e in events.get((person_id, service), []) if e.delivery_id != without]
        for r in new_rows:
            if r["service"] == service:
                r["bank_event"] = BankEvent(r["date"], r["quantity_hundredths"], r["status"] == "banked",
                                            r["lapses_on"])
                mine.append(r["bank_event"])
        _, short = replay(mine)
        if short:
            out[service] = short
    return out


def _check_bank_holds(session, person_id: int, new_rows: list[dict], without: int | None = None) -> None:
    """Refuse (409) anything after which some draw would take hours the bank did not hold on its
    day: a new draw beyond the bank, or taking away banked hours already drawn."""
    new_rows = [dict(r) for r in new_rows if r["status"] in BANK_STATUSES]
    if not new_rows:
        return
    for service, short in bank_shortfalls(bank_events(session, [person_id]), person_id, new_rows, without).items():
        first = short[0]
        if without is not None:
            raise Conflict(f"these banked hours were already drawn: without them the {service} bank "
                           f"could not cover {quantity(first.event.hundredths)} h used on "
                           f"{first.event.day.isoformat()}; reverse that use first",
                           {"bank_used_delivery_id": first.event.delivery_id}, code="banked_hours_drawn")
        raise Conflict(f"the {service} bank holds {quantity(first.held)} h on {first.event.day.isoformat()}, "
                       f"not enough for {quantity(first.event.hundredths)} h used from it",
                       {"quantity": [f"more than the {quantity(first.held)} h in the bank"],
                        "bank_hours": str(quantity(first.held))}, code="bank_exceeded")


def reversal_of(session, delivery_id: int) -> DeliveryReversal | None:
    return session.scalar(sa.select(DeliveryReversal).where(DeliveryReversal.delivery_id == delivery_id))


def reverse_delivery(session, delivery: Delivery, *, reason: str, day: date | None = None,
                     user_id: int | None = None) -> DeliveryReversal:
    """Take a delivery out of every figure and reverse its charge (with any rate adjustments)."""
    if day is not None and day < delivery.date:
        raise Invalid("date", f"a reversal cannot be dated before the delivery ({delivery.date.isoformat()})")
    lock_funds(session, [delivery.person_id])
    done = reversal_of(session, delivery.id)
    if done is not None:
        raise Conflict(f"delivery {delivery.id} was already reversed on {done.date.isoformat()}",
                       {"reversal_transaction_id": done.transaction_id}, code="already_reversed")
    if delivery.status == "banked":
        _check_bank_holds(session, delivery.person_id, [{"service": delivery.service, "status": "banked",
                                                          "date": delivery.date, "quantity_hundredths": 0,
                                                          "lapses_on": delivery.lapses_on}],
                          without=delivery.id)
    if delivery.transaction_id is not None:
        reverse(session, session.get(Transaction, delivery.transaction_id), reason=reason, day=day, user_id=user_id)
        return reversal_of(session, delivery.id)  # written by the hook below
    row = DeliveryReversal(delivery_id=delivery.id, date=day or delivery.date, reason=reason, created_by=user_id)
    session.add(row)
    session.flush()
    return row


@after_reversal("delivery")
def _charge_reversed(session, txn: Transaction, reversal: Entry, user_id: int | None) -> None:
    """However the charge was reversed (here, or POST /transactions/{id}/reverse), the delivery
    leaves every figure, and any rate adjustments posted on it are undone with it."""
    delivery = session.scalar(sa.select(Delivery).where(Delivery.transaction_id == txn.id))
    if delivery is None:
        return
    session.add(DeliveryReversal(delivery_id=delivery.id, date=reversal.posted_date, reason=reversal.reason or "",
                                 transaction_id=reversal.posted_id, created_by=user_id))
    undo_adjustments(session, delivery, reversal.posted_date, user_id)
    session.flush()


# Hours against the plan ---------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date


def months_between(start: date, end: date) -> list[Period]:
    return [Period(f"{m.year:04d}-{m.month:02d}", max(start, m), min(end, month_end(m)))
            for m in month_starts(start, end)]


def weeks_between(start: date, end: date) -> list[Period]:
    out, day = [], start
    while day <= end:
        year, week, weekday = day.isocalendar()
        sunday = day + timedelta(days=7 - weekday)
        out.append(Period(f"{year:04d}-W{week:02d}", day, min(end, sunday)))
        day = sunday + timedelta(days=1)
    return out


def _planned(session, person_ids) -> dict[int, list[tuple[date, date | None, dict[str, int]]]]:
    """Each person's plan windows with the weekly hundredths of each service, in two queries
    (plain rows: only the dates are read, and an entity would load its budget lines too)."""
    plans = plans_by_person(session, person_ids)
    services = defaultdict(dict)
    ids = [p.id for ps in plans.values() for p in ps]
    if ids:
        for plan_id, service, weekly in session.execute(
                sa.select(PlanService.plan_id, PlanService.service, PlanService.weekly_hundredths)
                .where(among(session, PlanService.plan_id, ids))):
            services[plan_id][service] = weekly
    return {pid: [(start, end, services.get(plan.id, {})) for plan, start, end in windows(ps)]
            for pid, ps in plans.items()}


def planned_in(plan_windows, period: Period) -> int:
    """ROUND_HALF_UP(weekly hours x days the plan ran in the period / 7) per service, summed;
    each day at the weekly hours of the version in force that day. Exact in integers: each
    service's weekly hundredths x days, n, is n/7 hundredths, and n/7 rounded half up is
    (2n + 7) // 14."""
    per_service: dict[str, int] = defaultdict(int)
    for start, end, services in plan_windows:
        first, last = max(start, period.start), min(end or period.end, period.end)
        days = (last - first).days + 1
        if days > 0:
            for service, weekly in services.items():
                per_service[service] += weekly * days
    return sum((2 * n + 7) // 14 for n in per_service.values())


def hours_by_period(session, person_ids, start: date, end: date,
                    kinds: tuple[str, ...] = ("months", "weeks")) -> dict[int, dict[str, list[dict]]]:
    """The hours against the plan of many people, by calendar month and by ISO week (each period
    cut to start..end), in hundredths: planned, each status, hours used (USED) and the bank at
    the period's end.
    The one place statements, review packs and the API read these figures from; a handful of
    queries for any number of people. `kinds` leaves out months or weeks a caller does not show."""
    ids = sorted(set(person_ids))
    daily = defaultdict(list)  # pid -> [(day, status, hundredths)]
    q = (sa.select(Delivery.person_id, Delivery.date, Delivery.status, sa.func.sum(Delivery.quantity_hundredths))
         .outerjoin(DeliveryReversal, DeliveryReversal.delivery_id == Delivery.id)
         .where(DeliveryReversal.id.is_(None), among(session, Delivery.person_id, ids),
                Delivery.date >= start, Delivery.date <= end)
         .group_by(Delivery.person_id, Delivery.date, Delivery.status))
    for pid, day, status, total in session.execute(q):
        daily[pid].append((day, status, int(total)))
    plans = _planned(session, ids)
    between = {"months": months_between, "weeks": weeks_between}
    periods = {kind: between[kind](start, end) for kind in kinds}
    # The period each day falls in, worked out once for everyone.
    slot = {kind: {period.start + timedelta(days=d): i for i, period in enumerate(rows)
                   for d in range((period.end - period.start).days + 1)} for kind, rows in periods.items()}
    ends = sorted({p.end for ps in periods.values() for p in ps})
    bank_at = defaultdict(lambda: defaultdict(int))  # pid -> day -> hundredths
    for (pid, _service), events in bank_events(session, ids, end).items():
        for day, held in replay(events, ends)[0].items():
            bank_at[pid][day] += held
    out = {}
    for pid in ids:
        out[pid] = {}
        mine, banked = plans.get(pid, []), bank_at.get(pid, {})
        for kind, rows in periods.items():
            label = "month" if kind == "months" else "week"
            figures = [{label: period.label, "planned": planned_in(mine, period), **dict.fromkeys(STATUSES, 0),
                        "bank_balance": banked.get(period.end, 0)} for period in rows]
            where = slot[kind]
            for day, status, total in daily.get(pid, ()):
                figures[where[day]][status] += total
            for row in figures:
                row["used"] = sum(row[k] for k in USED)
            out[pid][kind] = figures
    return out
