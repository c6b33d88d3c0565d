"""What may be entered, as the outside look found it (issue 21 items 5, 6, 7 and 12): the fee is
never given back twice, a broker sets neither fee nor rates, rates and quantities are bounded,
money is never dated after today or before the fund opened, a shared membership starts no
earlier than the member's fund, and the surplus letter promises nothing a clawback would refuse.
Exact figures, on both engines."""
from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from isf_ledger import clock
from isf_ledger.db import db

TODAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def count(api, table: str) -> int:
    with api.app.app_context():
        n = db.session.scalar(sa.text(f"SELECT COUNT(*) FROM {table}"))
        db.session.rollback()
    return n


def error(r, status: int) -> dict:
    assert r.status_code == status, r.get_json()
    return r.get_json()["error"]


def rates(api):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    api.post("/api/v1/rates", {"service": "waking_night", "unit": "night", "rate": "145.00",
                               "effective_from": "2026-01-01"})


def delivery(**fields) -> dict:
    return {"date": "2026-11-02", "start_time": "10:00", "service": "day_support", "quantity": "10.00",
            "status": "delivered", "domain": "personal_care", **fields}


# --- Item 5: the fee is never given back twice --------------------------------------------------

def test_a_receipt_whose_fee_was_refunded_cannot_be_reversed_until_the_refund_is(api):
    pid = api.person("Ana")
    r = api.receipt(pid, "1000.00", "2026-11-02")
    assert r["fee"] == "100.00"
    refund = api.post(f"/api/v1/people/{pid}/fee-refunds", {"date": "2026-11-03", "amount": "100.00",
                                                             "reason": "the council's contract"})
    assert api.balance(pid)["available"] == "1000.00"
    before = count(api, "postings")
    err = error(api.call("POST", f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "wrong fund"}), 409)
    assert err["code"] == "fee_refunded" and err["details"] == {"fee_paid": "-100.00"}
    assert "never gets back more fee than it paid" in err["message"]
    assert count(api, "postings") == before and api.balance(pid)["available"] == "1000.00"
    # Reverse the refund first; then the receipt (and its fee) go back, and the fund holds nothing.
    api.post(f"/api/v1/transactions/{refund['transaction_id']}/reverse", {"reason": "refund in error"})
    assert api.balance(pid)["available"] == "900.00"
    api.post(f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "wrong fund"})
    assert api.balance(pid)["available"] == "0.00"
    assert api.runner.invoke(args=["audit"]).exit_code == 0


def test_a_part_refund_also_stops_the_receipts_reversal(api):
    pid = api.person("Ana")
    r = api.receipt(pid, "1000.00", "2026-11-02")
    api.receipt(pid, "30.00", "2026-11-02")  # fee 3.00: 103.00 paid in all
    api.post(f"/api/v1/people/{pid}/fee-refunds", {"date": "2026-11-03", "amount": "50.00", "reason": "contract"})
    err = error(api.call("POST", f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "x"}), 409)
    assert (err["code"], err["details"]) == ("fee_refunded", {"fee_paid": "-47.00"})
    assert api.balance(pid)["available"] == "977.00"


# --- Item 6: the fee and rates are finance's, and bounded ---------------------------------------

@pytest.mark.parametrize("field, value", [("management_fee_rate", "1.0"), ("management_fee_rate", "0.10"),
                                          ("rate_overrides", {"day_support": "100000"})])
def test_a_broker_may_not_set_the_fee_or_rates(api, field, value):
    pid = api.person("Ana")
    broker = api.user("broker")
    body = {"effective_from": "2026-04-01", "annual_budget": "26000.00", field: value}
    err = error(api.call("POST", f"/api/v1/people/{pid}/plans", body, token=broker), 403)
    assert err["code"] == "finance_only" and list(err["details"]) == [field]
    assert count(api, "plan_versions") == 0
    plan = api.post(f"/api/v1/people/{pid}/plans", {"effective_from": "2026-04-01", "annual_budget": "26000.00"},
                    token=broker)
    assert (plan["management_fee_rate"], plan["rate_overrides"]) == ("0.10", {})
    assert api.receipt(pid, "1000.00", "2026-11-02")["fee"] == "100.00"


