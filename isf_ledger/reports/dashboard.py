"""The provider's dashboard: every fund's figures and alerts as at a date, for finance.

Built set-based: the same handful of queries whatever the number of funds (people, pots, bank
and its rates, plans, receipts, the plan year's use, three months' hours, council rule history,
the reconciliation); everything else is worked out in Python from those rows. Sorting by a
figure needs every fund's figures, so a page costs the whole list's queries, not a page's.

Alerts, and the thresholds they use (named here, shown in the JSON as `thresholds`):
- `overdrawn`: `available` below zero; the provider must make it good from its own funds.
- `underspending`: a surplus that has stayed above the threshold for `surplus_alert_weeks`
  (domain.md "Councils"): the lowest `available` in those weeks, less the bank's value and the
  threshold as at the date, still above zero. An instalment paid in advance that lifts the
  balance for a few days is not underspending.
- `overspending`: money used in the plan year so far on support, shared support and spend (net
  of reversals, from the plan year's first day) more than OVERSPEND_MARGIN above the budget's
  pace (annual budget x the share of the year elapsed). The fee is left out of this test only:
  it is taken when money arrives, in advance, so it would make every fund paid ahead look
  overspent on the year's first days. The figure shown, `plan_year_used`, is "used in the plan
  year" as everywhere (domain.md "One meaning for each figure"): the fee included.
- A closed fund owes and is owed nothing after its closing date: its arrears are counted to the
  close date and are nothing after it (instalments.arrears_on).
- `many_refusals`: refused hours over REFUSAL_SHARE of delivered hours in the last
  RECENT_MONTHS months (a sign the plan may not fit).
- `many_provider_cancellations`: provider-cancelled hours over CANCELLATION_SHARE of the hours
  meant to be given (delivered + provider-cancelled) in the same months.
- `arrears`: instalments due and not received (the council's or the person's).
- `queries_overdue`: a query from the person still open more than queries.ANSWER_WITHIN working
  days after it was raised (England and Wales bank holidays counted); `queries_overdue` counts them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from io import BytesIO

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..db import among
from ..ledger.kinds import REVERSAL
from ..models import Account, AccountKindMonth, Council, Delivery, DeliveryReversal, Fund, Person, Posting, Transaction
from ..accounts.clawback import surplus_above
from ..accounts.councils import rule_history, rule_on
from ..accounts.instalments import arrears_of, instalments_of
from ..accounts.plans import in_force, windows
from ..accounts.positions import positions
from ..accounts.queries import ANSWER_WITHIN, overdue_by_person
from ..accounts.reconciliation import reconcile
from ..sheets import COUNT
from ..money import format_hundredths, format_pence, round_half_up
from ..sheets import DATE, GBP, QUANTITY, append, fit_streamed, print_to_width, styled, table, words
from .figures import HEADINGS
from ..accounts.instalments import received_by_person
from ..accounts.plans import plans_by_person
from .forecast import USES_BUDGET, plan_year
from ..clock import add_months, month_start

OVERSPEND_MARGIN = Decimal("0.10")  # 10% beyond the budget's pace
REFUSAL_SHARE = Decimal("0.20")  # refused > 20% of delivered
CANCELLATION_SHARE = Decimal("0.10")  # provider-cancelled > 10% of what was meant to be given
RECENT_MONTHS = 3
HOURS = ("delivered", "refused", "provider_cancelled")  # the recent hours shown, by status
ALERTS = ("overdrawn", "underspending", "overspending", "many_refusals", "many_provider_cancellations", "arrears",
          "queries_overdue")
# Sort keys: the JSON's names; "-" first for largest first. Ties go by person id.
SORTS = {
    "name": lambda f: f.name.casefold(), "person_id": lambda f: f.person_id, "council": lambda f: f.council.casefold(),
    "balance": lambda f: f.available, "weeks_held": lambda f: f.weeks_held if f.weeks_held is not None else Decimal(-10**9),
    "surplus": lambda f: f.surplus, "overdrawn": lambda f: f.overdrawn, "arrears": lambda f: f.arrears,
    "contingency": lambda f: f.contingency, "bank_value": lambda f: f.bank_value, "alerts": lambda f: len(f.alerts),
    "spent": lambda f: f.spent,
}


@dataclass
class FundFigures:
    person_id: int
    name: str
    council: str
    council_reference: str | None
    closed_on: date | None
    available: int = 0
    contingency: int = 0
    bank_value: int = 0
    annual_budget: int = 0
    weeks_held: Decimal | None = None
    surplus: int = 0
    surplus_lasting: bool = False  # above the threshold for the whole of surplus_alert_weeks
    arrears: int = 0
    overdrawn: int = 0
    spent: int = 0  # used in the plan year so far, the fee included (the figure shown)
    spent_on_support: int = 0  # the same without the fee (the overspending alert's test)
    pace: int = 0  # the budget's share of the year elapsed
    hours: dict = field(default_factory=dict)  # recent months: status -> hundredths
    queries_overdue: int = 0  # queries open beyond the working days they are due an answer in
    alerts: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"person_id": self.person_id, "name": self.name, "council": self.council,
                "council_reference": self.council_reference,
                "closed_on": self.closed_on.isoformat() if self.closed_on else None,
                "balance": format_pence(self.available), "contingency": format_pence(self.contingency),
                "bank_liability": format_pence(self.bank_value), "annual_budget": format_pence(self.annual_budget),
                "weeks_held": None if self.weeks_held is None else str(self.weeks_held),
                "surplus_above_threshold": format_pence(self.surplus), "arrears": format_pence(self.arrears),
                "overdrawn": format_pence(self.overdrawn), "plan_year_used": format_pence(self.spent),
                "plan_year_pace": format_pence(self.pace),
                "recent_hours": {k: format_hundredths(v) for k, v in self.hours.items()},
                "queries_overdue": self.queries_overdue, "alerts": self.alerts}


def _recent_hours(session, since: date, as_of: date, person_ids=None) -> dict[int, dict[str, int]]:
    """Every person's (or the listed people's) delivered, refused and provider-cancelled
    hundredths in the window, in one query."""
    q = (sa.select(Delivery.person_id, Delivery.status, sa.func.sum(Delivery.quantity_hundredths))
         .outerjoin(DeliveryReversal, DeliveryReversal.delivery_id == Delivery.id)
         .where(DeliveryReversal.id.is_(None), Delivery.date >= since, Delivery.date <= as_of,
                Delivery.status.in_(("delivered", "refused", "provider_cancelled")))
         .group_by(Delivery.person_id, Delivery.status))
    if person_ids is not None:
        q = q.where(among(session, Delivery.person_id, person_ids))
    out: dict[int, dict[str, int]] = {}
    for pid, status, total in session.execute(q):
        out.setdefault(pid, {})[status] = int(total)
    return out


# What uses the budget (forecast.USES_BUDGET): the fee, support, shared support and spend.
USED_KINDS = sorted(k for k, h in HEADINGS.items() if h in USES_BUDGET)
FEE_KINDS = sorted(k for k, h in HEADINGS.items() if h == "management_fee_total")
original = aliased(Transaction, name="original")  # the transaction a reversal reverses


def _years(session, starts: dict[int, date], first: date):
    """The funds' plan-year starts as a table (pid, start, whole: the first whole month on or after
    the start) from ONE bound parameter, a JSON list, whatever the number of funds: a VALUES list
    binds two parameters a fund, and SQLite refuses a statement with more than 32,766."""
    rows = []
    for pid, start in sorted(starts.items()):
        whole = start if start.day == 1 else add_months(month_start(start), 1)
        rows.append([pid, start.isoformat(), min(whole, first).isoformat()])
    if session.get_bind().dialect.name == "postgresql":
        sql = ("SELECT CAST(e->>0 AS integer) AS pid, CAST(e->>1 AS date) AS start, CAST(e->>2 AS date) AS whole "
               "FROM json_array_elements(CAST(:{name} AS json)) AS e")
    else:
        sql = ("SELECT json_extract(value, '$[0]') AS pid, json_extract(value, '$[1]') AS start, "
               "json_extract(value, '$[2]') AS whole FROM json_each(:{name})")
    # A subquery for each part that joins it, not one CTE, which PostgreSQL would materialise.
    # The part months at the start are asked only of the funds whose plan year starts mid-month.
    heads = [r for r in rows if r[1] != r[2]]
    def table(head=False):
        name = "heads" if head else "years"
        return (sa.text(sql.format(name=name)).bindparams(**{name: json.dumps(heads if head else rows)})
                .columns(pid=sa.Integer, start=sa.Date, whole=sa.Date).subquery(name))
    return table


def _plan_year_use(session, starts: dict[int, date], as_of: date) -> dict[int, tuple[int, int]]:
    """Each fund's money used in its plan year, from its start (`starts`) to `as_of`, net of
    reversals, in pence: (everything used, the fee included; the same without the fee), in one
    query whatever the number of funds.

    [start, as_of] is read in three parts, which never overlap: the start's part month from the
    postings (each fund's own few days, along its account's index), the whole months after it
    from the checkpoints by kind (AccountKindMonth, a row a month), and as_of's month to the day
    from its postings (one date range for every fund, as `positions` reads the pots). Summing a
    year of postings per fund was three quarters of the dashboard's time on PostgreSQL."""
    first = month_start(as_of)
    years = _years(session, starts, first)
    used = sorted(USED_KINDS)
    # A reversal of a use is a use (negative): asked as EXISTS, so every join is an inner join
    # the planner may order from the funds' dates into the postings' (account, date) index.
    reverses_use = sa.exists().where(original.id == Transaction.reverses_id, original.kind.in_(used))
    moved = sa.or_(Transaction.kind.in_(used), sa.and_(Transaction.kind == REVERSAL.name, reverses_use))

    is_fee = sa.or_(Transaction.kind.in_(FEE_KINDS),
                    sa.and_(Transaction.kind == REVERSAL.name,
                            sa.exists().where(original.id == Transaction.reverses_id, original.kind.in_(FEE_KINDS))))
    not_fee = sa.case((is_fee, 0), else_=Posting.amount_pence)

    def posted(y, *on):
        return (sa.select(Account.person_id.label("pid"), Posting.amount_pence.label("pence"),
                          not_fee.label("support")).select_from(y)
                .join(Account, sa.and_(Account.person_id == y.c.pid, Account.kind == "available"))
                .join(Posting, sa.and_(Posting.account_id == Account.id, Posting.date >= y.c.start, *on))
                .join(Transaction, Transaction.id == Posting.transaction_id).where(moved))

    y = years(head=True)
    head = posted(y, Posting.date < y.c.whole)
    y = years()
    tail = posted(y, Posting.date >= first, Posting.date <= as_of)
    k, y = AccountKindMonth, years()
    month_fee = sa.or_(k.kind.in_(FEE_KINDS), sa.and_(k.kind == REVERSAL.name, k.reverses_kind.in_(FEE_KINDS)))
    months = (sa.select(Account.person_id, k.net_pence, sa.case((month_fee, 0), else_=k.net_pence))
              .join(Account, Account.id == k.account_id)
              .join(y, sa.and_(y.c.pid == Account.person_id, k.month >= y.c.whole, k.month < first))
              .where(Account.kind == "available",
                     sa.or_(k.kind.in_(used), sa.and_(k.kind == REVERSAL.name, k.reverses_kind.in_(used)))))
    parts = sa.union_all(head, months, tail).subquery()
    q = sa.select(parts.c.pid, sa.func.sum(parts.c.pence), sa.func.sum(parts.c.support)).group_by(parts.c.pid)
    return {pid: (-int(pence), -int(support)) for pid, pence, support in session.execute(q)}


