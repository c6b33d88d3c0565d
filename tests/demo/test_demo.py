"""The demo provider: realistic, deterministic for a seed, and every invariant kept."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa

from isf_ledger import clock, create_app
from isf_ledger.demo.load import demo_start
from isf_ledger.accounts.instalments import arrears, expected_instalments
from isf_ledger.models import (Account, Clawback, ContingencyMovement, Delivery, FundClosing, Person, Posting, Rate,
    Receipt, Spend, Transaction)
from isf_ledger.accounts.plans import DOMAINS, plan_on, plan_year_start, plans_of
from isf_ledger.db import db

DEMO = ["demo", "--people", "12", "--months", "6", "--seed", "3"]


def run_demo(app, *extra):
    result = app.test_cli_runner().invoke(args=[*DEMO, *extra])
    assert result.exit_code == 0, result.output
    return result


def half_up(pence: int, rate: Decimal) -> int:
    return int((Decimal(pence) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def figures(app) -> dict:
    """Everything the demo decided, without database ids."""
    with app.app_context():
        s = db.session
        people = s.scalars(sa.select(Person).order_by(Person.id)).all()
        out = {"rates": [(r.service, r.unit, r.rate, r.effective_from)
                         for r in s.scalars(sa.select(Rate).order_by(Rate.service, Rate.effective_from))],
               "people": []}
        for p in people:
            plans = [(v.effective_from, v.annual_budget_pence, v.payment_cycle, v.management_fee_rate,
                      v.contingency_amount_pence, v.weekly_client_contribution_pence, v.planned_weekly_hours,
                      [(b.domain, b.outcome, b.annual_amount_pence) for b in v.budget_lines])
                     for v in plans_of(s, p.id)]
            receipts = [(r.date, r.amount_pence, r.source, r.reference, r.fee_rate, r.fee_pence)
                        for r in s.scalars(sa.select(Receipt).where(Receipt.person_id == p.id)
                                           .order_by(Receipt.date, Receipt.id))]
            out["people"].append((p.name, p.council.name, p.council_reference, p.fund.opened_on, plans, receipts))
        s.rollback()
        return out


def test_demo_fills_the_ledger_and_the_books_hold(app):
    result = run_demo(app)
    assert "demo: 12 people," in result.output
    assert "isf-ledger users create --name NAME --role finance" in result.output
    audit = app.test_cli_runner().invoke(args=["audit"])
    assert audit.exit_code == 0, audit.output
    assert "the books hold" in audit.output
    with app.app_context():
        s = db.session
        assert s.scalar(sa.select(sa.func.count(Person.id))) == 12
        councils = {p.council.name for p in s.scalars(sa.select(Person))}
        assert councils <= {"Northshire County Council", "Southvale Borough Council", "Eastmere City Council"}
        # The summary's counts are the database's.
        n_receipts = s.scalar(sa.select(sa.func.count(Receipt.id)))
        n_txns = s.scalar(sa.select(sa.func.count(Transaction.id)))
        n_postings = s.scalar(sa.select(sa.func.count(Posting.id)))
        n_deliveries = s.scalar(sa.select(sa.func.count(Delivery.id)))
        assert (f"{n_receipts} receipts, {n_deliveries} deliveries, {n_txns} transactions, {n_postings} postings"
                in result.output)
        # Every transaction is a receipt, the fee it bore, the charge for a delivery, a contingency
        # movement, a spend or a share of shared support.
        fees = s.scalar(sa.select(sa.func.count(Receipt.fee_transaction_id)))
        charges = s.scalar(sa.select(sa.func.count(Delivery.transaction_id)))
        moved = s.scalar(sa.select(sa.func.count(ContingencyMovement.id)))
        spent = s.scalar(sa.select(sa.func.count(Spend.id)))
        shared = s.scalar(sa.select(sa.func.count(Transaction.id))
                          .where(Transaction.kind.in_(("shared_charge", "shared_void"))))
        assert shared > 0
        assert n_txns == n_receipts + fees + charges + moved + spent + shared
        # Every status is there, banked hours are drawn, and each charge is the delivery's.
        statuses = set(s.scalars(sa.select(Delivery.status).distinct()))
        assert statuses == {"delivered", "refused", "unplanned", "banked", "bank_used", "provider_cancelled"}
        for d in s.scalars(sa.select(Delivery).where(Delivery.transaction_id.is_not(None))):
            assert s.get(Transaction, d.transaction_id).kind == "delivery"
            assert d.charge_pence == half_up(d.quantity_hundredths, d.rate)


def test_contingency_and_spend_are_realistic_and_never_overdraw(app):
    run_demo(app, "--people", "40", "--months", "12")
    with app.app_context():
        s = db.session
        kinds = dict(s.execute(sa.select(Transaction.kind, sa.func.count()).group_by(Transaction.kind)).all())
        assert kinds["contingency_set_aside"] >= 40 * 6 and kinds["contingency_draw"] >= 1
        assert kinds["spend"] >= 40 * 12
        # Each row sits on its own transaction of the right kind, on the same day.
        for model, want in ((ContingencyMovement, ("contingency_set_aside", "contingency_draw")), (Spend, ("spend",))):
            pairs = s.execute(sa.select(model.date, Transaction.date, Transaction.kind)
                              .join(Transaction, Transaction.id == model.transaction_id)).all()
            assert pairs and all(d == t and k in want for d, t, k in pairs)
        draws = s.scalars(sa.select(ContingencyMovement).where(ContingencyMovement.kind == "draw")).all()
        assert all(d.reason and d.authorised_by for d in draws)
        invoices = s.scalars(sa.select(Spend).where(Spend.invoice_reference.is_not(None))).all()
        assert invoices and all(i.category == "subcontracted_support" for i in invoices)
        assert {sp.domain for sp in s.scalars(sa.select(Spend))} <= set(DOMAINS)
        # Set-asides within each plan year's contingency amount (one plan, from the demo's start).
        for person in s.scalars(sa.select(Person)):
            plan = plans_of(s, person.id)[0]
            years: dict = {}
            for m in s.scalars(sa.select(ContingencyMovement).where(ContingencyMovement.person_id == person.id,
                                                                   ContingencyMovement.kind == "set_aside")):
                year = plan_year_start(s, person.id, m.date)
                years[year] = years.get(year, 0) + m.amount_pence
            assert years and all(total <= plan.contingency_amount_pence for total in years.values())
        # No pot is below zero at the end of a day but through support already given (invariant
        # 5): sessions run through the month, and a council's late instalment can leave a fund
        # short until it comes. Spend and contingency are only ever what the fund can afford.
        rows = s.execute(sa.select(Posting.account_id, Account.kind, Posting.date, Posting.amount_pence,
                                   Transaction.kind)
                         .join(Account, Account.id == Posting.account_id)
                         .join(Transaction, Transaction.id == Posting.transaction_id)
                         .where(Account.person_id.is_not(None)).order_by(Posting.account_id, Posting.date)).all()
        by_day: dict = {}
        kinds_on: dict = {}
        for account, pot, day, pence, kind in rows:
            by_day[(account, pot, day)] = by_day.get((account, pot, day), 0) + pence
            if pence < 0:
                kinds_on.setdefault((account, day), set()).add(kind)
        running: dict = {}
        for (account, pot, day), pence in sorted(by_day.items()):
            running[account] = running.get(account, 0) + pence
            if running[account] < 0:
                assert pot == "available" and kinds_on.get((account, day), set()) <= {"delivery", "shared_charge",
                                                                                       "fee"}, \
                    (account, day, kinds_on.get((account, day)))
        s.rollback()
    audit = app.test_cli_runner().invoke(args=["audit"])
    assert audit.exit_code == 0, audit.output
def test_shared_houses_are_real_arrangements_charged_every_month(app, api):
    run_demo(app)
    start, today = demo_start(date.today(), 6), date.today()
    arrangements = api.get("/api/v1/shared-arrangements")
    assert arrangements
    with app.app_context():
        homes = {}
        for p in db.session.scalars(sa.select(Person)):
            homes.setdefault(p.council.name, []).append(p.id)
    sleep_ins = [a for a in arrangements if a["name"].startswith("Sleep-in")]
    assert sleep_ins and all(a["method"] == "equal" and a["per_night"] for a in sleep_ins)
    assert all(a["capacity"] >= len(a["members"]) for a in arrangements)
    month = start
    while month.replace(day=28) < today.replace(day=1):
        for a in arrangements:
            report = api.get(f"/api/v1/shared-arrangements/{a['id']}/charges/{month:%Y-%m}")
            assert report["sums_to_cost"] is True and report["total"] == report["cost"] != "0.00"
            assert len(report["shares"]) == len(a["members"])
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def test_plans_are_realistic_and_budget_lines_and_contingency_sum_to_the_budget(app):
    run_demo(app)
    start = demo_start(date.today(), 6)
    with app.app_context():
        s = db.session
        for person in s.scalars(sa.select(Person)):
            plans = plans_of(s, person.id)
            assert len(plans) == 1
            plan = plans[0]
            assert plan.effective_from == start and person.fund.opened_on == start
            assert 15_000_00 <= plan.annual_budget_pence <= 160_000_00
            assert plan.annual_budget_pence % 100 == 0  # whole pounds
            assert plan.management_fee_rate in (Decimal("0.10"), Decimal("0.08"))
            assert plan.payment_cycle in (None, "monthly")
            assert plan.weekly_client_contribution_pence == 0 or \
                2000 <= plan.weekly_client_contribution_pence <= 6000
            assert Decimal(plan.planned_weekly_hours["day_support"]) > 0
            # Five weeks of the budget, in whole pounds.
            assert plan.contingency_amount_pence == 100 * half_up(plan.annual_budget_pence // 100, Decimal(5) / 52)
            assert sorted(b.domain for b in plan.budget_lines) == sorted(DOMAINS)
            assert all(b.annual_amount_pence > 0 and b.outcome for b in plan.budget_lines)
            assert sum(b.annual_amount_pence for b in plan.budget_lines) + plan.contingency_amount_pence \
                == plan.annual_budget_pence
        # The rate card starts before the demo does, at the contract's example rates.
        first = {r.service: r for r in s.scalars(sa.select(Rate).order_by(Rate.effective_from.desc()))}
        assert first["day_support"].rate == Decimal("18.50") and first["day_support"].unit == "hour"
        assert first["sleep_in"].rate == Decimal("62.40") and first["sleep_in"].unit == "night"
        assert first["waking_night"].unit == "night"
        assert all(r.effective_from < start for r in first.values())


def test_every_receipt_bears_the_fee_at_its_plan_rate(app):
    run_demo(app)
    with app.app_context():
        s = db.session
        receipts = s.scalars(sa.select(Receipt).order_by(Receipt.id)).all()
        assert receipts
        sources = {r.source for r in receipts}
        assert "council" in sources and sources <= {"council", "client_contribution"}
        for r in receipts:
            rate = plan_on(s, r.person_id, r.date).management_fee_rate
            assert r.fee_rate == rate
            assert not r.fee_exempt
            assert r.fee_pence == half_up(r.amount_pence, rate) > 0
            fund = {a.kind: a.id for a in s.scalars(sa.select(Account).where(Account.person_id == r.person_id))}
            money_in = s.get(Transaction, r.transaction_id)
            assert (money_in.kind, money_in.date, money_in.person_id) == ("receipt", r.date, r.person_id)
            assert {p.account_id: p.amount_pence for p in money_in.postings}[fund["available"]] == r.amount_pence
            fee = s.get(Transaction, r.fee_transaction_id)
            assert (fee.kind, fee.date, fee.person_id) == ("fee", r.date, r.person_id)
            assert {p.account_id: p.amount_pence for p in fee.postings}[fund["available"]] == -r.fee_pence
            assert sum(p.amount_pence for p in fee.postings) == 0


def test_receipts_are_the_instalments_due_and_arrears_agree(app):
    run_demo(app)
    today = date.today()
    with app.app_context():
        s = db.session
        for person in s.scalars(sa.select(Person)):
            due = expected_instalments(s, person, today)
            assert due
            got = s.scalars(sa.select(Receipt).where(Receipt.person_id == person.id)).all()
            council = [r for r in got if r.source == "council"]
            own = [r for r in got if r.source == "client_contribution"]
            # Each council payment is one instalment: its amount, paid on or after its due date.
            by_due = {i.due: i for i in due}
            for r in council:
                inst = by_due[date.fromisoformat(r.reference.rsplit(" ", 1)[-1])]
                assert r.amount_pence == inst.council_pence and inst.due <= r.date <= today
            assert len({r.reference for r in council}) == len(council)
            for r in own:
                assert r.amount_pence == by_due[r.date].person_pence > 0
            owed = arrears(s, person, today)
            assert owed["council"]["received"] == sum(r.amount_pence for r in council)
            assert owed["council"]["due"] == sum(i.council_pence for i in due)
            assert owed["council"]["arrears"] == owed["council"]["due"] - owed["council"]["received"]
            assert owed["person"]["arrears"] == owed["person"]["due"] - owed["person"]["received"]
            # At most one council instalment is missing or not yet in, at most one contribution.
            assert len(due) - 1 <= len(council) <= len(due)
            with_contribution = sum(1 for i in due if i.person_pence)
            assert with_contribution - 1 <= len(own) <= with_contribution


def test_same_seed_gives_the_same_figures(app, databases, backend):
    run_demo(app)
    url = databases.fresh(backend)
    other = create_app({"TESTING": True, "DATABASE_URL": url})
    try:
        run_demo(other)
        assert figures(other) == figures(app)
        assert len(figures(app)["people"]) == 12
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
        databases.drop(url)


def test_another_seed_gives_other_figures(app, databases, backend):
    url = databases.fresh(backend)
    other = create_app({"TESTING": True, "DATABASE_URL": url})
    try:
        run_demo(app)
        result = other.test_cli_runner().invoke(args=["demo", "--people", "12", "--months", "6", "--seed", "4"])
        assert result.exit_code == 0, result.output
        assert figures(other)["people"] != figures(app)["people"]
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
        databases.drop(url)


def test_reconciliation_endpoint_reconciles(app, api):
    run_demo(app)
    r = api.get("/api/v1/reconciliation")
    assert r["reconciles"] is True
    assert r["difference"] == "0.00"
    assert r["funds_total"] == r["client_money_held"] != "0.00"
    assert r["funds_overdrawn"] == "0.00"


def test_a_second_run_needs_append(app):
    run_demo(app)
    before = figures(app)
    again = app.test_cli_runner().invoke(args=DEMO)
    assert again.exit_code != 0
    assert "--append" in again.output
    assert figures(app) == before  # nothing written
    quiet = app.test_cli_runner().invoke(args=[*DEMO, "--if-empty"])
    assert quiet.exit_code == 0 and "no demo data added" in quiet.output
    assert figures(app) == before
    # With --append the same provider is added again beside the first: new references, same money.
    run_demo(app, "--append")
    after = figures(app)
    assert after["rates"] == before["rates"]  # the rate card already priced these services
    assert len(after["people"]) == 24
    refs = [(p[1], p[2]) for p in after["people"]]
    assert len(set(refs)) == 24
    strip = lambda people: [(p[0], p[1], p[3], p[4], [r[:3] + r[4:] for r in p[5]]) for p in people]  # noqa: E731
    assert strip(after["people"][12:]) == strip(before["people"])
    audit = app.test_cli_runner().invoke(args=["audit"])
    assert audit.exit_code == 0, audit.output


@pytest.mark.parametrize("args", [["--people", "0"], ["--months", "0"], ["--seed", "x"]])
def test_bad_options_are_refused(app, args):
    result = app.test_cli_runner().invoke(args=["demo", *args])
    assert result.exit_code == 2
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Person.id))) == 0


def test_an_interrupted_run_leaves_whole_people_and_the_books_hold(app, monkeypatch):
    from isf_ledger.demo import load as demo

    real, calls = demo.fill_person, []

    def fill_then_fail(session, *args):
        calls.append(1)
        got = real(session, *args)
        if len(calls) == 3:  # the third person is written, then the run stops before its commit
            raise RuntimeError("power cut")
        return got

    monkeypatch.setattr(demo, "fill_person", fill_then_fail)
    result = app.test_cli_runner().invoke(args=DEMO)
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
    assert "stopped after 2 people" in result.output
    with app.app_context():
        s = db.session
        people = s.scalars(sa.select(Person)).all()
        assert len(people) == 2
        for person in people:  # each with their plan and every receipt
            assert len(plans_of(s, person.id)) == 1
            assert s.scalar(sa.select(sa.func.count(Receipt.id)).where(Receipt.person_id == person.id)) > 0
        s.rollback()
    audit = app.test_cli_runner().invoke(args=["audit"])
    assert audit.exit_code == 0, audit.output


def test_reconciliation_holds_after_a_demo_of_500_people_with_every_kind_of_record(app, api):
    """500 people with receipts, fees, deliveries of every status, contingency, spend, shared
    support, clawbacks, fee refunds and closed funds: client money equals the sum of the funds,
    and the audit holds."""
    result = app.test_cli_runner().invoke(args=["demo", "--people", "500", "--months", "3", "--seed", "5"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        kinds = set(db.session.scalars(sa.select(Transaction.kind).distinct()))
        made = {model.__name__: db.session.scalar(sa.select(sa.func.count(model.id)))
                for model in (Clawback, FundClosing)}
        fee_refunds = db.session.scalar(sa.select(sa.func.count(Transaction.id)).where(Transaction.kind == "fee_refund"))
        db.session.rollback()
    assert {"receipt", "fee", "delivery", "shared_charge", "shared_void", "spend", "contingency_set_aside",
            "clawback", "fee_refund", "closing"} <= kinds
    # A small share of people each: up to 1 in 50 clawed back (those with a surplus worth it), 1 in
    # 100 refunded a fee, 1 in 100 closed.
    assert 1 <= made["Clawback"] <= 10 and made["FundClosing"] == 5 and fee_refunds == 5
    rec = api.get("/api/v1/reconciliation?as_of=2100-12-31")
    assert rec["reconciles"] is True and rec["difference"] == "0.00"
    audit = app.test_cli_runner().invoke(args=["audit"])
    assert audit.exit_code == 0, audit.output


def test_clawbacks_fee_refunds_and_closings_are_what_the_api_would_write(app, api):
    """From 50 people: the surplus recovered with notice and within it, a fee refund with its
    reason, and a closed fund paid out, with its final statement and nothing dated after it."""
    result = app.test_cli_runner().invoke(args=["demo", "--people", "50", "--months", "6", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "1 clawback, 1 fee refund, 1 fund closed" in result.output
    today = clock.today()
    with app.app_context():
        s = db.session
        [claw] = s.scalars(sa.select(Clawback)).all()
        assert claw.method == "repayment" and claw.override_reason is None and claw.date == today
        assert 0 < claw.amount_pence <= claw.recoverable_pence and claw.amount_pence % 100 == 0
        assert (claw.date - claw.notice_given_on).days >= 28
        [refund] = s.scalars(sa.select(Transaction).where(Transaction.kind == "fee_refund")).all()
        assert refund.reason and refund.reason in refund.description
        [closing] = s.scalars(sa.select(FundClosing)).all()
        person = s.get(Person, closing.person_id)
        assert person.fund.closed_on == closing.date == today
        assert closing.destination in ("council", "transfer") and person.council_reference in closing.reference
        later = s.scalar(sa.select(sa.func.count(Transaction.id)).where(Transaction.person_id == person.id,
                                                                        Transaction.date > closing.date))
        assert later == 0
        # Each picked once: nobody closed was also clawed back or refunded.
        assert len({claw.person_id, refund.person_id, closing.person_id}) == 3
        pid, reference = person.id, closing.reference
        s.rollback()
    assert api.balance(pid, today.isoformat())["available"] == "0.00"
    assert api.get(f"/api/v1/people/{pid}/statements/{today:%Y-%m}")["final"]["reference"] == reference
    r = api.call("POST", f"/api/v1/people/{pid}/statement-delivery", {"method": "post", "address_lines": ["x"]})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "fund_closed"
    assert api.get("/api/v1/reconciliation")["reconciles"] is True
    audit = app.test_cli_runner().invoke(args=["audit"])
    assert audit.exit_code == 0, audit.output


def test_sessions_follow_each_persons_week_across_the_plans_parts(app):
    """Issue 23 item 6: day support on the person's set days each week at the planned hours, in
    the parts of the plan its budget lines pay for; refusals, unplanned, banked and cancelled
    sessions at believable rates."""
    from collections import Counter

    from isf_ledger.accounts.hours import hours_by_period

    run_demo(app)
    with app.app_context():
        s = db.session
        today = clock.today()
        rows = s.execute(sa.select(Delivery.person_id, Delivery.date, Delivery.status, Delivery.domain,
                                   Delivery.quantity_hundredths).where(Delivery.service == "day_support")).all()
        by_status = Counter(r.status for r in rows)
        sessions = sum(by_status.values())
        assert 0.02 <= by_status["refused"] / sessions <= 0.10, by_status
        for status in ("unplanned", "banked", "provider_cancelled", "bank_used"):
            assert 0 < by_status[status] / sessions <= 0.08, (status, by_status)
        for person in s.scalars(sa.select(Person)):
            mine = [r for r in rows if r.person_id == person.id]
            plan = plans_of(s, person.id)[0]
            start = person.fund.opened_on
            # Several sessions a week, on the same weekdays.
            weekdays = Counter(r.date.weekday() for r in mine if r.status != "bank_used")
            assert 3 <= len(weekdays) <= 6, weekdays
            # Every whole week has support in it, and its hours are the plan's weekly hours.
            weeks = hours_by_period(s, [person.id], start + timedelta(days=7 - start.weekday()),
                                    today - timedelta(days=today.weekday() + 1), kinds=("weeks",))[person.id]["weeks"]
            weekly = int(Decimal(plan.planned_weekly_hours["day_support"]) * 100)
            for w in weeks:
                given = sum(r.quantity_hundredths for r in mine if r.status != "bank_used"
                            and r.date.isocalendar()[:2] == tuple(map(int, w["week"].split("-W"))))
                assert given == weekly, (person.id, w["week"], given, weekly)
            # The money goes to the parts of the plan the budget lines pay for, the largest first.
            lines = {b.domain: b.annual_amount_pence for b in plan.budget_lines if b.domain != "staying_safe"}
            charged = Counter()
            for r in mine:
                charged[r.domain] += r.quantity_hundredths
            assert len(charged) >= 2 and charged[max(lines, key=lines.get)] > 0, (lines, charged)
        s.rollback()
