"""Monthly statements issued once at month end, stored, corrected, and the final statement
(domain.md "Monthly statement", invariant 7 "Closed months", "Month end in order"). Issuing never
commits: month end, a closing's missing months and a correction are each part of their caller's
one unit of work. The figures are statement_figures' (the read-model); the PDFs are drawn by
render_pool.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable, Iterable

import sqlalchemy as sa

from .. import clock
from ..db import among, utcnow
from ..errors import Conflict, NotFound
from ..locks import lock_key
from ..money import format_pence
from ..ledger.kinds import kind_of
from ..models import Account, Fund, Person, Posting, Transaction
from ..shared_support.charges import charge_run
from ..models.statements import Statement, StatementDocument
from ..clock import add_months, month_end, month_start, month_starts
from .render_pool import render_later, render_one
from .statement_figures import statement_figures

BATCH = 500  # people per batch at month end (funds locked, figures read, PDFs drawn and stored)
SLICE = 100  # people per read of figures within a batch: the render pool draws one slice while the next is read


# --- Issuing --------------------------------------------------------------------------------

@dataclass
class Issued:
    """What month end did for a month: statements issued now and before, and the people it could
    not issue to (`not_issued`, each with the reason; running it again finishes them)."""
    month: str
    issued: int = 0
    already_issued: int = 0
    statements: list[dict] = field(default_factory=list)
    not_issued: list[dict] = field(default_factory=list)
    not_charged: list[dict] = field(default_factory=list)

    def answer(self) -> dict:
        return {"month": self.month, "issued": self.issued, "already_issued": self.already_issued,
                "statements": self.statements, "not_issued": self.not_issued, "not_charged": self.not_charged}


def due_funds(session, first: date, last: date) -> list:
    """Every fund open at some time in the month, as rows (person_id, opened_on, closed_on,
    issued_through), in person order."""
    q = (sa.select(Fund.person_id, Fund.opened_on, Fund.closed_on, Fund.issued_through)
         .where(Fund.opened_on <= last, sa.or_(Fund.closed_on.is_(None), Fund.closed_on >= first))
         .order_by(Fund.person_id))
    return session.execute(q).all()


def next_month(fund) -> date:
    """The month a fund's next statement is for: the one after its last, or (none yet) the month
    it opened (domain.md "Month end in order")."""
    return month_start(fund.opened_on) if fund.issued_through is None else add_months(fund.issued_through, 1)


def _refuse_out_of_order(funds: list, issued: set[int], first: date) -> None:
    """409 `months_out_of_order` when, for an open fund, the month would leave a gap after its last
    statement or come before a month already issued; names the first such person and the month
    that must come next for them."""
    wrong = [f for f in funds if f.closed_on is None and f.person_id not in issued
             and f.issued_through is not None and f.issued_through != add_months(first, -1)]
    if not wrong:
        return
    f = wrong[0]
    due = next_month(f)
    if f.issued_through < first:
        why = f"{due:%B %Y} must be issued first (their statements run month after month)"
    else:
        why = f"{first:%B %Y} would come before {f.issued_through:%B %Y}, already issued"
    raise Conflict(f"month end for {first:%Y-%m} is out of order: person {f.person_id}'s statements run to "
                   f"{f.issued_through:%Y-%m}, so {why}"
                   + (f"; {len(wrong) - 1} other people likewise" if len(wrong) > 1 else ""),
                   {"person_id": f.person_id, "month": due.strftime("%Y-%m"),
                    "issued_through": f.issued_through.strftime("%Y-%m"), "people": len(wrong)},
                   code="months_out_of_order")


def refuse_unended(first: date) -> None:
    last = month_end(first)
    if clock.today() <= last:
        raise Conflict(f"{first:%B %Y} has not ended yet: statements are issued after {last.isoformat()}",
                       {"month": [f"ends on {last.isoformat()}"]}, code="month_not_ended")


def months_to_issue(session, through: date) -> list[date]:
    """`statements issue --through`: every month from the earliest any open fund still needs
    (the month after its last statement, or its opening month) up to `through`, in order."""
    through = month_start(through)
    refuse_unended(through)
    last_issued, first_opened = session.execute(
        sa.select(sa.func.min(Fund.issued_through),
                  sa.func.min(sa.case((Fund.issued_through.is_(None), Fund.opened_on))))
        .where(Fund.closed_on.is_(None), Fund.opened_on <= month_end(through))).one()
    starts = ([add_months(last_issued, 1)] if last_issued else []) + ([month_start(first_opened)] if first_opened else [])
    return month_starts(min(starts), month_end(through)) if starts else []


def _lock_fund_rows(session, person_ids: list[int]) -> None:
    """Writers to these funds wait until month end commits, so nothing is dated into the month
    between reading its figures and closing it (SQLite: BEGIN IMMEDIATE already does this)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(Fund.id).where(among(session, Fund.person_id, person_ids))
                        .order_by(Fund.person_id).with_for_update())