def _lowest_available(session, since: dict[int, date], as_of: date) -> dict[int, int]:
    """Each listed fund's lowest `available` at the end of any day from its `since` to `as_of`
    (the day before `since` included), from one query of the postings' daily sums."""
    if not since:
        return {}
    start = min(since.values())
    before = positions(session, sorted(since), start - timedelta(days=1))
    running = {pid: before[pid].available if pid in before else 0 for pid in since}
    low = {pid: running[pid] for pid in since if since[pid] == start}
    q = (sa.select(Account.person_id, Posting.date, sa.func.sum(Posting.amount_pence))
         .join(Account, Account.id == Posting.account_id)
         .where(Account.kind == "available", Account.person_id.in_(sorted(since)), Posting.date >= start,
                Posting.date <= as_of)
         .group_by(Account.person_id, Posting.date).order_by(Account.person_id, Posting.date))
    for pid, day, pence in session.execute(q):
        if pid not in low and day >= since[pid]:
            low[pid] = running[pid]  # the balance as the fund's own window opened
        running[pid] += int(pence)
        if day >= since[pid]:
            low[pid] = min(low[pid], running[pid])
    return {pid: min(low.get(pid, running[pid]), running[pid]) for pid in since}


def weeks_held(available: int, budget: int) -> Decimal | None:
    if budget <= 0:
        return None
    return (Decimal(available) * 52 / budget).quantize(Decimal("0.01"), ROUND_HALF_UP)