def test_a_brokers_new_version_keeps_the_fee_and_rates_finance_set(api):
    rates(api)
    pid = api.person("Ana")
    api.plan(pid, effective_from="2026-04-01", management_fee_rate="0.05", rate_overrides={"day_support": "20.00"})
    d = api.post(f"/api/v1/people/{pid}/deliveries", delivery(date="2026-10-05"))
    assert d["charge"] == "200.00"
    broker = api.user("broker")
    plan = api.post(f"/api/v1/people/{pid}/plans", {"effective_from": "2026-10-01", "annual_budget": "30000.00"},
                    token=broker)
    assert (plan["version"], plan["management_fee_rate"], plan["rate_overrides"]) == (2, "0.05", {"day_support": "20.00"})
    assert plan["adjustments"] == []  # the charged session is not re-priced at the rate card's 18.50
    assert api.receipt(pid, "1000.00", "2026-11-02")["fee"] == "50.00"


@pytest.mark.parametrize("fields, field", [
    ({"management_fee_rate": "0.51"}, "management_fee_rate"),
    ({"management_fee_rate": "1.0"}, "management_fee_rate"),
    ({"rate_overrides": {"day_support": "100000"}}, "rate_overrides"),
    ({"rate_overrides": {"day_support": "250.01"}}, "rate_overrides"),
    ({"rate_overrides": {"waking_night": "1000.01"}}, "rate_overrides"),
    ({"rate_overrides": {"day_support": "0"}}, "rate_overrides"),
])
def test_fee_rates_and_rate_overrides_are_bounded_for_finance_too(api, fields, field):
    rates(api)
    pid = api.person("Ana")
    body = {"effective_from": "2026-04-01", "annual_budget": "26000.00", **fields}
    assert list(error(api.call("POST", f"/api/v1/people/{pid}/plans", body), 422)["details"]) == [field]
    assert count(api, "plan_versions") == 0


def test_the_bounds_themselves_are_accepted(api):
    rates(api)
    pid = api.person("Ana")
    plan = api.plan(pid, management_fee_rate="0.50", rate_overrides={"day_support": "250.00",
                                                                     "waking_night": "1000.00"})
    assert plan["management_fee_rate"] == "0.50"
    assert api.receipt(pid, "1000.00", "2026-11-02")["fee"] == "500.00"
    d = api.post(f"/api/v1/people/{pid}/deliveries", delivery(quantity="24.00"))
    assert d["charge"] == "6000.00"


@pytest.mark.parametrize("unit, rate", [("hour", "250.01"), ("night", "1000.01"), ("hour", "0")])
def test_rate_card_entries_are_bounded_by_their_unit(api, unit, rate):
    body = {"service": "extra_support", "unit": unit, "rate": rate, "effective_from": "2026-01-01"}
    assert list(error(api.call("POST", "/api/v1/rates", body), 422)["details"]) == ["rate"]
    assert count(api, "rates") == 0


def test_one_delivery_is_at_most_a_day(api):
    rates(api)
    pid = api.person("Ana")
    api.plan(pid)
    for fields in ({"quantity": "744.00"}, {"quantity": "24.01"},
                   {"service": "waking_night", "start_time": "22:00", "quantity": "2", "domain": "staying_safe"}):
        err = error(api.call("POST", f"/api/v1/people/{pid}/deliveries", delivery(**fields)), 422)
        assert list(err["details"]) == ["quantity"] and "at most the length of a day" in err["message"]
    assert count(api, "deliveries") == 0 and api.balance(pid)["available"] == "0.00"
    assert api.post(f"/api/v1/people/{pid}/deliveries", delivery(quantity="24.00"))["charge"] == "444.00"
    night = delivery(service="waking_night", start_time="22:00", quantity="1", domain="staying_safe")
    assert api.post(f"/api/v1/people/{pid}/deliveries", night)["charge"] == "145.00"


# --- Item 6: dates that may be entered ----------------------------------------------------------