def _next_number(session) -> int:
    return (session.scalar(sa.select(sa.func.max(Statement.number))) or 0) + 1


def _store(session, rows: list[dict], documents: list[bytes]) -> list[int]:
    """Insert statements and their PDFs; numbers were allocated under the issuing lock. Numbers
    are unique, so the ids are read back by number: RETURNING in parameter order would make
    SQLite insert the statements a row at a time."""
    session.execute(sa.insert(Statement), rows)
    numbers = [row["number"] for row in rows]
    by_number = dict(session.execute(sa.select(Statement.number, Statement.id)
                                     .where(among(session, Statement.number, numbers))).all())
    ids = [by_number[n] for n in numbers]
    session.execute(sa.insert(StatementDocument), [{"statement_id": i, "pdf": d} for i, d in zip(ids, documents)])
    return ids


def _close_month(session, person_ids: list[int], first: date) -> None:
    """The month is closed for these people: issued_through only ever moves forward."""
    session.execute(sa.update(Fund).where(among(session, Fund.person_id, person_ids), sa.or_(
        Fund.issued_through.is_(None), Fund.issued_through < first)).values(issued_through=first))


def statement_document(figures: dict, number: int, issued_at: datetime, **extra) -> dict:
    """What the person is shown: the figures as issued with the statement's number and date, and
    who "we" are (the provider's details as set now)."""
    from ..provider import current
    return {**figures, "number": number, "issued_at": issued_at.isoformat(), "provider": current().as_dict(),
            **extra}


def _issue_people(session, first: date, todo: list[int], *, user_id: int | None, pool=None,
                  slice_: int = SLICE) -> tuple[dict[int, int], dict[int, str]]:
    """Issue the month's statement to each listed person, numbered on from the last statement;
    returns each issued person's number and, for the rest, why their document could not be made. The
    figures are read a slice of people at a time and each slice's PDFs go to the pool at once, so
    the next slice is read while the pool draws."""
    now, number = utcnow(), _next_number(session)
    numbers = {pid: number + i for i, pid in enumerate(todo)}
    figures, drawing = {}, []

    def documents(pids):
        return [statement_document(figures[pid], numbers[pid], now, replaces=None, reason=None) for pid in pids]

    for part in chunks(todo, slice_):
        figures.update(statement_figures(session, part, first))
        drawing.append((part, render_later(documents(part), pool)))
    pdfs, failed = {}, {}
    for part, pending in drawing:
        for pid, out in zip(part, pending):
            (pdfs if isinstance(out, bytes) else failed)[pid] = out
    del drawing
    while True:  # numbers without gaps: a document not made frees its number for the last ones
        end = number + len(pdfs)
        movers = [pid for pid in pdfs if numbers[pid] >= end]
        if not movers:
            break
        free = sorted(set(range(number, end)) - {numbers[pid] for pid in pdfs})
        for pid, n in zip(movers, free):
            numbers[pid] = n
        for pid, out in zip(movers, render_later(documents(movers), pool)):
            if isinstance(out, str):
                del pdfs[pid]
                failed[pid] = out
            else:
                pdfs[pid] = out
    if pdfs:
        done = list(pdfs)
        rows = [{"number": numbers[pid], "person_id": pid, "month": first, "version": 1, "figures": figures[pid],
                 "pdf_sha256": hashlib.sha256(pdfs[pid]).hexdigest(), "issued_at": now, "issued_by": user_id}
                for pid in done]
        _store(session, rows, [pdfs[pid] for pid in done])
        _close_month(session, done, first)
    return {pid: numbers[pid] for pid in pdfs}, failed