def fund_figures(session, as_of: date, council_id: int | None = None, person_ids=None) -> list[FundFigures]:
    """Every fund's figures and alerts as at `as_of`, by person id (only one council's people,
    for its reviewers, when `council_id` is given; only `person_ids`' when given: the kept
    figures' refresh, reports/current.py)."""
    q = (sa.select(Person.id, Person.name, Person.council_reference, Fund.closed_on, Council)
         .join(Fund, Fund.person_id == Person.id).join(Council, Council.id == Person.council_id)
         .order_by(Person.id))
    if council_id is not None:
        q = q.where(Person.council_id == council_id)
    if person_ids is not None:
        q = q.where(among(session, Person.id, sorted(person_ids)))
    people = session.execute(q).all()
    ids = [p[0] for p in people]
    if not ids:
        return []
    some = council_id is not None or person_ids is not None
    held = positions(session, ids if some else None, as_of)
    plans = plans_by_person(session, ids)
    got = received_by_person(session, ids, as_of)
    history = rule_history(session, {p[4].id for p in people})
    years = {pid: plan_year(plans.get(pid, []), as_of) for pid in ids}
    starts = {pid: y[0] for pid, y in years.items() if y}
    used = _plan_year_use(session, starts, as_of) if starts else {}
    since = add_months(as_of, -RECENT_MONTHS) + timedelta(days=1)
    recent = _recent_hours(session, since, as_of, ids if some else None)
    overdue = overdue_by_person(session, as_of)
    out, watch = [], {}  # watch: pid -> (the first day the surplus must have lasted from, what it must beat)
    for pid, name, ref, closed_on, council in people:
        f = FundFigures(pid, name, council.name, ref, closed_on)
        pos = held.get(pid)
        if pos is not None:
            f.available, f.contingency, f.bank_value = pos.available, pos.contingency, pos.bank_value
        mine = plans.get(pid, [])
        plan = in_force(windows(mine), as_of) if mine else None
        f.annual_budget = plan.annual_budget_pence if plan else 0
        f.weeks_held = weeks_held(f.available, f.annual_budget)
        weeks = rule_on(session, "surplus_threshold_weeks", council, plan, as_of, history)
        threshold, f.surplus = surplus_above(f.available, f.bank_value, weeks, f.annual_budget)
        if f.surplus:
            weeks = rule_on(session, "surplus_alert_weeks", council, plan, as_of, history)
            watch[pid] = (as_of - timedelta(weeks=weeks) + timedelta(days=1), f.bank_value + threshold)
        owed = arrears_of(instalments_of(mine, council, as_of, history), got.get(pid, {}), as_of=as_of,
                          closed_on=closed_on)
        f.arrears = sum(row["arrears"] for row in owed.values())
        f.overdrawn = max(0, -f.available)
        year = years[pid]
        if year is not None and plan is not None:
            start, end = year
            f.spent, f.spent_on_support = used.get(pid, (0, 0))
            f.pace = round_half_up(Decimal(f.annual_budget) * ((as_of - start).days + 1) / ((end - start).days + 1))
        f.hours = {s: recent.get(pid, {}).get(s, 0) for s in HOURS}
        f.queries_overdue = overdue.get(pid, 0)
        out.append(f)
    low = _lowest_available(session, {pid: w[0] for pid, w in watch.items()}, as_of)
    for f in out:
        f.surplus_lasting = f.person_id in watch and low[f.person_id] - watch[f.person_id][1] > 0
        f.alerts = _alerts(f)
    return out


