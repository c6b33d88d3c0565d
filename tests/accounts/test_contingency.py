"""Contingency: set-asides within the plan year's amount and what is available, draws within what is held."""
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from isf_ledger import clock
from isf_ledger.db import db

SET_ASIDE, DRAW = "/api/v1/people/{}/contingency/set-aside", "/api/v1/people/{}/contingency/draws"


def fund(api, contingency="1500.00", receipt="2000.00"):
    """A plan from 2026-04-01 (plan year to 2027-03-31) and £2,000 in on 2026-10-01: £1,800 available."""
    pid = api.person()
    api.plan(pid, contingency_amount=contingency)
    api.receipt(pid, receipt, "2026-10-01")
    return pid


def set_aside(api, pid, amount, date="2026-10-02", expect=201, **kw):
    return api.post(SET_ASIDE.format(pid), {"date": date, "amount": amount}, expect=expect, **kw)


def draw(api, pid, amount, date="2026-10-20", expect=201, **kw):
    return api.post(DRAW.format(pid), {"date": date, "amount": amount, "reason": "two weeks of extra support "
                                       "after a hospital stay", "authorised_by": "Jo Pickering, service manager"},
                    expect=expect, **kw)


def test_set_asides_in_a_plan_year_total_at_most_the_plans_amount(api, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2027, 4, 30))  # money is never dated after today
    pid = fund(api)
    first = set_aside(api, pid, "1000.00")
    assert first["transaction_id"] and first["kind"] == "set_aside" and first["amount"] == "1000.00"
    assert first["plan_year"] == {"plan_year_start": "2026-04-01", "plan_year_end": "2027-03-31",
                                  "contingency_amount": "1500.00", "set_aside": "1000.00", "drawn": "0.00",
                                  "remaining_to_set_aside": "500.00", "held": "1000.00"}
    r = api.call("POST", SET_ASIDE.format(pid), {"date": "2026-11-02", "amount": "500.01"})
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "contingency_limit" and "500.00 remains" in err["message"]
    assert err["details"]["remaining_to_set_aside"] == "500.00"
    set_aside(api, pid, "500.00", "2026-11-02")
    set_aside(api, pid, "0.01", "2027-03-31", expect=409)
    assert api.balance(pid) == {**api.balance(pid), "available": "300.00", "contingency": "1500.00"}
    # The next plan year brings the allowance back.
    api.receipt(pid, "2000.00", "2027-04-01")
    assert set_aside(api, pid, "1500.00", "2027-04-01")["plan_year"]["remaining_to_set_aside"] == "0.00"
    assert api.balance(pid, "2027-04-30")["contingency"] == "3000.00"