def funded(api):
    """Ana, her fund open since 2025-01-01, £5,000 in (fee £500) and a plan with contingency."""
    rates(api)
    pid = api.person("Ana")
    api.plan(pid, contingency_amount="2000.00")
    api.receipt(pid, "5000.00", "2026-10-01")
    api.post(f"/api/v1/people/{pid}/contingency/set-aside", {"date": "2026-10-02", "amount": "500.00"})
    return pid


WRITES = {
    "receipt": ("receipts", {"amount": "10.00", "source": "council"}),
    "delivery": ("deliveries", delivery()),
    "spend": ("spend", {"amount": "10.00", "payee": "Taxi Co", "category": "transport", "domain": "work_leisure_learning",
                        "description": "to drama"}),
    "set-aside": ("contingency/set-aside", {"amount": "10.00"}),
    "draw": ("contingency/draws", {"amount": "10.00", "reason": "a bad week", "authorised_by": "Sam"}),
    "clawback": ("clawbacks", {"amount": "10.00", "notice_given_on": "2026-09-01"}),
    "fee refund": ("fee-refunds", {"amount": "10.00", "reason": "contract"}),
    "closing": ("close", {"destination": "council", "reference": "C-1"}),
}


@pytest.mark.parametrize("what", list(WRITES))
@pytest.mark.parametrize("day", ["2026-11-21", "2027-06-01", "2100-12-31"])
def test_money_and_deliveries_dated_after_today_are_refused_naming_the_date(api, what, day):
    pid = funded(api)
    path, body = WRITES[what]
    before = count(api, "postings"), count(api, "deliveries")
    err = error(api.call("POST", f"/api/v1/people/{pid}/{path}", {**body, "date": day}), 422)
    assert err["details"] == {"date": [f"{day} is after today (2026-11-20): "
                                       + ("closings (on the day the person left, not ahead of it)" if what == "closing"
                                          else "money movements and deliveries")
                                       + " are recorded once they have happened"]}
    assert (count(api, "postings"), count(api, "deliveries")) == before


@pytest.mark.parametrize("what", [w for w in WRITES if w != "closing"])
def test_today_is_accepted_and_before_the_fund_opened_is_refused(api, what):
    pid = funded(api)
    path, body = WRITES[what]
    r = api.call("POST", f"/api/v1/people/{pid}/{path}", {**body, "date": "2026-11-20"})
    assert r.status_code == 201, r.get_json()
    err = error(api.call("POST", f"/api/v1/people/{pid}/{path}", {**body, "date": "2024-12-31"}), 422)
    assert err["details"] == {"date": ["before the fund opened on 2025-01-01; record the plan first"]}


def test_an_import_row_dated_after_today_is_a_row_error(api):
    rates(api)
    pid = api.person("Ana", ref="NS-1")
    api.plan(pid)
    data = ("person,date,start_time,service,quantity,status,notice_given_at,domain,external_id\n"
            "NS-1,2026-11-20,10:00,day_support,2.00,delivered,,personal_care,V-1\n"
            "NS-1,2026-11-21,10:00,day_support,2.00,delivered,,personal_care,V-2\n"
            "NS-1,2026-11-19,10:00,day_support,25.00,delivered,,personal_care,V-3\n").encode()
    r = api.client.post("/api/v1/imports/deliveries", data={"file": (io.BytesIO(data), "d.csv")},
                        headers={"Authorization": f"Bearer {api.token}", "Idempotency-Key": "imp-1"},
                        content_type="multipart/form-data")
    errors = error(r, 422)["details"]["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(3, "date"), (4, "quantity")]
    assert errors[0]["reason"] == ("2026-11-21 is after today (2026-11-20): money movements and deliveries are "
                                   "recorded once they have happened")
    assert count(api, "deliveries") == 0


def test_plans_rates_and_shared_arrangements_may_start_in_the_future(api):
    pid = api.person("Ana")
    assert api.plan(pid, effective_from="2027-04-01")["effective_from"] == "2027-04-01"
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "19.00", "effective_from": "2027-04-01"})
    arr = api.post("/api/v1/shared-arrangements", {"name": "Sleep-in", "capacity": 2, "method": "equal",
                                                   "per_night": "62.40", "effective_from": "2027-01-01"})
    api.post(f"/api/v1/shared-arrangements/{arr['id']}/members",
             {"person_id": pid, "weight": "1", "from": "2027-01-01", "agreed_on": "2026-11-01", "recorded_by": "Sam"})


