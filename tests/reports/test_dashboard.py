"""The provider's dashboard: each fund's figures and alerts, exact, for crafted funds; paging and
sorting; the whole list as XLSX; and the same number of queries for 3 funds as for 30."""
from io import BytesIO

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from isf_ledger.db import db

AS_OF = "2026-10-31"


def deliver(api, pid, day, qty, status="delivered", **extra):
    return api.post(f"/api/v1/people/{pid}/deliveries", {"date": day, "start_time": "10:00", "service": "day_support",
                                                         "quantity": qty, "status": status, "domain": "health", **extra})


@pytest.fixture
def funds(api):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    ana, bo, cy, di = (api.person(n) for n in ("Ana", "Bo", "Cy", "Di"))
    for pid in (ana, bo):
        api.plan(pid)  # 26,000 a year from 2026-04-01, four-weekly: 8 instalments of 2,000 due by 31 October
    # Cy's plan alerts finance after 4 weeks above the threshold (the council's default is 12).
    api.plan(cy, effective_from="2026-10-01", annual_budget="2600.00", contingency_amount="300.00",
             surplus_alert_weeks=4)
    api.plan(di, annual_budget="2600.00")
    # Ana: 1,800 after the fee; 10 h given, 3 h refused (over a fifth); 4 h banked (74.00 earmarked).
    api.receipt(ana)
    deliver(api, ana, "2026-10-05", "10.00")
    deliver(api, ana, "2026-10-06", "3.00", "refused")
    deliver(api, ana, "2026-10-20", "4.00", "banked", notice_given_at="2026-10-10T09:00:00")
    mistake = deliver(api, ana, "2026-10-07", "5.00")  # reversed: in no figure
    api.post(f"/api/v1/deliveries/{mistake['id']}/reverse", {"reason": "recorded twice"})
    # Bo: nothing received yet, 10 h given: overdrawn 185.00; 2 h cancelled by the provider.
    deliver(api, bo, "2026-10-05", "10.00")
    deliver(api, bo, "2026-10-06", "2.00", "provider_cancelled")
    # Cy: 5,000 in a month into a 2,600 plan; 300 set aside.
    api.receipt(cy, "5000.00")
    api.post(f"/api/v1/people/{cy}/contingency/set-aside", {"date": "2026-10-02", "amount": "300.00"})
    # Di: 95 h by October against a 2,600 plan whose pace is 1,524.38 by 31 October.
    api.receipt(di)
    for day in range(1, 6):
        deliver(api, di, f"2026-10-{day + 10:02d}", "19.00")
    return {"ana": ana, "bo": bo, "cy": cy, "di": di}


def test_each_funds_figures_and_alerts(api, funds):
    d = api.get(f"/api/v1/dashboard?as_of={AS_OF}&sort=name")
    by = {f["name"]: f for f in d["funds"]}
    assert {k: by["Ana"][k] for k in ("balance", "weeks_held", "surplus_above_threshold", "arrears", "contingency",
                                      "bank_liability", "overdrawn", "alerts")} == {
        "balance": "1559.50", "weeks_held": "3.12", "surplus_above_threshold": "0.00", "arrears": "14000.00",
        "contingency": "0.00", "bank_liability": "74.00", "overdrawn": "0.00", "alerts": ["many_refusals", "arrears"]}
    # Used in the plan year: the fee (200.00) with the support (240.50), as on the statement.
    assert (by["Ana"]["plan_year_used"], by["Ana"]["plan_year_pace"]) == ("440.50", "15243.84")
    assert by["Ana"]["recent_hours"] == {"delivered": "10.00", "refused": "3.00", "provider_cancelled": "0.00"}
    assert (by["Bo"]["balance"], by["Bo"]["overdrawn"], by["Bo"]["weeks_held"], by["Bo"]["arrears"]) == \
        ("-185.00", "185.00", "-0.37", "16000.00")
    assert by["Bo"]["alerts"] == ["overdrawn", "many_provider_cancellations", "arrears"]
    assert (by["Cy"]["balance"], by["Cy"]["contingency"], by["Cy"]["weeks_held"], by["Cy"]["surplus_above_threshold"],
            by["Cy"]["arrears"], by["Cy"]["alerts"]) == ("4200.00", "300.00", "84.00", "4000.00", "0.00", ["underspending"])
    assert (by["Di"]["balance"], by["Di"]["plan_year_used"], by["Di"]["plan_year_pace"], by["Di"]["alerts"]) == \
        ("42.50", "1957.50", "1524.38", ["overspending"])  # the alert tests 1,757.50 of support, not the fee
    t = d["totals"]
    assert (t["funds"], t["balance"], t["contingency"], t["overdrawn"], t["provider_must_make_good"], t["arrears"],
            t["bank_liability"], t["surplus_above_threshold"]) == \
        (4, "5617.00", "300.00", "185.00", "185.00", "30000.00", "74.00", "4000.00")
    assert t["reconciliation"] == {"funds_total": "5917.00", "client_money_held": "5917.00", "difference": "0.00",
                                   "reconciles": True, "bank_difference": None, "last_reconciled": None}
    assert t["alerts"] == {"overdrawn": 1, "underspending": 1, "overspending": 1, "many_refusals": 1,
                           "many_provider_cancellations": 1, "arrears": 2, "queries_overdue": 0}