def test_a_set_aside_never_takes_more_than_is_available(api):
    pid = fund(api, contingency="1500.00", receipt="1000.00")  # 900.00 available
    r = api.call("POST", SET_ASIDE.format(pid), {"date": "2026-10-02", "amount": "900.01"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "insufficient_funds"
    assert api.balance(pid)["available"] == "900.00" and api.balance(pid)["contingency"] == "0.00"
    set_aside(api, pid, "900.00")
    assert api.balance(pid)["available"] == "0.00" and api.balance(pid)["contingency"] == "900.00"


def test_a_set_aside_is_refused_when_a_later_payment_would_be_left_short(api):
    pid = fund(api)
    api.post(f"/api/v1/people/{pid}/spend", {"date": "2026-10-15", "amount": "1000.00", "payee": "Castle Cabs",
                                             "category": "transport", "domain": "work_leisure_learning",
                                             "description": "Taxis to drama class"})
    # On 10-02 there is 1,800.00, but by 10-15 a spend has taken 1,000.00 of it.
    assert set_aside(api, pid, "800.01", "2026-10-02", expect=409)
    set_aside(api, pid, "800.00", "2026-10-02")


def test_a_draw_moves_money_back_and_never_beyond_what_is_held(api):
    pid = fund(api)
    set_aside(api, pid, "1000.00")
    d = draw(api, pid, "400.00")
    assert d["kind"] == "draw" and d["reason"].startswith("two weeks") and d["authorised_by"].startswith("Jo")
    assert d["plan_year"]["held"] == "600.00" and d["plan_year"]["drawn"] == "400.00"
    assert api.balance(pid)["available"] == "1200.00"
    r = api.call("POST", DRAW.format(pid), {"date": "2026-10-21", "amount": "600.01", "reason": "more support",
                                            "authorised_by": "Jo Pickering"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "insufficient_funds"
    draw(api, pid, "600.00", "2026-10-21")
    assert api.balance(pid)["contingency"] == "0.00" and api.balance(pid)["available"] == "1800.00"
    # Drawing does not give the allowance back: 500.00 of the year's 1,500.00 remains to set aside.
    set_aside(api, pid, "500.01", "2026-10-22", expect=409)
    # A draw dated before the money was set aside finds nothing held on its date.
    pid2 = fund(api)
    set_aside(api, pid2, "100.00", "2026-10-10")
    draw(api, pid2, "50.00", "2026-10-09", expect=409)


def test_the_contingency_lists_movements_and_the_plan_years_figures(api):
    pid = fund(api)
    a = set_aside(api, pid, "1000.00", "2026-10-02")
    b = set_aside(api, pid, "200.00", "2026-10-03")
    d = draw(api, pid, "300.00", "2026-10-20")
    api.post(f"/api/v1/transactions/{b['transaction_id']}/reverse", {"reason": "set aside twice by mistake"})
    got = api.get(f"/api/v1/people/{pid}/contingency?as_of=2026-12-31")
    assert {k: got[k] for k in ("contingency_amount", "set_aside", "drawn", "remaining_to_set_aside", "held")} == {
        "contingency_amount": "1500.00", "set_aside": "1000.00", "drawn": "300.00",
        "remaining_to_set_aside": "500.00", "held": "700.00"}
    assert (got["plan_year_start"], got["plan_year_end"]) == ("2026-04-01", "2027-03-31")
    assert [(m["kind"], m["amount"], m["transaction_id"], m["reversed_by_transaction_id"] is not None)
            for m in got["movements"]] == [("set_aside", "1000.00", a["transaction_id"], False),
                                           ("set_aside", "200.00", b["transaction_id"], True),
                                           ("draw", "300.00", d["transaction_id"], False)]
    assert got["movements"][2]["authorised_by"] == "Jo Pickering, service manager"
    before = api.get(f"/api/v1/people/{pid}/contingency?as_of=2026-10-02")
    assert [m["amount"] for m in before["movements"]] == ["1000.00"] and before["held"] == "1000.00"


def test_reversing_a_set_aside_already_drawn_is_refused(api):
    pid = fund(api)
    a = set_aside(api, pid, "1000.00")
    draw(api, pid, "700.00")
    r = api.call("POST", f"/api/v1/transactions/{a['transaction_id']}/reverse", {"reason": "wrong amount"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "contingency_drawn"
    assert api.balance(pid)["contingency"] == "300.00"


def test_no_plan_no_contingency(api):
    pid = api.person()
    api.receipt(pid, "100.00")
    r = api.call("POST", SET_ASIDE.format(pid), {"date": "2026-10-02", "amount": "10.00"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "no_plan_in_force"


@pytest.mark.parametrize("body, field", [
    ({"date": "2026-10-20", "amount": "1.00", "authorised_by": "Jo"}, "reason"),
    ({"date": "2026-10-20", "amount": "1.00", "reason": "extra support"}, "authorised_by"),
    ({"date": "2026-10-20", "amount": "0.00", "reason": "x", "authorised_by": "Jo"}, "amount"),
    ({"date": "2026-10-20", "amount": "1.001", "reason": "x", "authorised_by": "Jo"}, "amount"),
])
def test_a_draw_needs_a_reason_an_authoriser_and_an_amount(api, body, field):
    pid = fund(api)
    r = api.call("POST", DRAW.format(pid), body)
    assert r.status_code == 422 and field in r.get_json()["error"]["details"]


def test_roles(api):
    pid = fund(api)
    other = api.person("Ben", council="Southvale")
    broker = api.user("broker")
    own, stranger = api.user("person", "--person", str(pid)), api.user("person", "--person", str(other))
    auditor, outsider = api.user("auditor", "--council", "Northshire"), api.user("auditor", "--council", "Southvale")
    set_aside(api, pid, "100.00", token=broker)
    draw(api, pid, "50.00", token=broker)
    for token in (own, auditor, stranger, outsider):
        set_aside(api, pid, "1.00", token=token, expect=403)
        draw(api, pid, "1.00", token=token, expect=403)
    for token in (own, auditor, broker):
        assert len(api.get(f"/api/v1/people/{pid}/contingency", token=token)["movements"]) == 2
    for token in (stranger, outsider):
        api.get(f"/api/v1/people/{pid}/contingency", token=token, expect=403)
    api.get("/api/v1/people/999999/contingency", expect=404)


@pytest.mark.parametrize("sql", ["UPDATE contingency_movements SET amount_pence = 1",
                                 "DELETE FROM contingency_movements"])
def test_raw_sql_cannot_change_a_movement(api, sql):
    pid = fund(api)
    set_aside(api, pid, "100.00")
    with api.app.app_context():
        with pytest.raises(IntegrityError, match="immutable"):
            db.session.execute(sa.text(sql))
        db.session.rollback()
    assert api.get(f"/api/v1/people/{pid}/contingency?as_of=2026-12-31")["movements"][0]["amount"] == "100.00"
