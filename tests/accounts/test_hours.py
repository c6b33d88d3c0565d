"""Hours: deliveries and their charges, the bank, corrections and hours against the plan (domain.md, "Hours")."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from isf_ledger.db import db

DAY = {"service": "day_support", "start_time": "10:00", "domain": "personal_care"}


def setup_ana(api, rate="18.50", **plan):
    """domain.md's worked example, before October's hours: £1,800.00 available, day support at £18.50."""
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": rate, "effective_from": "2026-01-01"})
    ana = api.person("Ana")
    api.plan(ana, **plan)
    api.receipt(ana, "2000.00", "2026-10-01")
    return ana


def deliver(api, pid, expect=201, **fields):
    return api.post(f"/api/v1/people/{pid}/deliveries", {**DAY, **fields}, expect=expect)


def refused(api, pid, **fields):
    r = api.call("POST", f"/api/v1/people/{pid}/deliveries", {**DAY, **fields})
    return r.status_code, r.get_json()["error"]


def october(api, pid):
    return api.get(f"/api/v1/people/{pid}/hours?from=2026-10-01&to=2026-10-31")["months"][0]


# --- charges -----------------------------------------------------------------------------------

def test_worked_example_hours(api):
    ana = setup_ana(api)
    d = deliver(api, ana, date="2026-10-05", quantity="10.00", status="delivered")
    assert (d["charge"], d["quantity"], d["rate"], d["unit"]) == ("185.00", "10.00", "18.50", "hour")
    assert api.get(f"/api/v1/transactions/{d['transaction_id']}")["kind"] == "delivery"
    assert deliver(api, ana, date="2026-10-06", quantity="2.00", status="refused")["charge"] == "37.00"
    assert deliver(api, ana, date="2026-10-07", quantity="1.50", status="unplanned")["charge"] == "27.75"
    banked = deliver(api, ana, date="2026-10-20", quantity="4.00", status="banked",
                     notice_given_at="2026-10-15T09:00:00")
    assert (banked["charge"], banked["transaction_id"], banked["lapses_on"]) == ("0.00", None, "2027-10-20")
    assert banked["notice_given_at"] == "2026-10-15T09:00:00+01:00"
    assert api.balance(ana, "2026-10-21")["bank_hours"] == "4.00"
    assert deliver(api, ana, date="2026-10-22", quantity="3.00", status="bank_used")["charge"] == "55.50"
    bal = api.balance(ana, "2026-10-31")
    assert (bal["available"], bal["bank_hours"], bal["bank_value"]) == ("1494.75", "1.00", "18.50")
    assert october(api, ana) == {"month": "2026-10", "planned": "31.00", "delivered": "10.00", "refused": "2.00",
                                 "unplanned": "1.50", "banked": "4.00", "bank_used": "3.00",
                                 "provider_cancelled": "0.00", "bank_balance": "1.00",
                                 "used": "13.00"}  # delivered and from the bank: refused and unplanned were not used
    assert api.get("/api/v1/reconciliation")["reconciles"] is True


@pytest.mark.parametrize("status, charge", [
    ("delivered", "37.00"), ("refused", "37.00"), ("unplanned", "37.00"), ("provider_cancelled", "0.00"),
])
def test_every_status_and_its_charge(api, status, charge):
    ana = setup_ana(api)
    d = deliver(api, ana, date="2026-10-05", quantity="2.00", status=status)
    assert d["charge"] == charge and d["status"] == status
    assert (d["transaction_id"] is None) == (charge == "0.00")
    assert api.balance(ana)["available"] == ("1763.00" if charge != "0.00" else "1800.00")
    assert october(api, ana)[status] == "2.00"


def test_banked_and_bank_used_charges(api):
    ana = setup_ana(api)
    b = deliver(api, ana, date="2026-10-20", quantity="2.00", status="banked", notice_given_at="2026-10-01T10:00")
    u = deliver(api, ana, date="2026-10-21", quantity="2.00", status="bank_used")
    assert (b["charge"], b["transaction_id"]) == ("0.00", None)
    assert u["charge"] == "37.00" and u["transaction_id"] is not None
    # Provider-cancelled is never charged, even where notice was given.
    c = deliver(api, ana, date="2026-10-23", quantity="2.00", status="provider_cancelled",
                notice_given_at="2026-10-01T10:00")
    assert (c["charge"], c["transaction_id"]) == ("0.00", None)
    assert api.balance(ana)["available"] == "1763.00"


@pytest.mark.parametrize("qty, rate, charge", [
    ("0.70", "21.15", "14.81"),  # 1480.5p: half-up 1481p; half-even and a float both give 1480p
    ("2.30", "16.35", "37.61"),  # 3760.5p: half-up 3761p; half-even and a float both give 3760p
    ("0.01", "0.50", "0.01"),    # 0.5p -> 1p
    ("0.01", "0.40", "0.00"),    # 0.4p -> nothing charged, so no transaction
])
def test_charge_rounds_quantity_times_rate_half_up(api, qty, rate, charge):
    ana = setup_ana(api, rate=rate)
    d = deliver(api, ana, date="2026-10-05", quantity=qty, status="delivered")
    assert d["charge"] == charge
    assert (d["transaction_id"] is None) == (charge == "0.00")


def test_a_night_service_is_charged_per_whole_night(api):
    ana = setup_ana(api)
    api.post("/api/v1/rates", {"service": "waking_night", "unit": "night", "rate": "145.00",
                               "effective_from": "2026-04-01"})
    nights = [deliver(api, ana, service="waking_night", start_time="22:00", date=day, quantity="1",
                      status="delivered", domain="staying_safe") for day in ("2026-10-05", "2026-10-06")]
    assert [(d["charge"], d["unit"], d["quantity"]) for d in nights] == [("145.00", "night", "1.00")] * 2
    assert api.balance(ana)["available"] == f"{1800 - 290:.2f}"
    status, err = refused(api, ana, service="waking_night", date="2026-10-07", quantity="1.50", status="delivered")
    assert status == 422 and list(err["details"]) == ["quantity"]
    assert "whole number of nights" in err["message"]
    status, err = refused(api, ana, service="waking_night", date="2026-10-07", quantity="2", status="delivered")
    assert status == 422 and list(err["details"]) == ["quantity"]
    assert "at most the length of a day: 1.00 nights" in err["message"]


def test_no_rate_on_the_date_is_a_422_naming_the_service(api):
    ana = setup_ana(api)
    status, err = refused(api, ana, date="2025-12-31", quantity="1.00", status="delivered")
    assert status == 422 and list(err["details"]) == ["service"]
    status, err = refused(api, ana, service="gardening", date="2026-10-05", quantity="1.00", status="delivered")
    assert status == 422 and list(err["details"]) == ["service"]
    assert api.get(f"/api/v1/people/{ana}/deliveries") == []


def test_the_plans_rate_override_wins_over_the_rate_card(api):
    ana = setup_ana(api, rate_overrides={"day_support": "20.00"})
    assert deliver(api, ana, date="2026-10-05", quantity="1.00", status="delivered")["charge"] == "20.00"


@pytest.mark.parametrize("body, field", [
    ({"start_time": "25:00"}, "start_time"), ({"start_time": "9:00"}, "start_time"),
    ({"status": "missed"}, "status"), ({"domain": "fun"}, "domain"), ({"quantity": "0.00"}, "quantity"),
    ({"quantity": "1.005"}, "quantity"), ({"notice_given_at": "yesterday"}, "notice_given_at"),
])
def test_bad_input_is_a_422_naming_the_field(api, body, field):
    ana = setup_ana(api)
    status, err = refused(api, ana, **{"date": "2026-10-05", "quantity": "1.00", "status": "delivered", **body})
    assert status == 422 and field in err["details"], err


def test_deliveries_are_listed_with_filters(api):
    ana = setup_ana(api)
    deliver(api, ana, date="2026-10-05", quantity="1.00", status="delivered")
    deliver(api, ana, date="2026-10-06", quantity="1.00", status="refused")
    deliver(api, ana, date="2026-11-05", quantity="1.00", status="delivered")
    rows = api.get(f"/api/v1/people/{ana}/deliveries?from=2026-10-01&to=2026-10-31")
    assert [(r["date"], r["status"], r["charge"]) for r in rows] == [("2026-10-05", "delivered", "18.50"),
                                                                      ("2026-10-06", "refused", "18.50")]
    assert all({"id", "charge", "transaction_id"} <= set(r) for r in rows)
    assert len(api.get(f"/api/v1/people/{ana}/deliveries?status=delivered")) == 2
    assert api.get(f"/api/v1/people/{ana}/deliveries?service=sleep_in") == []


# --- the bank: notice ----------------------------------------------------------------------------

def test_notice_of_exactly_48_hours_banks_and_47_59_is_refused_saying_unplanned(api):
    ana = setup_ana(api)
    deliver(api, ana, date="2026-10-14", start_time="10:00", quantity="2.00", status="banked",
            notice_given_at="2026-10-12T10:00:00")
    status, err = refused(api, ana, date="2026-10-16", start_time="10:00", quantity="2.00", status="banked",
                          notice_given_at="2026-10-14T10:01:00")
    assert status == 422 and "notice_given_at" in err["details"]
    assert "`unplanned`" in err["message"] and "47 h 59 m" in err["message"]
    assert len(api.get(f"/api/v1/people/{ana}/deliveries")) == 1  # nothing written
    status, err = refused(api, ana, date="2026-10-16", quantity="2.00", status="banked")
    assert status == 422 and "`unplanned`" in err["message"]


def test_notice_across_the_october_clock_change_counts_real_hours(api):
    ana = setup_ana(api)
    # Clocks go back at 02:00 on 25 October 2026: 11:00 BST on the 24th to 10:00 GMT on the 26th
    # is 47 hours on the wall clock but 48 real hours.
    deliver(api, ana, date="2026-10-26", start_time="10:00", quantity="1.00", status="banked",
            notice_given_at="2026-10-24T11:00:00")
    status, err = refused(api, ana, date="2026-10-26", start_time="10:00", quantity="1.00", status="banked",
                          notice_given_at="2026-10-24T11:01:00")
    assert status == 422 and "`unplanned`" in err["message"]


def test_notice_across_the_march_clock_change_counts_real_hours(api):
    ana = setup_ana(api)
    # Clocks go forward at 01:00 on 29 March 2026: 10:00 GMT on the 28th to 10:00 BST on the 30th
    # is 48 hours on the wall clock but only 47 real hours.
    status, err = refused(api, ana, date="2026-03-30", start_time="10:00", quantity="1.00", status="banked",
                          notice_given_at="2026-03-28T10:00:00")
    assert status == 422 and "47 h 00 m" in err["message"] and "`unplanned`" in err["message"]
    deliver(api, ana, date="2026-03-30", start_time="10:00", quantity="1.00", status="banked",
            notice_given_at="2026-03-28T09:00:00")
    # A zone given is honoured: 09:00 UTC is 10:00 BST on the 30th less 48 hours.
    deliver(api, ana, date="2026-03-31", start_time="10:00", quantity="1.00", status="banked",
            notice_given_at="2026-03-29T09:00:00Z")


def test_banking_notice_is_a_provider_setting(app, api):
    app.config["BANKING_NOTICE_HOURS"] = 72
    ana = setup_ana(api)
    status, err = refused(api, ana, date="2026-10-20", quantity="1.00", status="banked",
                          notice_given_at="2026-10-17T11:00:00")
    assert status == 422 and "72 h" in err["message"]


# --- the bank: drawing and lapsing --------------------------------------------------------------

def test_bank_used_beyond_the_bank_is_refused(api):
    ana = setup_ana(api)
    deliver(api, ana, date="2026-10-20", quantity="4.00", status="banked", notice_given_at="2026-10-15T09:00")
    r = api.call("POST", f"/api/v1/people/{ana}/deliveries",
                 {**DAY, "date": "2026-10-22", "quantity": "4.50", "status": "bank_used"})
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "bank_exceeded" and "holds 4.00 h" in err["message"]
    # Not before the hours were banked, nor for another service.
    api.post("/api/v1/rates", {"service": "sleep_in", "unit": "night", "rate": "62.40", "effective_from": "2026-01-01"})
    for body in ({"date": "2026-10-19", "quantity": "1.00"},
                 {"date": "2026-10-22", "quantity": "1.00", "service": "sleep_in"}):
        r = api.call("POST", f"/api/v1/people/{ana}/deliveries", {**DAY, "status": "bank_used", **body})
        assert r.status_code == 409, r.get_json()
    # A draw dated earlier that would leave a later one uncovered is refused too.
    deliver(api, ana, date="2026-10-25", quantity="4.00", status="bank_used")
    r = api.call("POST", f"/api/v1/people/{ana}/deliveries",
                 {**DAY, "date": "2026-10-21", "quantity": "1.00", "status": "bank_used"})
    assert r.status_code == 409
    assert api.balance(ana)["available"] == "1726.00"


def test_hours_lapse_oldest_first(api):
    ana = setup_ana(api, bank_expiry_days=30)
    deliver(api, ana, date="2026-05-01", quantity="2.00", status="banked", notice_given_at="2026-04-20T09:00")
    later = deliver(api, ana, date="2026-05-20", quantity="3.00", status="banked", notice_given_at="2026-04-20T09:00")
    assert later["lapses_on"] == "2026-06-19"
    deliver(api, ana, date="2026-05-25", quantity="1.00", status="bank_used")  # from the 1 May hours
    before, after = api.balance(ana, "2026-05-30"), api.balance(ana, "2026-05-31")
    assert (before["bank_hours"], before["bank_value"]) == ("4.00", "74.00")
    # The 1 May lot lapses on 31 May with 1.00 h left; drawn newest first it would have kept 2.00 h.
    assert (after["bank_hours"], after["bank_value"]) == ("3.00", "55.50")
    assert api.call("POST", f"/api/v1/people/{ana}/deliveries",
                    {**DAY, "date": "2026-06-01", "quantity": "3.50", "status": "bank_used"}).status_code == 409
    deliver(api, ana, date="2026-06-01", quantity="3.00", status="bank_used")
    assert api.balance(ana, "2026-06-01")["bank_hours"] == "0.00"
    months = api.get(f"/api/v1/people/{ana}/hours?from=2026-05-01&to=2026-06-30")["months"]
    assert [(m["month"], m["banked"], m["bank_used"], m["bank_balance"]) for m in months] == [
        ("2026-05", "5.00", "1.00", "3.00"), ("2026-06", "0.00", "3.00", "0.00")]
    # A lapse moves no money.
    assert before["available"] == after["available"] == "-18.50"


def test_the_councils_bank_expiry_applies_where_the_plan_sets_none(api):
    api.post("/api/v1/councils", {"name": "Shortshire", "bank_expiry_days": 10})
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    pid = api.person("Cy", council="Shortshire")
    api.plan(pid)
    d = deliver(api, pid, date="2026-10-20", quantity="1.00", status="banked", notice_given_at="2026-10-01T09:00")
    assert d["lapses_on"] == "2026-10-30"


def test_bank_value_is_at_the_rate_on_the_balance_date(api):
    ana = setup_ana(api)
    deliver(api, ana, date="2026-10-20", quantity="2.00", status="banked", notice_given_at="2026-10-01T09:00")
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "19.25", "effective_from": "2027-04-01"})
    assert api.balance(ana, "2027-03-31")["bank_value"] == "37.00"
    assert api.balance(ana, "2027-04-01")["bank_value"] == "38.50"


# --- corrections ---------------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["delivered", "refused", "unplanned", "banked", "bank_used", "provider_cancelled"])
def test_reversal_of_each_kind_of_delivery(api, status):
    ana = setup_ana(api)
    deliver(api, ana, date="2026-10-10", quantity="3.00", status="banked", notice_given_at="2026-10-01T09:00")
    d = deliver(api, ana, date="2026-10-12", quantity="2.00", status=status, notice_given_at="2026-10-01T09:00")
    before = october(api, ana)
    r = api.post(f"/api/v1/deliveries/{d['id']}/reverse", {"reason": "recorded against the wrong person"})
    assert r["delivery_id"] == d["id"] and r["quantity"] == "2.00"
    assert (r["transaction_id"] is None) == (d["transaction_id"] is None)
    if d["transaction_id"]:
        assert api.get(f"/api/v1/transactions/{r['transaction_id']}")["reverses_id"] == d["transaction_id"]
    assert api.balance(ana)["available"] == "1800.00"
    after = october(api, ana)
    assert after[status] == f"{float(before[status]) - 2:.2f}"
    assert api.balance(ana)["bank_hours"] == "3.00"
    listed = api.get(f"/api/v1/people/{ana}/deliveries?status={status}")
    assert [x["reversed"] for x in listed if x["id"] == d["id"]] == [True]
    again = api.call("POST", f"/api/v1/deliveries/{d['id']}/reverse", {"reason": "twice"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_reversed"


def test_reversing_banked_hours_already_drawn_is_refused(api):
    ana = setup_ana(api)
    banked = deliver(api, ana, date="2026-10-20", quantity="4.00", status="banked", notice_given_at="2026-10-15T09:00")
    used = deliver(api, ana, date="2026-10-22", quantity="3.00", status="bank_used")
    r = api.call("POST", f"/api/v1/deliveries/{banked['id']}/reverse", {"reason": "not banked after all"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "banked_hours_drawn"
    assert api.balance(ana)["bank_hours"] == "1.00"
    api.post(f"/api/v1/deliveries/{used['id']}/reverse", {"reason": "the extra session did not happen"})
    api.post(f"/api/v1/deliveries/{banked['id']}/reverse", {"reason": "not banked after all"})
    bal = api.balance(ana)
    assert (bal["available"], bal["bank_hours"]) == ("1800.00", "0.00")


def test_reversing_the_charges_transaction_reverses_the_delivery(api):
    ana = setup_ana(api)
    d = deliver(api, ana, date="2026-10-05", quantity="10.00", status="delivered")
    api.post(f"/api/v1/transactions/{d['transaction_id']}/reverse", {"reason": "duplicate timesheet"})
    assert october(api, ana)["delivered"] == "0.00"
    assert api.get(f"/api/v1/people/{ana}/deliveries")[0]["reversed"] is True
    r = api.call("POST", f"/api/v1/deliveries/{d['id']}/reverse", {"reason": "again"})
    assert r.status_code == 409
    assert api.balance(ana)["available"] == "1800.00"


@pytest.mark.parametrize("sql", [
    "UPDATE deliveries SET quantity_hundredths = 1", "DELETE FROM deliveries",
    "UPDATE delivery_reversals SET reason = 'x'", "DELETE FROM delivery_reversals",
    "UPDATE plan_services SET weekly_hundredths = 1",
])
def test_the_database_refuses_to_change_hours_history(api, sql):
    ana = setup_ana(api)
    d = deliver(api, ana, date="2026-10-05", quantity="1.00", status="provider_cancelled")
    api.post(f"/api/v1/deliveries/{d['id']}/reverse", {"reason": "test"})
    with api.app.app_context():
        with pytest.raises(IntegrityError, match="immutable"):
            db.session.execute(sa.text(sql))
        db.session.rollback()
    assert api.get(f"/api/v1/people/{ana}/deliveries")[0]["quantity"] == "1.00"


# --- hours against the plan ----------------------------------------------------------------------

def test_hours_by_month_and_iso_week_against_the_plan(api):
    ana = setup_ana(api, planned_weekly_hours={"day_support": "10.00"})
    # A new version from 15 October plans 20 hours a week.
    api.plan(ana, effective_from="2026-10-15", planned_weekly_hours={"day_support": "20.00", "sleep_in": "7.00"})
    deliver(api, ana, date="2026-10-05", quantity="3.50", status="delivered")
    deliver(api, ana, date="2026-10-11", quantity="1.00", status="refused")
    out = api.get(f"/api/v1/people/{ana}/hours?from=2026-10-01&to=2026-10-31")
    # 10 h x 14 days / 7 = 20.00; 20 h x 17 / 7 = 48.571.. and 7 x 17 / 7 = 17.00: 20.00 + 48.57 + 17.00
    assert out["months"][0]["planned"] == "85.57"
    weeks = {w["week"]: w for w in out["weeks"]}
    assert list(weeks)[0] == "2026-W40" and list(weeks)[-1] == "2026-W44"
    assert weeks["2026-W40"]["planned"] == "5.71"  # Thu 1 to Sun 4 October: 10 x 4 / 7
    assert weeks["2026-W41"]["planned"] == "10.00" and weeks["2026-W41"]["delivered"] == "3.50"
    assert weeks["2026-W41"]["refused"] == "1.00"  # Sunday 11 October ends ISO week 41
    assert out["from"] == "2026-10-01" and out["to"] == "2026-10-31"


def test_hours_by_period_reads_many_people_at_once(app, api):
    from isf_ledger.accounts.hours import hours_by_period
    from datetime import date

    ana = setup_ana(api)
    bo = api.person("Bo")
    api.plan(bo, planned_weekly_hours={"day_support": "14.00"})
    deliver(api, ana, date="2026-10-05", quantity="2.00", status="delivered")
    with app.app_context():
        figures = hours_by_period(db.session, [ana, bo], date(2026, 10, 1), date(2026, 11, 30))
    assert [m["planned"] for m in figures[ana]["months"]] == [3100, 3000]
    assert [m["planned"] for m in figures[bo]["months"]] == [6200, 6000]
    assert figures[ana]["months"][0]["delivered"] == 200 and figures[bo]["months"][0]["delivered"] == 0


# --- backdated rates -----------------------------------------------------------------------------

def test_a_backdated_uplift_across_three_months(app, api):
    ana = setup_ana(api)
    api.receipt(ana, "2000.00", "2026-07-01")
    ids = [deliver(api, ana, date=day, quantity="10.00", status="delivered")["id"]
           for day in ("2026-07-10", "2026-08-10", "2026-09-10")]
    wrong = deliver(api, ana, date="2026-09-11", quantity="10.00", status="delivered")
    api.post(f"/api/v1/deliveries/{wrong['id']}/reverse", {"reason": "duplicate"})
    deliver(api, ana, date="2026-06-30", quantity="10.00", status="delivered")  # before the uplift
    before = api.balance(ana, "2027-12-31")["available"]
    assert before == "2860.00"  # 3600.00 less 4 x 185.00 (a fifth charged and reversed)
    rate = api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "19.00",
                                      "effective_from": "2026-07-01"})
    assert rate["adjustments"] == [{"person_id": ana, "transaction_id": rate["adjustments"][0]["transaction_id"],
                                    "deliveries": 3, "difference": "15.00"}]
    txn = api.get(f"/api/v1/transactions/{rate['adjustments'][0]['transaction_id']}")
    assert txn["kind"] == "rate_adjustment" and "3 deliveries" in txn["description"]
    assert txn["date"] >= "2026-09-10"  # in the open month, never before what it corrects
    assert api.balance(ana, "2027-12-31")["available"] == "2845.00"
    with app.app_context():
        lines = db.session.execute(sa.text("SELECT delivery_id, old_rate, new_rate, difference_pence "
                                           "FROM rate_adjustment_lines ORDER BY delivery_id")).all()
    assert [tuple(x) for x in lines] == [(i, "18.50", "19.00", 500) for i in ids]
    # What was charged is never rewritten.
    assert [d["charge"] for d in api.get(f"/api/v1/people/{ana}/deliveries?from=2026-07-01&to=2026-09-10")] == [
        "185.00"] * 3
    # Reversing an adjusted delivery takes its adjustment back with its charge.
    api.post(f"/api/v1/deliveries/{ids[0]}/reverse", {"reason": "not delivered"})
    assert api.balance(ana, "2027-12-31")["available"] == "3035.00"
    assert api.get("/api/v1/reconciliation")["reconciles"] is True


def test_the_same_rate_entered_again_posts_nothing(api):
    ana = setup_ana(api)
    deliver(api, ana, date="2026-10-05", quantity="10.00", status="delivered")
    first = api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "19.00",
                                       "effective_from": "2026-10-01"})
    assert [a["difference"] for a in first["adjustments"]] == ["5.00"]
    again = api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "19.00",
                                       "effective_from": "2026-10-03"})
    assert again["adjustments"] == []
    plan = api.plan(ana, effective_from="2026-10-02", rate_overrides={"day_support": "19.00"})
    assert plan["adjustments"] == []
    assert api.balance(ana)["available"] == "1610.00"


def test_a_plan_override_dated_back_adjusts_that_person_only(api):
    ana = setup_ana(api)
    bo = api.person("Bo")
    api.plan(bo)
    api.receipt(bo)
    for pid in (ana, bo):
        deliver(api, pid, date="2026-10-05", quantity="2.00", status="delivered")
    plan = api.plan(ana, effective_from="2026-10-01", rate_overrides={"day_support": "17.00"})
    assert [(a["person_id"], a["deliveries"], a["difference"]) for a in plan["adjustments"]] == [(ana, 1, "-3.00")]
    assert api.balance(ana)["available"] == "1766.00"
    assert api.balance(bo)["available"] == "1763.00"


# --- who may do what -----------------------------------------------------------------------------

def test_people_and_auditors_read_only_brokers_record_finance_reverses(api):
    ana = setup_ana(api)
    person = api.user("person", "--person", str(ana))
    auditor = api.user("auditor", "--council", "Northshire")
    broker = api.user("broker")
    body = {**DAY, "date": "2026-10-05", "quantity": "1.00", "status": "delivered"}
    for token in (person, auditor):
        assert api.call("POST", f"/api/v1/people/{ana}/deliveries", body, token=token).status_code == 403
        assert api.get(f"/api/v1/people/{ana}/deliveries", token=token) == []
        assert api.get(f"/api/v1/people/{ana}/hours", token=token)["person_id"] == ana
    d = api.post(f"/api/v1/people/{ana}/deliveries", body, token=broker)
    for token in (person, auditor, broker):
        r = api.call("POST", f"/api/v1/deliveries/{d['id']}/reverse", {"reason": "x"}, token=token)
        assert r.status_code == 403
    other = api.person("Bo")
    assert api.call("GET", f"/api/v1/people/{other}/deliveries", token=person).status_code == 403
    api.post(f"/api/v1/deliveries/{d['id']}/reverse", {"reason": "x"})
    assert api.call("POST", "/api/v1/deliveries/999999/reverse", {"reason": "x"}).status_code == 404


# --- races ---------------------------------------------------------------------------------------

def test_two_bank_used_racing_on_one_fund_cannot_overdraw_the_bank(app, api):
    """On PostgreSQL the fund's row lock queues the second draw behind the first; on SQLite
    BEGIN IMMEDIATE does. Either way exactly one of two 3-hour draws on a 4-hour bank lands."""
    ana = setup_ana(api)
    deliver(api, ana, date="2026-10-20", quantity="4.00", status="banked", notice_given_at="2026-10-15T09:00")
    barrier, statuses = threading.Barrier(2), []

    def draw(i):
        client = app.test_client()
        barrier.wait(timeout=30)
        r = client.post(f"/api/v1/people/{ana}/deliveries",
                        json={**DAY, "date": "2026-10-22", "quantity": "3.00", "status": "bank_used"},
                        headers={"Authorization": f"Bearer {api.token}", "Idempotency-Key": f"race-{i}"})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [201, 409]
    bal = api.balance(ana)
    assert (bal["bank_hours"], bal["available"]) == ("1.00", "1744.50")
