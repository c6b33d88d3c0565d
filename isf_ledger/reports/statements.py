"""Monthly statements: the figures for a person and month, issuing them once at month end, and
corrections (domain.md "Monthly statement", invariant 7 "Closed months", "Month end in order").
Issuing never commits: month end, a closing's missing months and a correction are each part of
their caller's one unit of work.

Figures are read set-based for a batch of people: money from figures.month_money (three
queries), plans, receipts and people one query each, the plan year's monthly outgoings one
query; instalments, arrears, the surplus and the forecast are computed in Python from those rows.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from .. import clock
from ..db import among, month_label, utcnow
from ..errors import Conflict, NotFound
from ..locks import lock_key
from ..money import format_hundredths, format_pence, round_half_up
from ..accounts.clawback import surplus_above
from ..accounts.councils import rule_history, rule_on
from ..accounts.fees import fee_rate_in
from ..accounts.instalments import arrears_of, instalments_of, received_by_person
from ..accounts.interest import interest_received
from ..ledger.kinds import kind_of
from ..models import Account, Council, Fund, Person, Posting, Spend, Transaction
from ..accounts.hours import hours_by_period
from ..accounts.plans import in_force, plans_by_person, windows
from ..accounts.positions import bank_positions
from ..shared_support.charges import charge_run
from .figures import HEADINGS, available_accounts, month_money
from .forecast import USES_BUDGET, pace, plan_year  # noqa: F401 - the year's figures live in forecast.py
from ..models.statements import Statement, StatementDocument
from ..clock import add_months, month_end, month_start, month_starts

HOURS_FIELDS = ("planned", "delivered", "refused", "unplanned", "banked", "bank_used", "provider_cancelled",
                "bank_balance", "used")  # used: delivered + bank_used (accounts/hours.USED)
BATCH = 500  # people per batch at month end (funds locked, figures read, PDFs drawn and stored)
SLICE = 100  # people per read of figures within a batch: the render pool draws one slice while the next is read




def statement_hours(session, person_ids: list[int], month: date) -> dict[int, dict]:
    """The statement's `hours` for each person, from the one place hours are worked out
    (accounts/hours.hours_by_period), for all of them at once."""
    first, last = month_start(month), month_end(month)
    by_person = hours_by_period(session, person_ids, first, last, kinds=("months",))
    out = {}
    for pid in person_ids:
        row = by_person.get(pid, {}).get("months", [{}])[0]
        out[pid] = {k: format_hundredths(row.get(k, 0)) for k in HOURS_FIELDS}
    return out


def bank_value(session, person_ids: list[int], as_of: date) -> dict[int, int]:
    """The earmarked money value of each person's banked hours, in pence (not surplus)."""
    return {pid: value for pid, (_, value) in bank_positions(session, person_ids, as_of).items()}


# --- Reading a batch of people ---------------------------------------------------------------

def _people(session, person_ids: list[int]) -> dict[int, tuple]:
    """Each person's row (id, name, council_reference) and council: people as plain rows, the
    few councils as entities (rules read their current values)."""
    rows = session.execute(sa.select(Person.id, Person.name, Person.council_reference, Person.council_id)
                           .where(among(session, Person.id, person_ids))).all()
    councils = {c.id: c for c in session.scalars(sa.select(Council).where(
        Council.id.in_({r.council_id for r in rows})))}
    return {r.id: (r, councils[r.council_id]) for r in rows}


def _monthly_use(session, person_ids: list[int], start: date, end: date) -> dict:
    """Each person's money used by month (YYYY-MM): [fee, support, shared support and spend; the
    same without the fee], net of reversals."""
    original = aliased(Transaction)
    kind = sa.func.coalesce(original.kind, Transaction.kind)
    used = [k for k, h in HEADINGS.items() if h in USES_BUDGET]
    label = month_label(session, Posting.date)
    q = (sa.select(Account.person_id, label, kind, sa.func.sum(Posting.amount_pence))
         .join(Account, Account.id == Posting.account_id)
         .join(Transaction, Transaction.id == Posting.transaction_id)
         .outerjoin(original, original.id == Transaction.reverses_id)
         .where(Account.kind == "available", Account.person_id.in_(person_ids), Posting.date >= start,
                Posting.date <= end, kind.in_(used), Posting.account_id.in_(available_accounts(person_ids)))
         .group_by(Account.person_id, label, kind))
    out: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for pid, m, k, pence in session.execute(q):
        row = out[pid][m]
        row[0] -= int(pence)  # everything used
        if HEADINGS[k] != "management_fee_total":
            row[1] -= int(pence)  # used on support and things bought, without the fee
    return out


