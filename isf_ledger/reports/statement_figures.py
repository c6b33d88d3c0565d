"""A month's statement figures for many people at once (domain.md "Monthly statement"): the
read-model statements, the review pack and the person's pages share, so their figures agree.

Read set-based for a batch of people: money from figures.month_money (three queries), plans,
receipts and people one query each, the plan year's monthly outgoings one query; instalments,
arrears, the surplus and the forecast are computed in Python from those rows.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..db import among, month_label
from ..money import format_hundredths, format_pence, round_half_up
from ..accounts.clawback import surplus_above
from ..accounts.councils import rule_history, rule_on
from ..accounts.fees import fee_rate_in
from ..accounts.instalments import arrears_of, instalments_of, received_by_person
from ..accounts.interest import interest_received
from ..models import Account, Council, Person, Posting, Spend, Transaction
from ..accounts.hours import hours_by_period
from ..accounts.plans import in_force, plans_by_person, windows
from ..accounts.positions import bank_positions
from .figures import HEADINGS, available_accounts, month_money
from .forecast import USES_BUDGET, plan_year
from ..clock import add_months, month_end, month_start, month_starts

HOURS_FIELDS = ("planned", "delivered", "refused", "unplanned", "banked", "bank_used", "provider_cancelled",
                "bank_balance", "used")  # used: delivered + bank_used (accounts/hours.USED)




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
