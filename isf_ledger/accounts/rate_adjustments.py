"""Backdated rates: an uplift agreed in July from April re-prices what was already charged.

A rate entry (the rate card, or a plan version's overrides) dated into months already charged
posts, in the open month, one "rate_adjustment" per person: the difference on every affected
delivery, each line naming the delivery it corrects. Nothing charged is rewritten. The
difference is against what the delivery was charged plus adjustments already posted on it, so
the same rate entered again posts nothing; reversed deliveries are left alone.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from .. import clock
from ..money import apply_rate
from ..ledger.post import Entry, lock_funds, person_accounts, post, provider_accounts
from ..models import Delivery, DeliveryReversal, RateAdjustmentLine
from ..models.hours import CHARGED
from .rates import RateBook


def adjustment_entry(person_id: int, day: date, pence: int, deliveries: int, fund: dict, provider: dict,
                     why: str) -> Entry:
    """More charged moves money out of the fund as support income; less charged brings it back."""
    return Entry(kind="rate_adjustment", date=day, person_id=person_id,
                 description=f"Support: change of rate ({why}) on {deliveries} "
                             f"deliver{'y' if deliveries == 1 else 'ies'}",
                 legs=[(fund["available"], -pence), (provider["support_income"], pence),
                       (provider["client_money"], pence), (provider["provider_bank"], -pence)])


def _affected(session, since: date, service: str | None, person_ids):
    q = (sa.select(Delivery).outerjoin(DeliveryReversal, DeliveryReversal.delivery_id == Delivery.id)
         .where(DeliveryReversal.id.is_(None), Delivery.status.in_(CHARGED), Delivery.date >= since)
         .order_by(Delivery.person_id, Delivery.date, Delivery.id))
    if service is not None:
        q = q.where(Delivery.service == service)
    if person_ids is not None:
        q = q.where(Delivery.person_id.in_(person_ids))
    return q


def _charged_so_far(session, delivery_ids) -> dict[int, tuple[int, Decimal | None]]:
    """Each delivery's adjustments so far: their total, and the rate the last one moved it to."""
    out: dict[int, tuple[int, Decimal | None]] = {}
    if not delivery_ids:
        return out
    for did, diff, rate in session.execute(
            sa.select(RateAdjustmentLine.delivery_id, RateAdjustmentLine.difference_pence, RateAdjustmentLine.new_rate)
            .where(RateAdjustmentLine.delivery_id.in_(delivery_ids)).order_by(RateAdjustmentLine.id)):
        total, _ = out.get(did, (0, None))
        out[did] = (total + diff, rate)
    return out


def adjust_charges(session, *, since: date, service: str | None = None, person_ids=None, why: str = "new rate",
                   user_id: int | None = None) -> list[dict]:
    """Re-price every charged, unreversed delivery from `since` (of one service, or of some
    people) at the rate in force now, and post what differs. Returns one summary per person."""
    pids = sorted(set(session.scalars(_affected(session, since, service, person_ids)
                                      .with_only_columns(Delivery.person_id).distinct().order_by(None))))
    if not pids:
        return []
    funds = lock_funds(session, pids)
    deliveries = session.scalars(_affected(session, since, service, pids)).all()  # re-read under the locks
    so_far = _charged_so_far(session, [d.id for d in deliveries])
    book = RateBook(session, {d.service for d in deliveries}, pids)
    lines = defaultdict(list)
    for d in deliveries:
        rate = book.rate(d.person_id, d.service, d.date)
        if rate is None:
            continue
        adjusted, last_rate = so_far.get(d.id, (0, None))
        diff = apply_rate(d.quantity_hundredths, rate) - (d.charge_pence + adjusted)
        if diff:
            lines[d.person_id].append({"delivery_id": d.id, "person_id": d.person_id, "old_rate": last_rate or d.rate,
                                       "new_rate": rate, "difference_pence": diff, "day": d.date})
    return _post_lines(session, funds, lines, why, user_id)


def _post_lines(session, funds, lines: dict[int, list[dict]], why: str, user_id) -> list[dict]:
    provider = provider_accounts(session)
    entries = {}
    for pid, mine in lines.items():
        total = sum(line["difference_pence"] for line in mine)
        # In the open month, never before the latest delivery it corrects; post() moves it on
        # from a month whose statement is issued.
        day = max(clock.today(), *(line["day"] for line in mine))
        if total:
            entries[pid] = adjustment_entry(pid, day, total, len(mine), person_accounts(session, pid), provider, why)
    if entries:
        post(session, list(entries.values()), funds, user_id)
    rows, out = [], []
    for pid, mine in lines.items():
        txn = entries[pid].posted_id if pid in entries else None
        rows += [{k: v for k, v in line.items() if k != "day"} | {"transaction_id": txn} for line in mine]
        out.append({"person_id": pid, "transaction_id": txn, "deliveries": len(mine),
                    "difference_pence": sum(line["difference_pence"] for line in mine)})
    if rows:
        session.execute(sa.insert(RateAdjustmentLine.__table__), rows)
    return out


def undo_adjustments(session, delivery: Delivery, day: date, user_id: int | None) -> None:
    """A reversed delivery's rate adjustments go with its charge: one more line takes them back."""
    adjusted, last_rate = _charged_so_far(session, [delivery.id]).get(delivery.id, (0, None))
    if not adjusted:
        return
    funds = lock_funds(session, [delivery.person_id])
    line = {"delivery_id": delivery.id, "person_id": delivery.person_id, "old_rate": last_rate,
            "new_rate": Decimal(0), "difference_pence": -adjusted, "day": day}
    _post_lines(session, funds, {delivery.person_id: [line]}, "delivery reversed", user_id)
