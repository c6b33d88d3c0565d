"""Bad input gets a clear 4xx naming the field, in the contract's error shape, and writes nothing."""
import pytest
import sqlalchemy as sa

from isf_ledger.db import db

COUNTED = ("people", "transactions", "postings", "receipts", "plan_versions", "rates", "idempotency_keys")


def rows(app) -> dict:
    with app.app_context():
        return {t: db.session.scalar(sa.text(f"SELECT COUNT(*) FROM {t}")) for t in COUNTED}


def refused(api, path, body, status, field=None):
    before = rows(api.app)
    r = api.call("POST", path, body)
    assert r.status_code == status, r.get_json()
    err = r.get_json()["error"]
    assert set(err) == {"code", "message", "details"}
    if field:
        assert field in err["details"], err
        if status == 422:
            assert field in err["message"], err
    assert rows(api.app) == before
    return err


GOOD_RECEIPT = {"date": "2026-10-01", "amount": "2000.00", "source": "council", "reference": "Oct"}


@pytest.mark.parametrize("change, field", [
    ({"amount": "two thousand"}, "amount"),
    ({"amount": "12.345"}, "amount"),
    ({"amount": "-5.00"}, "amount"),
    ({"amount": "0.00"}, "amount"),
    ({"amount": 12.5}, None),  # an exact JSON number is fine: see below
    ({"amount": True}, "amount"),
    ({"amount": "1e3"}, "amount"),
    ({"amount": "99999999999999.00"}, "amount"),
    ({"date": "2026-02-30"}, "date"),
    ({"date": "01/10/2026"}, "date"),
    ({"date": "2026-13-01"}, "date"),
    ({"date": 20261001}, "date"),
    ({"source": "lottery"}, "source"),
    ({"fee_exempt": "perhaps"}, "fee_exempt"),
    ({"colour": "red"}, "colour"),
])
def test_bad_receipts_are_refused_with_the_field_named(api, change, field):
    pid = api.person()
    body = {**GOOD_RECEIPT, **change}
    if field is None:
        assert api.receipt(pid, **{k: v for k, v in body.items() if k not in ("date", "amount", "source")},
                           amount=body["amount"])["amount"] == "12.50"
        return
    refused(api, f"/api/v1/people/{pid}/receipts", body, 422, field)


@pytest.mark.parametrize("missing", ["date", "amount", "source"])
def test_missing_fields_are_named(api, missing):
    pid = api.person()
    body = {k: v for k, v in GOOD_RECEIPT.items() if k != missing}
    err = refused(api, f"/api/v1/people/{pid}/receipts", body, 422, missing)
    assert "required" in err["message"].lower()


def test_unknown_person_is_404_before_the_body_is_read(api):
    refused(api, "/api/v1/people/9999/receipts", {"amount": "nonsense"}, 404)
    refused(api, "/api/v1/people/9999/plans", {}, 404)


def test_body_that_is_not_json_is_400(api):
    pid = api.person()
    before = rows(api.app)
    r = api.client.post(f"/api/v1/people/{pid}/receipts", data="{not json",
                        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json",
                                 "Idempotency-Key": "k-notjson"})
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "bad_request"
    assert rows(api.app) == before


def test_body_that_is_a_list_is_refused(api):
    pid = api.person()
    refused(api, f"/api/v1/people/{pid}/receipts", [GOOD_RECEIPT], 422)


