"""Contingency: money the plan sets aside for foreseeable extra need, ring-fenced in the fund.

A set-aside moves money from `available` into `contingency`; a draw moves it back for extra
support, promptly and without a panel, with its `reason` and who `authorised_by`. The rules
(domain.md, Contingency):
- set-asides dated in one plan year total at most the `contingency_amount` of the plan in force
  on the set-aside's date (a later version with another amount changes the cap from its start;
  what was set aside earlier in the year still counts). Draws do not give the allowance back;
  a reversed set-aside does.
- a set-aside never takes more than `available`, a draw never more than the contingency held:
  both kinds may not overdraw, so the posting engine refuses them (409 insufficient_funds), on
  the movement's date and after everything dated later.
- a set-aside cannot be reversed once the money it put aside has been drawn (the contingency
  would go below zero); reverse the draw first.
Movements are dated by the day they happened (`date`); their transactions may move past an
issued month like any other item.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..errors import Conflict
from ..money import format_pence
from .dates import check_fact_date
from ..ledger.post import Entry, fund_balance, lock_funds, person_accounts, post
from ..models import ContingencyMovement, Transaction
from .plans import plan_on, plan_year_start
from ..ledger.reversals import after_reversal
from ..clock import plan_year_of

SET_ASIDE, DRAW = "set_aside", "draw"
KIND_OF = {SET_ASIDE: "contingency_set_aside", DRAW: "contingency_draw"}


def plan_year(session, person_id: int, day: date) -> tuple[date, date] | None:
    return plan_year_of(plan_year_start(session, person_id, day), day)  # the year from its own start


def movement_entry(person_id: int, kind: str, day: date, amount_pence: int, fund: dict,
                   reason: str | None = None) -> Entry:
    """The transaction of a set-aside (available -> contingency) or a draw (back again)."""
    if kind == SET_ASIDE:
        legs, text = [(fund["available"], -amount_pence), (fund["contingency"], amount_pence)], "Set aside for contingency"
    else:
        legs, text = [(fund["contingency"], -amount_pence), (fund["available"], amount_pence)], "Contingency drawn"
    return Entry(kind=KIND_OF[kind], date=day, person_id=person_id, legs=legs,
                 description=f"{text}: {reason}" if reason else text)


def movement_row(person_id: int, kind: str, entry: Entry, amount_pence: int, reason: str | None = None,
                 authorised_by: str | None = None, user_id: int | None = None) -> dict:
    return {"person_id": person_id, "kind": kind, "date": entry.service_date or entry.date,
            "amount_pence": amount_pence, "reason": reason, "authorised_by": authorised_by,
            "transaction_id": entry.posted_id, "created_by": user_id}


def set_aside_in(session, person_id: int, start: date, end: date) -> dict[str, int]:
    """Pence set aside and drawn between two dates (both included), leaving out reversed movements."""
    reversal = aliased(Transaction)
    q = (sa.select(ContingencyMovement.kind, sa.func.sum(ContingencyMovement.amount_pence))
         .outerjoin(reversal, reversal.reverses_id == ContingencyMovement.transaction_id)
         .where(reversal.id.is_(None), ContingencyMovement.person_id == person_id,
                ContingencyMovement.date >= start, ContingencyMovement.date <= end)
         .group_by(ContingencyMovement.kind))
    return {SET_ASIDE: 0, DRAW: 0, **{kind: int(total) for kind, total in session.execute(q)}}


def _plan_year_allowance(session, person_id: int, day: date) -> tuple[int, int, tuple[date, date]]:
    """The plan year's contingency amount and what is already set aside in it."""
    plan = plan_on(session, person_id, day)
    if plan is None:
        raise Conflict(f"no support plan is in force on {day.isoformat()}, so there is no contingency to set aside",
                       {"date": ["no plan in force"]}, code="no_plan_in_force")
    year = plan_year(session, person_id, day)
    done = set_aside_in(session, person_id, *year)[SET_ASIDE]
    return plan.contingency_amount_pence, done, year