def issue_month(session, month: date, *, user_id: int | None = None, progress: Callable[[int], None] | None = None,
                pool=None, batch: int = BATCH, slice_: int = SLICE) -> Issued:
    """Month end, in the caller's transaction (never committed here: the caller commits once):
    the month's shared charges, then every open fund's statement, once. Refused (409) while the
    month has not ended, or when it would leave a gap in a person's statements or come before a
    month already issued (domain.md "Month end in order"). A person whose month's shared charge
    could not be posted, or whose document could not be made, is named in `not_issued` and the
    others are issued; running it again finishes them.

    One month end at a time issues (the named lock, PostgreSQL; SQLite's BEGIN IMMEDIATE
    serialises anyway): a second run waits and then finds the statements already there. Funds
    are locked, and their figures read and drawn, a batch of people at a time."""
    first, last = month_start(month), month_end(month)
    refuse_unended(first)
    lock_key(session, "statements:issue")
    funds = due_funds(session, first, last)
    issued = set(session.scalars(sa.select(Statement.person_id).where(Statement.month == first,
                                                                       Statement.version == 1)))
    _refuse_out_of_order(funds, issued, first)
    charges = charge_run(session, first, user_id)
    withheld: dict[int, str] = {}
    for problem in charges.not_charged:
        for pid in problem.person_ids:
            withheld.setdefault(pid, f"the month's shared support could not be charged ({problem.line()})")
    before = add_months(first, -1)
    # In order: a closed fund out of order (its statements were finished when it closed) is left.
    ready = {f.person_id for f in funds if f.person_id not in issued
             and (f.issued_through is None or f.issued_through == before)}
    result = Issued(first.strftime("%Y-%m"), not_charged=[
        {"arrangement_id": p.arrangement_id, "reason": p.reason, "person_ids": p.person_ids}
        for p in charges.not_charged])
    failed: dict[int, str] = {}
    for rows in chunks(funds, batch):
        ids = [f.person_id for f in rows]
        result.already_issued += sum(1 for pid in ids if pid in issued)
        todo = [pid for pid in ids if pid in ready and pid not in withheld]
        failed.update((pid, withheld[pid]) for pid in ids if pid in ready and pid in withheld)
        if todo:
            _lock_fund_rows(session, todo)
            done, not_made = _issue_people(session, first, todo, user_id=user_id, pool=pool, slice_=slice_)
            result.issued += len(done)
            failed.update(not_made)
        if progress is not None:
            progress(len(ids))
    result.not_issued = [{"person_id": pid, "reason": failed[pid]} for pid in sorted(failed)]
    result.statements = [{"person_id": pid, "number": n} for pid, n in session.execute(
        sa.select(Statement.person_id, Statement.number).where(Statement.month == first, Statement.version == 1)
        .order_by(Statement.number))]
    return result


def issue_missing_months(session, person_id: int, until: date, *,
                         user_id: int | None = None) -> list[tuple[date, int]]:
    """A closing fund's ended months not yet issued, in order, up to the month before `until`'s:
    each month's statement as month end would issue it (its shared support is charged first by
    the caller). A document that cannot be made refuses the close (409). Returns (month, number) each."""
    lock_key(session, "statements:issue")
    [fund] = [f for f in session.execute(sa.select(Fund.person_id, Fund.opened_on, Fund.closed_on,
                                                    Fund.issued_through).where(Fund.person_id == person_id))]
    numbers = []
    for first in month_starts(next_month(fund), month_start(until) - timedelta(days=1)):
        done, failed = _issue_people(session, first, [person_id], user_id=user_id)
        if failed:
            raise Conflict(f"person {person_id}'s statement for {first:%Y-%m} was not issued: {failed[person_id]}",
                           {"person_id": person_id, "month": first.strftime("%Y-%m")}, code="document_not_made")
        numbers.append((first, done[person_id]))
    return numbers


# --- Reading and correcting -------------------------------------------------------------------

def latest(session, person_id: int, first: date) -> Statement | None:
    return session.scalar(sa.select(Statement).where(Statement.person_id == person_id, Statement.month == first)
                          .order_by(Statement.version.desc()).limit(1))


def as_json(session, stmt: Statement) -> dict:
    replaced = session.get(Statement, stmt.replaces_id) if stmt.replaces_id else None
    return statement_document(stmt.figures, stmt.number, stmt.issued_at,
                              replaces=replaced.number if replaced else None, reason=stmt.reason)


