"""On PostgreSQL, draws and spends racing on one fund cannot overdraw it, and one invoice racing
into two funds is paid once."""
from collections import Counter

from racing import Client, Setup, assert_books_hold, needs_postgresql, run_threads


def funded(setup, name, contingency=None):
    """£2,000 in on 2026-01-10 at a 10% fee: £1,800.00 available."""
    pid = setup.post("/api/v1/people", {"name": name, "council": "Northshire", "council_reference": f"REF-{name}"})["id"]
    plan = {"effective_from": "2026-01-01", "annual_budget": "26000.00"}
    if contingency:
        plan["contingency_amount"] = contingency
    setup.post(f"/api/v1/people/{pid}/plans", plan)
    setup.post(f"/api/v1/people/{pid}/receipts", {"date": "2026-01-10", "amount": "2000.00", "source": "council"})
    return pid


def books_hold_with_contingency(app, setup, funds_total):
    status, rec = setup.client.get("/api/v1/reconciliation")
    assert status == 200 and rec["reconciles"] is True and rec["funds_total"] == funds_total, rec
    result = app.test_cli_runner().invoke(args=["audit"])
    assert result.exit_code == 0, result.output


def race(app, setup, calls):
    """Send each (path, body) from its own client at once; the statuses, counted."""
    def send(i):
        path, body = calls[i]
        return Client(app, setup.token).post(path, body, f"race-{i}")[0]
    return Counter(run_threads(len(calls), send))


def test_two_spends_racing_on_one_fund_cannot_overdraw(app, backend):
    needs_postgresql(backend)
    setup = Setup(app)
    pid = funded(setup, "Ana")
    body = {"date": "2026-02-01", "amount": "1000.00", "payee": "Castle Cabs", "category": "transport",
            "domain": "work_leisure_learning", "description": "Taxis"}
    statuses = race(app, setup, [(f"/api/v1/people/{pid}/spend", body)] * 2)
    assert statuses == Counter({201: 1, 409: 1})
    assert_books_hold(app, setup, {pid: 80000})


def test_two_draws_racing_on_one_fund_cannot_overdraw_the_contingency(app, backend):
    needs_postgresql(backend)
    setup = Setup(app)
    pid = funded(setup, "Ana", contingency="1500.00")
    setup.post(f"/api/v1/people/{pid}/contingency/set-aside", {"date": "2026-01-11", "amount": "1000.00"})
    body = {"date": "2026-02-01", "amount": "600.00", "reason": "extra support", "authorised_by": "Jo Pickering"}
    statuses = race(app, setup, [(f"/api/v1/people/{pid}/contingency/draws", body)] * 2)
    assert statuses == Counter({201: 1, 409: 1})
    status, got = setup.client.get(f"/api/v1/people/{pid}/contingency?as_of=2026-12-31")
    assert status == 200 and got["held"] == "400.00" and got["drawn"] == "600.00"
    assert setup.balance(pid) == "1400.00"
    books_hold_with_contingency(app, setup, "1800.00")


def test_set_asides_racing_stay_within_the_plan_year(app, backend):
    needs_postgresql(backend)
    setup = Setup(app)
    pid = funded(setup, "Ana", contingency="1500.00")
    body = {"date": "2026-01-11", "amount": "1000.00"}
    statuses = race(app, setup, [(f"/api/v1/people/{pid}/contingency/set-aside", body)] * 2)
    assert statuses == Counter({201: 1, 409: 1})
    assert setup.balance(pid) == "800.00"
    books_hold_with_contingency(app, setup, "1800.00")


def test_one_invoice_racing_into_two_funds_is_paid_once(app, backend):
    needs_postgresql(backend)
    setup = Setup(app)
    ana, ben = funded(setup, "Ana"), funded(setup, "Ben")
    body = {"date": "2026-02-01", "amount": "250.00", "payee": "Bright Futures", "category": "subcontracted_support",
            "domain": "work_leisure_learning", "description": "Day centre", "invoice_reference": "BF-1"}
    statuses = race(app, setup, [(f"/api/v1/people/{ana}/spend", body),
                                 (f"/api/v1/people/{ben}/spend", {**body, "payee": " bright FUTURES"})])
    assert statuses == Counter({201: 1, 409: 1})
    left = {ana: setup.balance(ana), ben: setup.balance(ben)}
    assert sorted(left.values()) == ["1550.00", "1800.00"]
    assert_books_hold(app, setup, {pid: 155000 if v == "1550.00" else 180000 for pid, v in left.items()})