@pytest.mark.parametrize("change, field", [
    ({"annual_budget": "lots"}, "annual_budget"),
    ({"annual_budget": "-1.00"}, "annual_budget"),
    ({"effective_from": "2026-04-31"}, "effective_from"),
    ({"effective_to": "2026-03-01"}, "effective_to"),
    ({"payment_cycle": "fortnightly"}, "payment_cycle"),
    ({"management_fee_rate": "1.50"}, "management_fee_rate"),
    ({"management_fee_rate": "-0.10"}, "management_fee_rate"),
    ({"management_fee_rate": 0.1}, None),
    ({"planned_weekly_hours": {"day_support": "200.00"}}, "planned_weekly_hours"),
    ({"planned_weekly_hours": {"Day Support!": "2.00"}}, "planned_weekly_hours"),
    ({"planned_weekly_hours": {"day_support": "2.125"}}, "planned_weekly_hours"),
    ({"budget_lines": [{"domain": "gardening", "outcome": "x", "annual_amount": "10.00"}]}, "budget_lines"),
    ({"budget_lines": [{"domain": "health", "annual_amount": "10.00"}]}, "budget_lines"),
    ({"weekly_client_contribution": "600.00"}, "weekly_client_contribution"),
    ({"rate_overrides": {"day_support": "0"}}, "rate_overrides"),
    ({"surplus_threshold_weeks": "four"}, "surplus_threshold_weeks"),
])
def test_bad_plans_are_refused(api, change, field):
    pid = api.person()
    body = {"effective_from": "2026-04-01", "annual_budget": "26000.00", **change}
    if field is None:
        assert api.post(f"/api/v1/people/{pid}/plans", body)["management_fee_rate"] == "0.10"
        return
    refused(api, f"/api/v1/people/{pid}/plans", body, 422, field)


@pytest.mark.parametrize("body, field", [
    ({"service": "day_support", "unit": "minute", "rate": "18.50", "effective_from": "2026-01-01"}, "unit"),
    ({"service": "day_support", "unit": "hour", "rate": "free", "effective_from": "2026-01-01"}, "rate"),
    ({"service": "day_support", "unit": "hour", "rate": "-1", "effective_from": "2026-01-01"}, "rate"),
    ({"service": "day_support", "unit": "hour", "rate": "18.50"}, "effective_from"),
    ({"service": "", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"}, "service"),
])
def test_bad_rates_are_refused(api, body, field):
    refused(api, "/api/v1/rates", body, 422, field)


def test_rate_card_refuses_a_second_entry_on_the_same_date_and_a_changed_unit(api):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50",
                               "effective_from": "2026-01-01"})
    refused(api, "/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "19.00",
                                   "effective_from": "2026-01-01"}, 409, "effective_from")
    refused(api, "/api/v1/rates", {"service": "day_support", "unit": "night", "rate": "19.00",
                                   "effective_from": "2026-07-01"}, 409, "unit")
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "19.00",
                               "effective_from": "2026-07-01"})
    assert [r["rate"] for r in api.get("/api/v1/rates")] == ["18.50", "19.00"]


@pytest.mark.parametrize("body, field", [
    ({"name": "", "council": "Northshire"}, "name"),
    ({"council": "Northshire"}, "name"),
    ({"name": "Ana"}, "council"),
    ({"name": 7, "council": "Northshire"}, "name"),
    ({"name": "Ana", "council": "Northshire", "council_reference": "x" * 101}, "council_reference"),
])
def test_bad_people_are_refused(api, body, field):
    refused(api, "/api/v1/people", body, 422, field)


def test_bad_query_parameters_are_422(api):
    pid = api.person()
    r = api.call("GET", f"/api/v1/people/{pid}/balance?as_of=2026-02-30")
    assert r.status_code == 422 and "as_of" in r.get_json()["error"]["details"]


def test_reverse_needs_a_reason(api):
    pid = api.person()
    r = api.receipt(pid)
    refused(api, f"/api/v1/transactions/{r['transaction_id']}/reverse", {}, 422, "reason")
    refused(api, "/api/v1/transactions/99999/reverse", {"reason": "typo"}, 404)


def test_unknown_paths_and_methods_use_the_error_shape(api):
    r = api.call("GET", "/api/v1/nothing-here")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = api.call("DELETE", "/api/v1/rates")
    assert r.status_code == 405 and "error" in r.get_json()


@pytest.mark.parametrize("path", ["/api/v1/people/99999999999999999999999", "/api/v1/people/2147483648/balance",
                                  "/api/v1/transactions/9223372036854775808"])
def test_ids_beyond_any_the_database_holds_are_404(api, path):
    r = api.call("GET", path)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("raw", ['{"amount": ' + "9" * 5000 + "}", "[" * 100000 + "]" * 100000])