def stored_pdf(session, stmt: Statement) -> bytes:
    """The PDF as issued, checked against the hash stored with it."""
    pdf = session.scalar(sa.select(StatementDocument.pdf).where(StatementDocument.statement_id == stmt.id))
    if pdf is None or hashlib.sha256(pdf).hexdigest() != stmt.pdf_sha256:
        raise Conflict(f"statement {stmt.number}'s stored document does not match what was issued",
                       code="document_mismatch")
    return bytes(pdf)


def late_items(session, person_id: int, first: date) -> list[dict]:
    """Items for the month (by service date) posted after it closed, and the month that counts them."""
    last = month_end(first)
    avail = sa.select(Account.id).where(Account.person_id == person_id, Account.kind == "available").scalar_subquery()
    amount = (sa.select(sa.func.coalesce(sa.func.sum(Posting.amount_pence), 0))
              .where(Posting.transaction_id == Transaction.id, Posting.account_id == avail).scalar_subquery())
    q = (sa.select(Transaction.id, Transaction.kind, Transaction.date, Transaction.service_date,
                   Transaction.description, amount)
         .where(Transaction.person_id == person_id, Transaction.service_date >= first,
                Transaction.service_date <= last, Transaction.date > last)
         .order_by(Transaction.date, Transaction.id))
    return [{"transaction_id": tid, "what": kind_of(k).label, "description": d, "service_date": sd.isoformat(),
             "date": day.isoformat(), "amount": format_pence(p), "counted_in": day.strftime("%Y-%m")}
            for tid, k, day, sd, d, p in session.execute(q)]


def correct(session, person_id: int, first: date, reason: str, *, user_id: int | None = None) -> Statement:
    """A new numbered statement replacing the latest for the month: the money as issued (the month
    is closed), what is not money as it is now (the name), and the late items posted since."""
    lock_key(session, "statements:issue")
    before = latest(session, person_id, first)
    if before is None:
        raise NotFound(f"no statement was issued to person {person_id} for {first:%Y-%m}")
    person = session.get(Person, person_id)
    figures = {**before.figures, "name": person.name, "council_reference": person.council_reference,
               "late_items": late_items(session, person_id, first)}
    now, number = utcnow(), _next_number(session)
    pdf = render_one(statement_document(figures, number, now, replaces=before.number, reason=reason))
    [sid] = _store(session, [{"number": number, "person_id": person_id, "month": first,
                              "version": before.version + 1, "replaces_id": before.id, "reason": reason,
                              "figures": figures, "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
                              "issued_at": now, "issued_by": user_id}], [pdf])
    return session.get(Statement, sid)


def month_lines(session, person_id: int, first: date) -> list[dict]:
    from ..ledger.lines import ledger_lines
    return ledger_lines(session, person_id, start=first, end=month_end(first))


def chunks(items: list, n: int) -> Iterable[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


# --- The final statement of a closing fund ---------------------------------------------------

def issue_final(session, person_id: int, closed_on: date, closing: dict, *, user_id: int | None = None) -> Statement:
    """The closing month's statement for one person, issued when the fund closes rather than at
    month end: the month's money up to the close date (nothing may be dated after it), marked
    final with where the balance went. Month end later finds it issued and skips the person."""
    first = month_start(closed_on)
    lock_key(session, "statements:issue")
    if latest(session, person_id, first) is not None:
        raise Conflict(f"a statement for {first:%Y-%m} is already issued; close the fund on a day of a month "
                       "without one", {"date": ["in a month whose statement is issued"]}, code="month_closed")
    figures = statement_figures(session, [person_id], first, rules_on=closed_on)[person_id]
    figures["period"] = {"from": first.isoformat(), "to": closed_on.isoformat()}
    figures["final"] = {"closed_on": closed_on.isoformat(), **closing}
    now, number = utcnow(), _next_number(session)
    pdf = render_one(statement_document(figures, number, now, replaces=None, reason=None))
    [sid] = _store(session, [{"number": number, "person_id": person_id, "month": first, "version": 1,
                              "figures": figures, "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
                              "issued_at": now, "issued_by": user_id}], [pdf])
    _close_month(session, [person_id], first)
    return session.get(Statement, sid)
