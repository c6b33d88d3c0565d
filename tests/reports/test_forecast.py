"""The year ahead (domain.md "Forecast"): pace, projections and the weekly allowance, in all and
per budget line, worked by hand from small books."""
from __future__ import annotations

import pytest

DAY = {"service": "day_support", "start_time": "10:00", "status": "delivered"}
LINES = [{"domain": "personal_care", "outcome": "Gets up and dressed", "annual_amount": "6000.00"},
         {"domain": "personal_care", "outcome": "Bathes safely", "annual_amount": "2000.00"},
         {"domain": "work_leisure_learning", "outcome": "Goes to drama", "annual_amount": "2000.00"}]


def deliver(api, pid, day, hours, domain="personal_care"):
    api.post(f"/api/v1/people/{pid}/deliveries", {**DAY, "date": day, "quantity": hours, "domain": domain})


def spend(api, pid, day, amount, **extra):
    return api.post(f"/api/v1/people/{pid}/spend", {"date": day, "amount": amount, "payee": "Taxi Co",
                                                    "category": "transport", "domain": "work_leisure_learning",
                                                    "description": "Taxi", **extra})


@pytest.fixture
def ana(api):
    """A year from 2026-04-01 (365 days) of £12,000.00 at a 10% fee, 5 hours a week of day support
    at £20.00; by 20 August: the fee on £3,000.00, 40 hours of personal care, £60.00 of taxis and
    a £300.00 holiday marked one_off."""
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "20.00", "effective_from": "2026-01-01"})
    pid = api.person("Ana")
    api.plan(pid, annual_budget="12000.00", planned_weekly_hours={"day_support": "5.00"}, budget_lines=LINES)
    api.receipt(pid, "3000.00", "2026-04-01")
    for day in ("2026-05-10", "2026-06-10", "2026-07-10", "2026-08-10"):
        deliver(api, pid, day, "10.00")
    spend(api, pid, "2026-06-15", "60.00")
    holiday = spend(api, pid, "2026-07-20", "300.00", description="A week away", one_off=True)
    assert holiday["one_off"] is True
    return pid


def test_the_year_in_all_and_per_line(api, ana):
    f = api.get(f"/api/v1/people/{ana}/forecast?as_of=2026-08-20")
    lines = f.pop("lines")
    # 142 of 365 days gone; used 300.00 + 800.00 + 360.00. The rate: May to July (92 days) used
    # 600.00 of support and 60.00 of taxis (the holiday left out), for the 223 days left:
    # 66000 x 223 / 92 = 159978.26p. At the plan: 5 h x £20.00 x 223 / 7 = £3,185.71, and the
    # year's fee of £1,200.00 less the £300.00 taken.
    assert f == {"person_id": ana, "as_of": "2026-08-20", "plan_year": {"start": "2026-04-01", "end": "2027-03-31"},
                 "budget": "12000.00", "used": "1460.00", "left": "10540.00", "elapsed_share": "0.3890",
                 "used_share": "0.1217", "pace": "building_up", "projected_end_balance": "8940.22",
                 "planned_end_balance": "6454.29", "runs_out_on": None, "weekly_allowance": "330.85",
                 "rate_from": "2026-05-01", "rate_to": "2026-07-31"}
    # Personal care's 800.00 (600.00 recently) is shared 3:1 by its two lines; drama has the
    # taxis and the holiday (the holiday not in its rate). A line's plan: its amount x 223 / 365.
    assert lines == [
        {"domain": "personal_care", "outcome": "Gets up and dressed", "budget": "6000.00", "used": "600.00",
         "left": "5400.00", "elapsed_share": "0.3890", "used_share": "0.1000", "pace": "building_up",
         "projected_end_balance": "4309.24", "planned_end_balance": "1734.25", "runs_out_on": None,
         "weekly_allowance": "169.51"},
        {"domain": "personal_care", "outcome": "Bathes safely", "budget": "2000.00", "used": "200.00",
         "left": "1800.00", "elapsed_share": "0.3890", "used_share": "0.1000", "pace": "building_up",
         "projected_end_balance": "1436.41", "planned_end_balance": "578.08", "runs_out_on": None,
         "weekly_allowance": "56.50"},
        {"domain": "work_leisure_learning", "outcome": "Goes to drama", "budget": "2000.00", "used": "360.00",
         "left": "1640.00", "elapsed_share": "0.3890", "used_share": "0.1800", "pace": "building_up",
         "projected_end_balance": "1494.57", "planned_end_balance": "418.08", "runs_out_on": None,
         "weekly_allowance": "51.48"}]


