"""Each fund's kept figures (reports/current.py, models/figures.py) against the slow path
(reports.dashboard.fund_figures) as at today: after every kind of write and as the calendar moves
on, every fund's figures, the totals and every sort's order are the same, to the penny; a
planted difference is found by the self-audit and mended by `isf-ledger figures rebuild`."""
from datetime import date

import pytest
import sqlalchemy as sa

from isf_ledger import clock
from isf_ledger.db import db
from isf_ledger.reports import current
from isf_ledger.reports import dashboard as dash
from isf_ledger.workflows.self_audit import audit

SORTS = [p + k for k in dash.SORTS for p in ("", "-")]
CHECK = "each fund's kept dashboard figures equal the ledger's"


@pytest.fixture
def today(monkeypatch):
    box = {"day": date(2026, 10, 31)}
    monkeypatch.setattr(clock, "today", lambda: box["day"])
    return box


def deliver(api, pid, day, qty, status="delivered", **extra):
    return api.post(f"/api/v1/people/{pid}/deliveries", {"date": day, "start_time": "10:00", "service": "day_support",
                                                         "quantity": qty, "status": status, "domain": "health", **extra})


def slow(api):
    with api.app.app_context():
        day = clock.today()
        funds = dash.fund_figures(db.session, day)
        out = [f.as_json() for f in funds], dash.totals(db.session, funds, day), funds
        db.session.rollback()
    return out


def same(api, sorts=("person_id",)):
    """The API's dashboard today (the kept figures) equals the slow path's, fund by fund."""
    want, totals, funds = slow(api)
    got = api.get("/api/v1/dashboard?sort=person_id&per_page=500")
    assert got["as_of"] == clock.today().isoformat()
    for mine, theirs in zip(got["funds"], want):
        assert mine == theirs, {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs.get(k)}
    assert len(got["funds"]) == len(want) and got["total"] == len(want)
    assert got["totals"] == totals
    for sort in sorts:
        order = [f.person_id for f in dash.sort_funds(funds, sort)]
        for page in (1, 2):
            d = api.get(f"/api/v1/dashboard?sort={sort}&per_page=2&page={page}")
            assert [f["person_id"] for f in d["funds"]] == order[2 * page - 2:2 * page], sort


def test_the_kept_figures_equal_the_slow_path_after_every_kind_of_write(api, today):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    ana, bo, cy, di = (api.person(n, council=c) for n, c in
                       (("Ana", "Northshire"), ("bo", "Southvale"), ("Cy", "Northshire"), ("Élodie", "Southvale")))
    same(api)
    for pid in (ana, bo):
        api.plan(pid)
    api.plan(cy, effective_from="2026-10-01", annual_budget="2600.00", contingency_amount="300.00",
             surplus_alert_weeks=4)
    api.plan(di, annual_budget="2600.00")
    same(api)
    r = api.receipt(ana)
    api.receipt(bo, "500.00", "2026-10-02", source="client_contribution")
    same(api)
    api.post(f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "paid to the wrong fund"})
    api.receipt(ana, "2000.00", "2026-10-03")
    same(api)
    deliver(api, ana, "2026-10-05", "10.00")
    deliver(api, ana, "2026-10-06", "3.00", "refused")
    deliver(api, ana, "2026-10-20", "4.00", "banked", notice_given_at="2026-10-10T09:00:00")
    same(api)
    mistake = deliver(api, ana, "2026-10-07", "5.00")
    api.post(f"/api/v1/deliveries/{mistake['id']}/reverse", {"reason": "recorded twice"})
    deliver(api, bo, "2026-10-05", "10.00")
    deliver(api, bo, "2026-10-06", "2.00", "provider_cancelled")
    same(api)
    api.receipt(cy, "5000.00")
    api.post(f"/api/v1/people/{cy}/contingency/set-aside", {"date": "2026-10-02", "amount": "300.00"})
    same(api)
    api.post(f"/api/v1/people/{cy}/contingency/draws", {"date": "2026-10-20", "amount": "100.00", "reason": "extra support",
                                                        "authorised_by": "Jo Pickering"})
    api.receipt(di)
    for day in range(1, 6):
        deliver(api, di, f"2026-10-{day + 10:02d}", "19.00")
    same(api)
    api.post(f"/api/v1/people/{cy}/spend", {"date": "2026-10-21", "amount": "45.00", "payee": "Drama Club",
                                            "category": "classes", "domain": "work_leisure_learning",
                                            "description": "Autumn term"})
    api.post(f"/api/v1/people/{ana}/fee-refunds", {"date": "2026-10-22", "amount": "20.00", "reason": "overcharged"})
    deliver(api, ana, "2026-10-23", "2.00", "bank_used")
    same(api, SORTS)
    # One kind of write at a time, each only through the trigger that watches it.
    deliver(api, bo, "2026-10-07", "3.00", "refused")  # hours without money
    same(api)
    q1 = api.post(f"/api/v1/people/{bo}/queries", {"message": "What was this charge?"})
    same(api)
    api.post(f"/api/v1/people/{di}/queries", {"message": "And this one?"})
    api.post(f"/api/v1/queries/{q1['id']}/answers", {"message": "Support on the 5th."})
    same(api)
    api.call("PATCH", f"/api/v1/people/{bo}", {"name": "Bo"})  # a name corrected
    same(api, ("name", "-name"))
    [northshire] = [c["id"] for c in api.get("/api/v1/councils") if c["name"] == "Northshire"]
    assert api.call("PATCH", f"/api/v1/councils/{northshire}", {"surplus_threshold_weeks": 2}).status_code == 200
    same(api, ("surplus", "-surplus"))
    api.plan(ana, effective_from="2026-10-15", annual_budget="30000.00")  # a plan change in force today
    same(api, ("weeks_held", "-weeks_held"))
    api.plan(ana, effective_from="2026-11-15", annual_budget="32000.00")  # and one from next month
    same(api)
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "19.00", "effective_from": "2026-10-25"})
    same(api, ("bank_value", "-bank_value"))
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "20.00", "effective_from": "2026-12-01"})
    same(api, SORTS)
    # The calendar alone: instalments fall due, the query becomes overdue, the new plan and the
    # new rate come into force, hours leave the window, and at last a new plan year begins.
    for day in ("2026-11-01", "2026-11-12", "2026-11-15", "2026-11-20", "2026-12-01", "2027-01-06",
                "2027-02-01", "2027-03-31", "2027-04-01"):
        today["day"] = date.fromisoformat(day)
        same(api)
    api.receipt(bo, "1000.00", "2027-04-01")
    deliver(api, bo, "2027-04-01", "1.00")
    same(api)
    api.post(f"/api/v1/people/{cy}/close", {"date": "2027-04-01", "destination": "council", "reference": "R-1"})
    same(api, SORTS)
    today["day"] = date(2027, 4, 20)
    same(api, SORTS)


