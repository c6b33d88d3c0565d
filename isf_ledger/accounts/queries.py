"""Queries from the person (domain.md "Queries from the person"): "I don't recognise this".

A person, their representative, a broker or finance raises a query about the fund, optionally
about one item of it: a transaction, a spend, a delivery or a month's statement, which must be
the person's own (422 naming the field otherwise). Finance or a broker answers it. Queries and
answers are history: written once, never edited or removed (the database refuses it), so a
query's status is read from its answers: `open` until the first answer, then `answered`.

An open query is due an answer within ANSWER_WITHIN working days (England and Wales bank
holidays counted, clock.py); one still open after that is an alert for finance on the
dashboard, read for every fund at once (`overdue_by_person`).

A closed fund takes no new query (409 `fund_closed`, domain.md "Closing a fund"); a query open
when it closed may still be answered, so nobody's question is left without one.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from .. import clock
from ..db import utcnow
from ..errors import Invalid
from ..auth.users import MAX_BIG_ID, MAX_ID, User
from ..ledger.post import refuse_closed_fund
from ..models import Delivery, FundQuery, QueryAnswer, Spend, Transaction

ANSWER_WITHIN = 10  # working days
ITEMS = ("transaction_id", "spend_id", "delivery_id", "statement_month")


def _uk_day(moment: datetime) -> date:
    return moment.astimezone(clock.UK).date()


def answer_due_by(raised_at: datetime) -> date:
    """The last day an answer is on time: the ANSWER_WITHIN-th working day after the day raised."""
    return clock.working_days_after(_uk_day(raised_at), ANSWER_WITHIN)


def _check_item(session, person_id: int, field: str, value) -> None:
    """The item a query is about must exist and be this person's (422 naming the field)."""
    if field == "statement_month":
        from ..models.statements import Statement  # reports build on accounts, not the other way
        issued = session.scalar(sa.select(Statement.id).where(Statement.person_id == person_id,
                                                              Statement.month == value).limit(1))
        if issued is None:
            raise Invalid(field, f"no statement for {value:%Y-%m} was issued to this person")
        return
    model, limit = {"transaction_id": (Transaction, MAX_BIG_ID), "spend_id": (Spend, MAX_ID),
                    "delivery_id": (Delivery, MAX_BIG_ID)}[field]
    owner = session.scalar(sa.select(model.person_id).where(model.id == value)) if value <= limit else None
    if owner != person_id:
        raise Invalid(field, f"{value} is not an item of this person's fund")


def raise_query(session, person_id: int, *, message: str, user_id: int, **item) -> FundQuery:
    given = {k: v for k, v in item.items() if k in ITEMS and v is not None}
    for field, value in given.items():
        _check_item(session, person_id, field, value)
    refuse_closed_fund(session, person_id)  # a closed fund takes no further writes (409)
    row = FundQuery(person_id=person_id, message=message.strip(), raised_by=user_id, raised_at=utcnow(), **given)
    session.add(row)
    session.flush()
    return row


def answer_query(session, query: FundQuery, *, message: str, user_id: int) -> QueryAnswer:
    row = QueryAnswer(query_id=query.id, message=message.strip(), answered_by=user_id, answered_at=utcnow())
    session.add(row)
    session.flush()
    return row


def _who(name, role) -> dict:
    return {"name": name, "role": role}


def queries_of(session, person_id: int, query_id: int | None = None) -> list[dict]:
    """The person's queries, newest first, each with its answers (oldest first): two queries."""
    q = (sa.select(FundQuery, User.name, User.role).join(User, User.id == FundQuery.raised_by)
         .where(FundQuery.person_id == person_id).order_by(FundQuery.raised_at.desc(), FundQuery.id.desc()))
    if query_id is not None:
        q = q.where(FundQuery.id == query_id)
    rows = session.execute(q).all()
    answers: dict[int, list[dict]] = {r[0].id: [] for r in rows}
    if answers:
        a = (sa.select(QueryAnswer, User.name, User.role).join(User, User.id == QueryAnswer.answered_by)
             .where(QueryAnswer.query_id.in_(list(answers))).order_by(QueryAnswer.answered_at, QueryAnswer.id))
        for ans, name, role in session.execute(a):
            answers[ans.query_id].append({"id": ans.id, "message": ans.message, "answered_by": _who(name, role),
                                          "answered_at": ans.answered_at.isoformat()})
    out = []
    for fq, name, role in rows:
        out.append({"id": fq.id, "person_id": fq.person_id, "message": fq.message,
                    "transaction_id": fq.transaction_id, "spend_id": fq.spend_id, "delivery_id": fq.delivery_id,
                    "statement_month": fq.statement_month.strftime("%Y-%m") if fq.statement_month else None,
                    "status": "answered" if answers[fq.id] else "open",
                    "raised_by": _who(name, role), "raised_at": fq.raised_at.isoformat(),
                    "answer_due_by": answer_due_by(fq.raised_at).isoformat(), "answers": answers[fq.id]})
    return out


def overdue_by_person(session, as_of: date) -> dict[int, int]:
    """How many queries each person has that were still open at the end of `as_of` (UK) more
    than ANSWER_WITHIN working days after the day they were raised: one query for every fund."""
    end = datetime.combine(as_of + timedelta(days=1), time(0), clock.UK)
    # Ten working days end twelve days after a Sunday at the soonest, so a query can be overdue
    # only from the thirteenth day after it was raised: later ones are not read at all.
    before = datetime.combine(as_of - timedelta(days=ANSWER_WITHIN + 2), time(0), clock.UK)
    answered = aliased(QueryAnswer)
    q = (sa.select(FundQuery.person_id, FundQuery.raised_at)
         .where(FundQuery.raised_at < before,
                ~sa.exists().where(answered.query_id == FundQuery.id, answered.answered_at < end)))
    out: dict[int, int] = {}
    for pid, raised_at in session.execute(q):
        if as_of > answer_due_by(raised_at):
            out[pid] = out.get(pid, 0) + 1
    return out