def _alerts(f: FundFigures) -> list[str]:
    h = f.hours
    given = h["delivered"] + h["provider_cancelled"]
    fired = {
        "overdrawn": f.available < 0,
        "underspending": f.surplus > 0 and f.surplus_lasting,
        "overspending": f.pace > 0 and f.spent_on_support > f.pace * (1 + OVERSPEND_MARGIN),
        "many_refusals": h["refused"] > 0 and h["refused"] > h["delivered"] * REFUSAL_SHARE,
        "many_provider_cancellations": h["provider_cancelled"] > 0 and h["provider_cancelled"] > given * CANCELLATION_SHARE,
        "arrears": f.arrears > 0,
        "queries_overdue": f.queries_overdue > 0,
    }
    return [a for a in ALERTS if fired[a]]


def totals(session, funds: list[FundFigures], as_of: date) -> dict:
    """The provider's totals: what it must make good, and all funds against client money."""
    return totals_of(session, sums(funds), as_of)


SUMMED = ("available", "contingency", "bank_value", "surplus", "arrears", "overdrawn")


def sums(funds: list[FundFigures]) -> dict:
    """What the totals add up over the funds (reports/current.py adds the same in SQL)."""
    return {"funds": len(funds), **{k: sum(getattr(f, k) for f in funds) for k in SUMMED},
            "alerts": {a: sum(a in f.alerts for f in funds) for a in ALERTS}}