def test_filters_and_the_page(api, today):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    ids = [api.person(n, council=c) for n, c in (("Ana Wood", "Northshire"), ("Ben Wood", "Southvale"),
                                                 ("Cy Smith", "Northshire"))]
    for pid in ids:
        api.plan(pid)
    deliver(api, ids[1], "2026-10-05", "10.00")
    with api.app.app_context():
        s, day = db.session, clock.today()
        current.refresh(s, day)
        funds = dash.fund_figures(s, day)
        for council, alert, name in (("Northshire", "", ""), ("", "overdrawn", ""), ("", "", "WOOD"),
                                     ("Southvale", "arrears", "wood"), ("", "no_such_alert", "")):
            want = [f.person_id for f in dash.sort_funds(funds, "-balance")
                    if (not council or f.council == council) and (not alert or alert in f.alerts)
                    and (not name or name.casefold() in f.name.casefold())]
            got = current.page_of(s, sort="-balance", per_page=500, council=council, alert=alert, name=name)
            assert [f.person_id for f in got] == want
            assert current.count_of(s, council, alert, name) == len(want)
        assert current.councils_of(s) == ["Northshire", "Southvale"]


def test_a_planted_difference_is_found_and_rebuilt(api, today):
    pid = api.person()
    api.plan(pid)
    api.receipt(pid)
    same(api)
    with api.app.app_context():
        assert audit(db.session)[CHECK] == []
        db.session.rollback()
        db.session.execute(sa.text("UPDATE fund_figures SET available = available + 1, surplus = 7"))
        db.session.commit()
        found = audit(db.session)[CHECK]
        db.session.rollback()
    assert len(found) == 1 and "balance" in found[0] and f"(person {pid})" in found[0], found
    r = api.runner.invoke(args=["audit"])
    assert r.exit_code == 1 and "BAD " + CHECK in r.output
    r = api.runner.invoke(args=["audit", "--rebuild-figures"])
    assert r.exit_code == 0, r.output
    assert "1 fund(s): kept dashboard figures worked out again" in r.output
    with api.app.app_context():
        assert audit(db.session)[CHECK] == []
        db.session.rollback()
    same(api)


def test_a_page_reads_a_handful_of_queries_whatever_the_number_of_funds(api, today):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    made, counts = 0, []
    for n in (3, 30):
        while made < n:
            pid = api.person(f"P{made:03d}")
            api.plan(pid)
            api.receipt(pid)
            deliver(api, pid, "2026-10-05", "2.00")
            made += 1
        api.get("/api/v1/dashboard")  # works out again the rows the writes made stale
        seen = [0]

        def count(*_a):
            seen[0] += 1

        with api.app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            api.get("/api/v1/dashboard?sort=-balance")
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        counts.append(seen[0])
    assert counts[0] == counts[1] and counts[0] <= 12, counts