def _spend_items(session, person_ids: list[int], first: date, last: date) -> dict[int, list[dict]]:
    """Each person's things bought in the month (payee, what, category, amount), not reversed."""
    reversal = aliased(Transaction)
    q = (sa.select(Spend.person_id, Spend.payee, Spend.description, Spend.category, Spend.amount_pence)
         .outerjoin(reversal, sa.and_(reversal.reverses_id == Spend.transaction_id, reversal.date <= last))
         .where(among(session, Spend.person_id, person_ids), Spend.date >= first, Spend.date <= last,
                reversal.id.is_(None))
         .order_by(Spend.person_id, Spend.date, Spend.id))
    out: dict[int, list[dict]] = defaultdict(list)
    for pid, payee, what, category, pence in session.execute(q):
        out[pid].append({"payee": payee, "what": what, "category": category, "amount": format_pence(pence)})
    return out





def statement_figures(session, person_ids: list[int], month: date, rules_on: date | None = None) -> dict[int, dict]:
    """Every figure of each listed person's statement for the month, as JSON-ready values.

    Council rules (the surplus threshold and notice) are read as in force on `rules_on`, the
    month's last day unless given (a final statement: the close date), from each council's rule
    history, read once for the whole batch (domain.md "Councils": the profile at the item's date)."""
    first, last = month_start(month), month_end(month)
    rules_on = last if rules_on is None else rules_on
    if not person_ids:
        return {}
    people = _people(session, person_ids)
    money = month_money(session, person_ids, first)
    plans = plans_by_person(session, person_ids)
    got = received_by_person(session, person_ids, last)
    got_before = received_by_person(session, person_ids, first - timedelta(days=1))
    bought = _spend_items(session, person_ids, first, last)
    interest = interest_received(session, person_ids, first, last)
    from ..provider import current  # how interest on client money is handled, as set now
    handling = current(session).bank_interest
    hours = statement_hours(session, person_ids, first)
    bank = bank_value(session, person_ids, last)
    years = {pid: plan_year(plans.get(pid, []), last) for pid in person_ids}
    three_back = add_months(first, -2)
    use_from = min([three_back] + [y[0] for y in years.values() if y])
    used = _monthly_use(session, person_ids, use_from, last)
    history = rule_history(session, {c.id for _, c in people.values()})

    def rules(council, plan) -> tuple:
        return tuple(rule_on(session, name, council, plan, rules_on, history)
                     for name in ("surplus_threshold_weeks", "surplus_notice_days"))

    out = {}
    for pid in person_ids:
        person, council = people[pid]
        out[pid] = _one(person, council, first, last, money.get(pid), plans.get(pid, []), got.get(pid, {}),
                        hours[pid], bank.get(pid, 0), years[pid], used.get(pid, {}), three_back, rules, history,
                        rules_on)
        before = got_before.get(pid, {})
        out[pid]["paid_in"] = {source: format_pence(pence - before.get(source, 0))
                               for source, pence in sorted(got.get(pid, {}).items()) if pence - before.get(source, 0)}
        out[pid]["spend_items"] = bought.get(pid, [])
        if interest.get(pid):
            out[pid]["paid_in"]["bank_interest"] = format_pence(interest[pid])
        out[pid]["interest"] = {"handling": handling, "received": format_pence(interest.get(pid, 0))}
    return out


def _one(person, council, first, last, m, plans, got, hours, bank_pence, year, used, three_back, rules,
         history, until) -> dict:
    t = m.totals if m else {}
    closing = m.closing_balance if m else 0
    f = {"person_id": person.id, "name": person.name, "council": council.name,
         "council_reference": person.council_reference, "month": first.strftime("%Y-%m"),
         "period": {"from": first.isoformat(), "to": last.isoformat()},
         "opening_balance": format_pence(m.opening_balance if m else 0)}
    for heading in ("receipts_total", "management_fee_total", "support_charged_total", "shared_support_total",
                    "spend_total", "clawback_total", "closed_out_total"):
        f[heading] = format_pence(t.get(heading, 0))
    f["closing_balance"] = format_pence(closing)
    f["contingency"] = {"set_aside": format_pence(t.get("contingency_set_aside", 0)),
                        "drawn": format_pence(t.get("contingency_drawn", 0)),
                        "remaining": format_pence(m.contingency_held if m else 0)}
    f["hours"] = hours

    plan = in_force(windows(plans), last) if plans else None
    f["management_fee_rate"] = str(plan.management_fee_rate) if plan else None
    horizon = max(year[1] if year else last, last + timedelta(days=62))
    due_all = instalments_of(plans, council, horizon, history)  # the council's cycle at each date
    due = [i for i in due_all if i.due <= min(last, until)]  # a closed fund's arrears stop at its close
    owed = arrears_of(due, got)
    f["arrears"] = {who: {k: format_pence(v) for k, v in row.items()} for who, row in owed.items()}
    f["arrears"]["total"] = format_pence(sum(row["arrears"] for row in owed.values()))
    upcoming = next((i for i in due_all if i.due > last), None)
    f["next_instalment"] = None if upcoming is None else {
        "date": upcoming.due.isoformat(), "amount": format_pence(upcoming.council_pence + upcoming.person_pence),
        "council": format_pence(upcoming.council_pence), "person": format_pence(upcoming.person_pence)}

    weeks, notice_days = rules(council, plan)
    budget = plan.annual_budget_pence if plan else 0
    threshold, surplus = surplus_above(closing, bank_pence, weeks, budget)
    f["surplus_above_threshold"] = format_pence(surplus)
    f["surplus"] = {"available": format_pence(closing), "bank_value": format_pence(bank_pence),
                    "threshold_weeks": weeks, "threshold": format_pence(threshold),
                    "above_threshold": format_pence(surplus),
                    "notice_days": notice_days}
    f["overdrawn"] = closing < 0
    f["provider_makes_good"] = format_pence(max(0, -closing))

    f["plan_year"] = None
    f["forecast"] = None
    if year is not None and plan is not None:
        start, end = year
        months, running, cumulative = month_starts(start, last), 0, []
        for i, mm in enumerate(months, 1):
            running += used.get(mm.strftime("%Y-%m"), (0, 0))[0]
            cumulative.append({"month": mm.strftime("%Y-%m"), "used": format_pence(running),
                               "planned": format_pence(round_half_up(Decimal(budget) * i / 12))})
        f["plan_year"] = {"start": start.isoformat(), "end": end.isoformat(), "annual_budget": format_pence(budget),
                          "used_to_date": format_pence(running), "months": cumulative}
        f["forecast"] = _forecast(plans, closing, used, three_back, first, last, end, due_all)
    return f