def test_paging_and_sorting(api, funds):
    d = api.get(f"/api/v1/dashboard?as_of={AS_OF}&sort=-balance&per_page=3")
    assert [f["name"] for f in d["funds"]] == ["Cy", "Ana", "Di"] and d["total"] == 4
    d = api.get(f"/api/v1/dashboard?as_of={AS_OF}&sort=-balance&per_page=3&page=2")
    assert [f["name"] for f in d["funds"]] == ["Bo"]
    assert [f["name"] for f in api.get(f"/api/v1/dashboard?as_of={AS_OF}&sort=-overdrawn&per_page=1")["funds"]] == ["Bo"]
    assert [f["name"] for f in api.get(f"/api/v1/dashboard?as_of={AS_OF}&sort=weeks_held")["funds"]] == \
        ["Bo", "Di", "Ana", "Cy"]
    assert [f["name"] for f in api.get(f"/api/v1/dashboard?as_of={AS_OF}&sort=-arrears")["funds"]] == \
        ["Bo", "Ana", "Cy", "Di"]
    assert api.call("GET", "/api/v1/dashboard?sort=shoe_size").status_code == 422
    broker = api.user("broker")
    assert api.call("GET", "/api/v1/dashboard", token=broker).status_code == 403


def test_the_whole_list_as_a_workbook(api, funds):
    r = api.call("GET", f"/api/v1/dashboard?as_of={AS_OF}&format=xlsx&sort=person_id")
    assert r.status_code == 200
    wb = load_workbook(BytesIO(r.data))
    rows = list(wb["Funds"].iter_rows(values_only=True))
    assert rows[0][:5] == ("Person", "Name", "Council", "Reference", "Balance")
    assert [(r[1], str(r[4]), r[-1]) for r in rows[1:]] == [
        ("Ana", "1559.5", "many refusals, arrears"), ("Bo", "-185", "overdrawn, many provider cancellations, arrears"),
        ("Cy", "4200", "underspending"), ("Di", "42.5", "overspending")]
    totals = {r[0]: r[1] for r in wb["Totals"].iter_rows(values_only=True)}
    assert str(totals["Provider must make good"]) == "185" and totals["Reconciles"] is True


def _queries(api, path, bound=None):
    count = [0]

    def seen(conn, cursor, statement, parameters, *_a):
        count[0] += 1
        if bound is not None and "years" in statement:  # the plan-year starts: one parameter, however many funds
            bound.append(len(parameters))

    with api.app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        r = api.call("GET", path)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert r.status_code == 200
    return count[0]


def test_the_number_of_queries_does_not_grow_with_the_funds(api):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    counts, bound = [], []
    made = 0
    for n in (3, 30):
        while made < n:
            pid = api.person(f"P{made:03d}")
            api.plan(pid)
            api.receipt(pid)
            deliver(api, pid, "2026-10-05", "2.00")
            deliver(api, pid, "2026-10-06", "1.00", "banked", notice_given_at="2026-10-01T09:00:00")
            made += 1
        counts.append((_queries(api, f"/api/v1/dashboard?as_of={AS_OF}", bound),
                       _queries(api, f"/api/v1/dashboard?as_of={AS_OF}&format=xlsx")))
    print("queries (json, xlsx) for 3 and 30 funds:", counts)
    assert counts[0] == counts[1], counts
    assert counts[0][0] <= 25, counts
    assert len(bound) == 2 and bound[0] == bound[1], bound