def totals_of(session, added: dict, as_of: date, kept: bool = False) -> dict:
    """The totals from `sums`' figures, with the reconciliation as at `as_of`. `kept`: the
    figures are every fund's (the kept rows, reports/current.py), so the funds' side of the
    reconciliation is theirs and only client money is read (the person accounts are
    ledger.post.PERSON_ACCOUNTS: available and contingency)."""
    funds = (added["available"] + added["contingency"], added["overdrawn"]) if kept else None
    rec = reconcile(session, as_of, funds=funds)
    return {
        "funds": added["funds"],
        "balance": format_pence(added["available"]),
        "contingency": format_pence(added["contingency"]),
        "bank_liability": format_pence(added["bank_value"]),
        "surplus_above_threshold": format_pence(added["surplus"]),
        "arrears": format_pence(added["arrears"]),
        "overdrawn": format_pence(added["overdrawn"]),
        "provider_must_make_good": format_pence(rec["funds_overdrawn"]),
        "alerts": dict(added["alerts"]),
        "reconciliation": {"funds_total": format_pence(rec["funds_total"]),
                           "client_money_held": format_pence(rec["client_money_held"]),
                           "difference": format_pence(rec["difference"]), "reconciles": rec["reconciles"],
                           "bank_difference": None if rec["bank_difference"] is None
                           else format_pence(rec["bank_difference"]),
                           "last_reconciled": last_reconciled(session, as_of)},
    }


def last_reconciled(session, as_of: date) -> str | None:
    """The last day the bank, the ledger and the funds were reconciled to 0.00, on or before `as_of`."""
    from ..models import BankReconciliation

    day = session.scalar(sa.select(sa.func.max(BankReconciliation.as_of)).where(BankReconciliation.as_of <= as_of))
    return day.isoformat() if day else None