def test_a_reversed_spend_is_not_used_and_a_one_off_only_leaves_the_rate(api, ana):
    def reverse(day):
        item = api.get(f"/api/v1/people/{ana}/spend?from={day}&to={day}")[0]
        api.post(f"/api/v1/transactions/{item['transaction_id']}/reverse", {"reason": "wrong fund"})

    def figures():
        f = api.get(f"/api/v1/people/{ana}/forecast?as_of=2026-08-20")
        return f["used"], f["projected_end_balance"], f["lines"][2]["used"], f["lines"][2]["projected_end_balance"]

    # The holiday's reversal (a one-off) leaves the year's use; its rate never had it.
    reverse("2026-07-20")
    assert figures() == ("1160.00", "9240.22", "60.00", "1794.57")  # 10840.00 - 1599.78; 1940.00 - 145.43
    # The taxis' reversal leaves both: May to July's rate is 600.00 / 92 days.
    reverse("2026-06-15")
    assert figures() == ("1100.00", "9445.65", "0.00", "2000.00")  # 10900.00 - 1454.35


def test_spending_fast_runs_out_before_the_year_ends(api):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "20.00", "effective_from": "2026-01-01"})
    bo = api.person("Bo")
    api.plan(bo, annual_budget="1200.00", planned_weekly_hours={"day_support": "1.00"})
    api.receipt(bo, "1200.00", "2026-04-01")
    deliver(api, bo, "2026-05-05", "20.00")
    deliver(api, bo, "2026-06-05", "20.00")
    f = api.get(f"/api/v1/people/{bo}/forecast?as_of=2026-06-30")
    # 91 days gone (a month's last day counts that month whole): April to June used 920.00, a
    # rate of 92000/91 pence a day; 280.00 is left, gone in ceil(280 x 91 / 920) = 28 days.
    assert {k: f[k] for k in ("used", "left", "elapsed_share", "used_share", "pace", "projected_end_balance",
                              "planned_end_balance", "runs_out_on", "weekly_allowance", "rate_from", "rate_to",
                              "lines")} == {
        "used": "920.00", "left": "280.00", "elapsed_share": "0.2493", "used_share": "0.7667",
        "pace": "spending_fast", "projected_end_balance": "-2490.11", "planned_end_balance": "-502.86",
        "runs_out_on": "2026-07-28", "weekly_allowance": "7.15", "rate_from": "2026-04-01",
        "rate_to": "2026-06-30", "lines": []}
    # On the first day the fee taken in advance is 10% of the budget against 1/365 of the year:
    # 9.73 points ahead, not more than 10, so on track.
    first = api.get(f"/api/v1/people/{bo}/forecast?as_of=2026-04-01")
    assert (first["used_share"], first["elapsed_share"], first["pace"]) == ("0.1000", "0.0027", "on_track")


def test_no_plan_in_force_and_who_may_read_it(api, ana):
    cy = api.person("Cy", council="Southshire")
    r = api.call("GET", f"/api/v1/people/{cy}/forecast?as_of=2026-08-20")
    assert r.status_code == 404 and "no plan in force" in r.get_json()["error"]["message"]
    r = api.call("GET", f"/api/v1/people/{ana}/forecast?as_of=2026-03-31")
    assert r.status_code == 404
    assert api.call("GET", f"/api/v1/people/{ana}/forecast?as_of=2026-13-01").status_code == 422
    mine = api.user("person", "--person", str(ana))
    assert api.get(f"/api/v1/people/{ana}/forecast?as_of=2026-08-20", token=mine)["used"] == "1460.00"
    assert api.call("GET", f"/api/v1/people/{cy}/forecast", token=mine).status_code == 403
    other = api.user("auditor", "--council", "Southshire")
    assert api.call("GET", f"/api/v1/people/{ana}/forecast", token=other).status_code == 403
    spec = api.client.get("/api/v1/openapi.json").get_json()
    out = spec["components"]["schemas"]["ForecastOut"]["properties"]
    assert {"budget", "used", "elapsed_share", "used_share", "pace", "projected_end_balance",
            "planned_end_balance", "runs_out_on", "weekly_allowance", "lines"} <= set(out)


def test_pace_at_its_boundaries():
    from decimal import Decimal as D

    from isf_ledger.reports.forecast import pace
    assert [pace(D(u), D(e)) for u, e in (("0.50", "0.40"), ("0.5001", "0.40"), ("0.25", "0.40"),
                                          ("0.2499", "0.40"))] == \
        ["on_track", "spending_fast", "on_track", "building_up"]