def _forecast(plans, closing, used, three_back, first, last, year_end, due_all) -> dict:
    """The balance at the plan year's end if money keeps being used at the last three months'
    rate (months since the first plan began), with the instalments still due in the year coming
    in less their fee."""
    window = month_starts(max(three_back, month_start(plans[0].effective_from)), first)
    spent = sum(used.get(m.strftime("%Y-%m"), (0, 0))[1] for m in window)
    rate = Decimal(spent) / ((last - window[0]).days + 1)  # a day
    plan_windows, coming = windows(plans), 0
    for i in due_all:
        if last < i.due <= year_end:
            amount = i.council_pence + i.person_pence
            coming += amount - round_half_up(Decimal(amount) * fee_rate_in(plan_windows, i.due))
    balance = closing + coming - round_half_up(rate * (year_end - last).days)
    return {"plan_year_end": year_end.isoformat(), "balance": format_pence(balance),
            "monthly_rate": format_pence(round_half_up(rate * Decimal("30.4375"))),
            "instalments_to_come": format_pence(coming), "based_on_months": len(window)}


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
        session.execute(sa.select(Fund.id).where(Fund.person_id.in_(person_ids))
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
    session.execute(sa.update(Fund).where(Fund.person_id.in_(person_ids), sa.or_(
        Fund.issued_through.is_(None), Fund.issued_through < first)).values(issued_through=first))


def statement_document(figures: dict, number: int, issued_at: datetime, **extra) -> dict:
    """What the person is shown: the figures as issued with the statement's number and date, and
    who "we" are (the provider's details as set now)."""
    from ..provider import current
    return {**figures, "number": number, "issued_at": issued_at.isoformat(), "provider": current().as_dict(),
            **extra}


def render_guarded(doc: dict) -> bytes | str:
    """The document's PDF, or (a str) why it could not be made. Run in the render pool or here:
    one document that cannot be made never stops the others, and its exception (which may not
    pickle, breaking the pool) never leaves the worker."""
    from .render_pdf import render_pdf  # looked up at each call (a test may stand another in)
    try:
        return render_pdf(doc)
    except Exception as e:  # noqa: BLE001 - any failure is this one document's, reported by name
        return f"its PDF could not be made ({type(e).__name__}: {e})"[:500]


def render_later(docs: list[dict], pool=None) -> Iterable[bytes | str]:
    """The documents' PDFs (or why each could not be made): without a pool, rendered now; with
    one, handed to the pool at once and collected by iterating, so the caller reads the next
    figures while they are drawn. A pool that breaks (a worker died) leaves the rest to this
    process."""
    if pool is None:
        return [render_guarded(d) for d in docs]
    try:
        pending = pool.map(render_guarded, docs, chunksize=max(1, len(docs) // 8))
    except (BrokenExecutor, RuntimeError):  # broken, or shut down: draw them here
        return [render_guarded(d) for d in docs]
    return _collected(pending, docs)


def _collected(pending, docs: list[dict]) -> Iterable[bytes | str]:
    got = 0
    try:
        for out in pending:
            got += 1
            yield out
    except BrokenExecutor:
        for d in docs[got:]:
            yield render_guarded(d)


def render_one(doc: dict) -> bytes:
    """One document drawn now; one that cannot be made refuses the write (409), never a 500."""
    out = render_guarded(doc)
    if isinstance(out, str):
        raise Conflict(f"person {doc['person_id']}'s statement for {doc['month']} was not issued: {out}",
                       {"person_id": doc["person_id"], "month": doc["month"]}, code="document_not_made")
    return out


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