# --- Item 7: a shared membership starts no earlier than the member's fund -----------------------

def test_a_membership_before_the_fund_opened_is_refused_naming_from(api):
    early = api.person("Early", opened_on="2026-09-01")
    late = api.person("Late", opened_on="2026-10-15")
    for pid in (early, late):
        api.receipt(pid, "1000.00", "2026-10-15")
    arr = api.post("/api/v1/shared-arrangements", {"name": "Sleep-in", "capacity": 2, "method": "equal",
                                                   "per_night": "24.88", "effective_from": "2026-10-01"})
    member = {"weight": "1", "from": "2026-10-01", "agreed_on": "2026-09-01", "recorded_by": "Sam"}
    api.post(f"/api/v1/shared-arrangements/{arr['id']}/members", {**member, "person_id": early})
    err = error(api.call("POST", f"/api/v1/shared-arrangements/{arr['id']}/members", {**member, "person_id": late}), 422)
    assert err["details"] == {"from": ["before the fund opened on 2026-10-15; record the plan first"]}
    api.post(f"/api/v1/shared-arrangements/{arr['id']}/members", {**member, "person_id": late, "from": "2026-10-15"})
    api.post(f"/api/v1/shared-arrangements/{arr['id']}/charges/2026-10", {})
    # October: 31 nights x 24.88 = 771.28; Early 31 days, Late 17, the empty place 14 of 62 place-days.
    assert api.balance(late)["available"] == "688.52"  # 1000.00 less the fee 100.00 and the share 211.48
    with api.app.app_context():
        lines = dict(db.session.execute(sa.text("SELECT person_id, amount_pence FROM shared_charge_lines")).all())
        db.session.rollback()
    assert lines == {early: 38564, late: 21148, None: 17416}
    assert api.runner.invoke(args=["audit"]).exit_code == 0


# --- Item 12: the surplus letter ----------------------------------------------------------------

def surplus_fund(api):
    """Budget £26,000: four weeks is £2,000.00. £5,000 in, fee £500: a surplus of £2,500.00."""
    pid = api.person("Ana")
    api.plan(pid)
    api.receipt(pid, "5000.00", "2026-10-01")
    return pid


@pytest.mark.parametrize("query, field, message", [
    ("amount=99999.00&date=2026-11-20", "date", "the person must be told at least 28 days before a surplus is "
                                                "recovered: a letter written on 2026-11-20 may give 2026-12-18 or later"),
    ("date=2026-12-17", "date", "the person must be told at least 28 days before a surplus is recovered: a letter "
                                "written on 2026-11-20 may give 2026-12-18 or later"),
    ("amount=99999.00", "amount", "more than may be recovered: on 2026-11-20 that is 2500.00"),
    ("amount=2500.01&date=2026-12-18", "amount", "more than may be recovered: on 2026-11-20 that is 2500.00"),
])
def test_the_surplus_letter_never_promises_what_a_clawback_would_refuse(api, query, field, message):
    pid = surplus_fund(api)
    err = error(api.call("GET", f"/api/v1/people/{pid}/surplus-notice?{query}"), 422)
    assert err["details"] == {field: [message]}


def test_the_surplus_letter_defaults_to_the_earliest_date_and_all_that_may_be_recovered(api):
    pid = surplus_fund(api)
    for query in ("", "?amount=2500.00&date=2026-12-18"):
        r = api.call("GET", f"/api/v1/people/{pid}/surplus-notice{query}")
        assert r.status_code == 200 and r.mimetype == "application/pdf"
        text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages).split())
        assert "take back £2,500.00" in text and "18 December 2026" in text