def record_set_aside(session, person_id: int, *, date: date, amount_pence: int,
                     user_id: int | None = None) -> ContingencyMovement:
    check_fact_date(session, person_id, date)
    funds = lock_funds(session, [person_id])  # first: the allowance is read under the fund's lock
    allowed, done, (start, end) = _plan_year_allowance(session, person_id, date)
    if done + amount_pence > allowed:
        left = max(allowed - done, 0)
        raise Conflict(f"the plan year {start.isoformat()} to {end.isoformat()} allows {format_pence(allowed)} "
                       f"to be set aside for contingency; {format_pence(done)} is already set aside, so "
                       f"{format_pence(left)} remains", {"amount": ["more than remains to set aside this plan year"],
                                                          "remaining_to_set_aside": format_pence(left)},
                       code="contingency_limit")
    return _record(session, funds, person_id, SET_ASIDE, date, amount_pence, user_id=user_id)


def record_draw(session, person_id: int, *, date: date, amount_pence: int, reason: str, authorised_by: str,
                user_id: int | None = None) -> ContingencyMovement:
    check_fact_date(session, person_id, date)
    funds = lock_funds(session, [person_id])
    return _record(session, funds, person_id, DRAW, date, amount_pence, reason, authorised_by, user_id)


def _record(session, funds, person_id, kind, day, amount_pence, reason=None, authorised_by=None, user_id=None):
    entry = movement_entry(person_id, kind, day, amount_pence, person_accounts(session, person_id), reason)
    post(session, [entry], funds, user_id)  # refuses to take either pot below zero
    row = ContingencyMovement(**movement_row(person_id, kind, entry, amount_pence, reason, authorised_by, user_id))
    session.add(row)
    session.flush()
    return row


@after_reversal("contingency_set_aside")
def _refuse_reversing_what_was_drawn(session, txn, reversal: Entry, user_id) -> None:
    for as_of in (reversal.posted_date, None):
        held = fund_balance(session, txn.person_id, as_of).get("contingency", 0)
        if held < 0:
            raise Conflict(f"the money this set-aside put aside has been drawn: reversing it would leave the "
                           f"contingency at {format_pence(held)}; reverse the draw first",
                           {"contingency": format_pence(held)}, code="contingency_drawn")


@dataclass
class ContingencyView:
    as_of: date
    plan_year: tuple[date, date] | None
    contingency_amount: int
    set_aside: int
    drawn: int
    held: int
    movements: list[dict]

    @property
    def remaining_to_set_aside(self) -> int:
        return max(self.contingency_amount - self.set_aside, 0)


def contingency_of(session, person_id: int, as_of: date) -> ContingencyView:
    """Every movement dated up to `as_of` (reversed or not, saying which), with the plan year's
    amount, what was set aside and drawn in it, and what the contingency holds."""
    reversal = aliased(Transaction)
    rows = session.execute(
        sa.select(ContingencyMovement, reversal.id)
        .outerjoin(reversal, sa.and_(reversal.reverses_id == ContingencyMovement.transaction_id,
                                     reversal.date <= as_of))
        .where(ContingencyMovement.person_id == person_id, ContingencyMovement.date <= as_of)
        .order_by(ContingencyMovement.date, ContingencyMovement.id)).all()
    movements = [{"id": m.id, "kind": m.kind, "date": m.date, "amount_pence": m.amount_pence, "reason": m.reason,
                  "authorised_by": m.authorised_by, "transaction_id": m.transaction_id,
                  "reversed_by_transaction_id": rev} for m, rev in rows]
    year = plan_year(session, person_id, as_of)
    plan = plan_on(session, person_id, as_of)
    totals = {SET_ASIDE: 0, DRAW: 0}
    if year is not None:
        for m in movements:
            if m["reversed_by_transaction_id"] is None and year[0] <= m["date"] <= year[1]:
                totals[m["kind"]] += m["amount_pence"]
    return ContingencyView(as_of=as_of, plan_year=year,
                           contingency_amount=plan.contingency_amount_pence if plan is not None else 0,
                           set_aside=totals[SET_ASIDE], drawn=totals[DRAW],
                           held=fund_balance(session, person_id, as_of).get("contingency", 0), movements=movements)