def test_plan_year_use_from_its_part_months_and_the_checkpoints_between(api):
    """A plan year that starts mid-month: its first days read from the postings, the whole months
    from the checkpoints by kind (a reversal netted in its month), the last month to the day."""
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2025-01-01"})
    pid = api.person("Eve")
    api.plan(pid, effective_from="2025-06-15", contingency_amount="300.00")  # plan years from 15 June: as at 31 October, from 2026-06-15
    api.receipt(pid, "5000.00", date="2026-07-01")  # money in is not use; its fee (500.00) is
    deliver(api, pid, "2026-06-14", "4.00")  # the day before the plan year: not counted
    deliver(api, pid, "2026-06-15", "1.00")  # its first day: 18.50
    deliver(api, pid, "2026-06-20", "2.00")  # 37.00
    deliver(api, pid, "2026-08-05", "2.00")  # 37.00
    mistake = deliver(api, pid, "2026-09-12", "2.00")  # reversed in September: nothing
    api.post(f"/api/v1/deliveries/{mistake['id']}/reverse", {"reason": "recorded twice"})
    api.post(f"/api/v1/people/{pid}/contingency/set-aside", {"date": "2026-08-10", "amount": "100.00"})  # not use
    deliver(api, pid, "2026-10-05", "2.00")  # 37.00
    deliver(api, pid, "2026-10-31", "1.00")  # as_of itself: 18.50
    deliver(api, pid, "2026-11-02", "8.00")  # after as_of: not counted
    used = {d: api.get(f"/api/v1/dashboard?as_of={d}")["funds"][0]["plan_year_used"]
            for d in ("2026-06-14", "2026-06-30", "2026-09-30", "2026-10-31")}
    assert used == {"2026-06-14": "74.00", "2026-06-30": "55.50", "2026-09-30": "592.50", "2026-10-31": "648.00"}


def test_the_dashboard_migration_fills_the_checkpoints_by_kind_from_existing_books(api, funds):
    """0013 on books written before it: the same rows ledger.post keeps, reversals included."""
    from isf_ledger.workflows.self_audit import audit

    def rows():
        with api.app.app_context():
            out = sorted(tuple(map(str, r)) for r in db.session.execute(sa.text(
                "SELECT account_id, month, kind, reverses_kind, net_pence FROM account_kind_months")))
            db.session.remove()
            return out

    kept = rows()
    assert any(r[2] == "reversal" and r[3] == "delivery" for r in kept), kept
    runner = api.app.test_cli_runner()
    assert runner.invoke(args=["db", "downgrade", "0011"]).exit_code == 0
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert rows() == kept
    with api.app.app_context():
        found = audit(db.session)
        db.session.rollback()
    assert found["monthly checkpoints by kind equal the postings"] == []


def test_underspending_means_the_surplus_lasted_the_councils_weeks_not_an_instalment_in_advance(api):
    """domain.md "Councils" surplus_alert_weeks (default 12): Eve's balance is lifted by a
    quarter paid in advance three days ago, Fay's has stayed above the threshold since July."""
    eve, fay = api.person("Eve"), api.person("Fay")
    api.plan(eve, effective_from="2026-04-01", annual_budget="2600.00")
    api.plan(fay, effective_from="2026-04-01", annual_budget="2600.00")
    api.receipt(eve, "50.00", "2026-07-01")
    api.receipt(eve, "1000.00", "2026-10-28")  # 50 a week of threshold: 200 over 4 weeks
    api.receipt(fay, "1000.00", "2026-07-01")
    d = api.get(f"/api/v1/dashboard?as_of={AS_OF}&sort=name")
    by = {f["name"]: f for f in d["funds"]}
    assert (by["Eve"]["surplus_above_threshold"], by["Fay"]["surplus_above_threshold"]) == ("745.00", "700.00")
    assert "underspending" not in by["Eve"]["alerts"] and "underspending" in by["Fay"]["alerts"]
    # A plan that alerts later wins over the council: Fay's surplus has lasted 17 weeks, not 18.
    api.plan(fay, effective_from="2026-10-01", annual_budget="2600.00", surplus_alert_weeks=18)
    by = {f["name"]: f for f in api.get(f"/api/v1/dashboard?as_of={AS_OF}&sort=name")["funds"]}
    assert "underspending" not in by["Fay"]["alerts"]