def test_json_python_cannot_read_is_400(api, raw):
    pid = api.person()
    before = rows(api.app)
    r = api.client.post(f"/api/v1/people/{pid}/receipts", data=raw,
                        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json",
                                 "Idempotency-Key": "k-deep"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_request"
    assert rows(api.app) == before


def test_a_reused_key_with_an_invalid_body_is_422_first(api):
    pid = api.person()
    api.call("POST", f"/api/v1/people/{pid}/receipts", GOOD_RECEIPT, key="k-order")
    r = api.call("POST", f"/api/v1/people/{pid}/receipts", {**GOOD_RECEIPT, "amount": "x"}, key="k-order")
    assert r.status_code == 422


@pytest.mark.parametrize("body, field", [
    ({"name": "   ", "council": "Northshire"}, "name"),
    ({"name": "Ana", "council": "  "}, "council"),
])
def test_blank_names_are_refused(api, body, field):
    refused(api, "/api/v1/people", body, 422, field)


@pytest.mark.parametrize("amount", ["１２.00", "12.00\n"])
def test_money_is_ascii_digits_only(api, amount):
    pid = api.person()
    refused(api, f"/api/v1/people/{pid}/receipts", {**GOOD_RECEIPT, "amount": amount}, 422, "amount")


def test_fee_exempt_is_true_or_false_only(api):
    pid = api.person()
    refused(api, f"/api/v1/people/{pid}/receipts", {**GOOD_RECEIPT, "fee_exempt": "yes"}, 422, "fee_exempt")


@pytest.mark.parametrize("value", [1, 0, 1.0, "true", None])
def test_flags_are_json_true_or_false_only(api, value):
    # 1 == True in Python, so a truthy set {True} alone would let 1 through.
    pid = api.person()
    refused(api, f"/api/v1/people/{pid}/receipts", {**GOOD_RECEIPT, "fee_exempt": value}, 422, "fee_exempt")


@pytest.mark.parametrize("value", ["20261110", "2026-W46-2", "2026-11-10T00:00", " 2026-11-10", "2026-11-10 ",
                                   "2026-314", "2026-1-10", "٢٠٢٦-١١-١٠"])
def test_dates_are_yyyy_mm_dd_only(api, value):
    pid = api.person()
    err = refused(api, f"/api/v1/people/{pid}/receipts", {**GOOD_RECEIPT, "date": value}, 422, "date")
    assert "YYYY-MM-DD" in err["message"] and "2026-11-10" in err["message"]


@pytest.mark.parametrize("query", ["as_of=20261110", "as_of=2026-W46-2", "as_of=2026-11-10T00:00",
                                   "as_of=%202026-11-10"])
def test_query_dates_are_yyyy_mm_dd_only(api, query):
    pid = api.person()
    r = api.call("GET", f"/api/v1/people/{pid}/balance?{query}")
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert "as_of" in err["details"] and "YYYY-MM-DD" in err["message"]


@pytest.mark.parametrize("field", ["from", "to"])
def test_range_dates_are_yyyy_mm_dd_only(api, field):
    pid = api.person()
    r = api.call("GET", f"/api/v1/people/{pid}/instalments?{field}=20261110")
    assert r.status_code == 422 and field in r.get_json()["error"]["details"], r.get_json()


@pytest.mark.parametrize("path", ["/api/v1/people/%D9%A1/balance", "/api/v1/people/%EF%BC%91/balance",
                                  "/api/v1/people/" + "9" * 400 + "/balance"])
def test_ids_in_paths_are_ascii_digits_and_never_a_500(api, path):
    api.person()  # person 1 exists: "١" must not reach it
    r = api.call("GET", path)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("change, field", [
    ({"budget_lines": [{"domain": "health", "outcome": "x", "annual_amount": "1.00"}] * 51}, "budget_lines"),
    ({"planned_weekly_hours": {f"s{i}": "1.00" for i in range(51)}}, "planned_weekly_hours"),
    ({"rate_overrides": {f"s{i}": "1.00" for i in range(51)}}, "rate_overrides"),
])
def test_lists_and_maps_are_capped(api, change, field):
    pid = api.person()
    body = {"effective_from": "2026-04-01", "annual_budget": "26000.00", **change}
    refused(api, f"/api/v1/people/{pid}/plans", body, 422, field)


def test_fifty_budget_lines_are_fine(api):
    pid = api.person()
    plan = api.plan(pid, budget_lines=[{"domain": "health", "outcome": "x", "annual_amount": "1.00"}] * 50,
                    planned_weekly_hours={f"s{i}": "1.00" for i in range(50)})
    assert len(plan["budget_lines"]) == 50


def _raw_post(api, path, data, content_type="application/json", key="k-raw"):
    headers = {"Authorization": f"Bearer {api.token}", "Idempotency-Key": key}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return api.client.post(path, data=data, headers=headers)


@pytest.mark.parametrize("raw, key", [
    ('{"date": "2026-10-01", "amount": "9.00", "source": "council", "amount": "1.00"}', "amount"),
    ('{"date": "2026-10-01", "amount": "9.00", "source": "council", "x": {"a": 1, "a": 2}}', "a"),
])
def test_duplicate_json_keys_are_400_naming_the_key(api, raw, key):
    pid = api.person()
    before = rows(api.app)
    r = _raw_post(api, f"/api/v1/people/{pid}/receipts", raw)
    assert r.status_code == 400, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "duplicate_key" and key in err["details"] and key in err["message"]
    assert rows(api.app) == before


def test_duplicate_keys_deep_in_a_list_are_400(api):
    pid = api.person()
    raw = ('{"effective_from": "2026-04-01", "annual_budget": "26000.00", "budget_lines": '
           '[{"domain": "health", "outcome": "x", "annual_amount": "1.00", "annual_amount": "9.00"}]}')
    r = _raw_post(api, f"/api/v1/people/{pid}/plans", raw)
    assert r.status_code == 400 and "annual_amount" in r.get_json()["error"]["details"], r.get_json()


def test_the_app_json_reader_refuses_duplicate_keys_too(app):
    from isf_ledger.errors import BadRequest
    with app.test_request_context("/", method="POST", data='{"a": 1, "a": 2}', content_type="application/json"):
        from flask import request
        with pytest.raises(BadRequest):
            request.get_json()


@pytest.mark.parametrize("data, content_type", [
    ("date=2026-10-01&amount=2000.00&source=council", "application/x-www-form-urlencoded"),
    ('{"date": "2026-10-01", "amount": "2000.00", "source": "council"}', "text/plain"),
    ('{"date": "2026-10-01", "amount": "2000.00", "source": "council"}', None),
    ("", None),
])
def test_a_body_that_is_not_declared_json_is_415(api, data, content_type):
    pid = api.person()
    before = rows(api.app)
    r = _raw_post(api, f"/api/v1/people/{pid}/receipts", data, content_type)
    assert r.status_code == 415, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "unsupported_media_type" and "Content-Type" in err["details"]
    assert "Content-Type" in err["message"]
    assert rows(api.app) == before


def test_content_type_is_checked_after_401_403_and_404(api):
    person_token = api.user("broker")
    r = api.client.post("/api/v1/rates", data="x=1", headers={"Content-Type": "text/plain"})
    assert r.status_code == 401
    r = api.client.post("/api/v1/rates", data="x=1",
                        headers={"Content-Type": "text/plain", "Authorization": f"Bearer {person_token}"})
    assert r.status_code == 403
    r = _raw_post(api, "/api/v1/people/9999/receipts", "x=1", "text/plain")
    assert r.status_code == 404


def test_json_with_a_charset_is_json(api):
    pid = api.person()
    r = _raw_post(api, f"/api/v1/people/{pid}/receipts",
                  '{"date": "2026-10-01", "amount": "20.00", "source": "council"}', "application/json; charset=utf-8")
    assert r.status_code == 201, r.get_json()