THRESHOLDS = {"overspend_margin": str(OVERSPEND_MARGIN), "refusal_share": str(REFUSAL_SHARE),
              "cancellation_share": str(CANCELLATION_SHARE), "recent_months": RECENT_MONTHS,
              "query_answer_working_days": ANSWER_WITHIN}


def sort_funds(funds: list[FundFigures], sort: str) -> list[FundFigures]:
    key = SORTS[sort.lstrip("-")]
    ordered = sorted(funds, key=lambda f: f.person_id)
    return sorted(ordered, key=key, reverse=sort.startswith("-"))


def dashboard(session, as_of: date, *, page: int = 1, per_page: int = 50, sort: str = "name") -> dict:
    funds = sort_funds(fund_figures(session, as_of), sort)
    at = (page - 1) * per_page
    return {"as_of": as_of.isoformat(), "sort": sort, "page": page, "per_page": per_page, "total": len(funds),
            "funds": [f.as_json() for f in funds[at:at + per_page]], "totals": totals(session, funds, as_of),
            "thresholds": THRESHOLDS}


COLUMNS = (("person_id", "Person"), ("name", "Name"), ("council", "Council"), ("council_reference", "Reference"),
           ("balance", "Balance"), ("weeks_held", "Weeks held"), ("surplus_above_threshold", "Surplus above threshold"),
           ("arrears", "Arrears"), ("contingency", "Contingency"), ("bank_liability", "Bank liability"),
           ("overdrawn", "Overdrawn"), ("plan_year_used", "Used this plan year"), ("plan_year_pace", "Budget pace"))
MONEY = {"balance", "surplus_above_threshold", "arrears", "contingency", "bank_liability", "overdrawn",
         "plan_year_used", "plan_year_pace", "weeks_held"}


def render_xlsx(session, as_of: date, sort: str = "name") -> bytes:
    """The whole list as a workbook, with the totals: money in £, a closed fund's closing date
    beside it, the header frozen and filtered, fit to print. The rows' values are made first
    (beside the funds' figures, already all in memory) to fit the columns, then streamed into a
    write-only sheet, so the workbook itself is never held as cells."""
    from openpyxl import Workbook
    funds = sort_funds(fund_figures(session, as_of), sort)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Funds")
    header = [label for _, label in COLUMNS] + ["Closed on", "Alerts"]
    rows = []
    for f in funds:
        j = f.as_json()
        rows.append([Decimal(j[k]) if k in MONEY and j[k] is not None else j[k] for k, _ in COLUMNS]
                    + [f.closed_on, ", ".join(a.replace("_", " ") for a in f.alerts)])
    fit_streamed(ws, [header, *rows])  # before the first row, as a streamed sheet needs
    table(ws, last_row=len(funds) + 1, columns=len(header), fit=False)
    append(ws, header)
    formats = [QUANTITY if k == "weeks_held" else GBP if k in MONEY else None for k, _ in COLUMNS] + [DATE, None]
    for values in rows:
        append(ws, [styled(ws, v, fmt) if fmt else v for v, fmt in zip(values, formats)])
    t = totals(session, funds, as_of)
    ts = wb.create_sheet("Totals")
    ts.column_dimensions["A"].width, ts.column_dimensions["B"].width = 34, 18
    print_to_width(ts, landscape=False)
    append(ts, ["As at", styled(ts, as_of, DATE)])
    for k in ("funds", "balance", "contingency", "bank_liability", "surplus_above_threshold", "arrears", "overdrawn",
              "provider_must_make_good"):
        append(ts, [words(k), styled(ts, Decimal(t[k]), GBP) if isinstance(t[k], str) else styled(ts, t[k], COUNT)])
    for k, v in t["reconciliation"].items():
        if k == "last_reconciled":
            append(ts, [words(k), styled(ts, date.fromisoformat(v), DATE) if v else "never"])
        else:
            append(ts, [words(k), styled(ts, Decimal(v), GBP) if isinstance(v, str) else v])
    for a, n in t["alerts"].items():
        append(ts, [f"Alert: {a.replace('_', ' ')}", styled(ts, n, COUNT)])
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
