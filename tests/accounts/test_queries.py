"""Queries from the person and their answers (domain.md "Queries from the person")."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from isf_ledger import clock
from isf_ledger.accounts import queries as q
from isf_ledger.db import db

DAY = {"service": "day_support", "start_time": "10:00", "domain": "personal_care"}


@pytest.fixture
def now(monkeypatch):
    """The moment a query or an answer is written, set by the test (UTC)."""
    box = {"at": datetime(2026, 12, 18, 10, 0, tzinfo=timezone.utc)}  # a Friday
    monkeypatch.setattr(q, "utcnow", lambda: box["at"])
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 3))  # month end for October may run
    return box


@pytest.fixture
def world(api, now):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    ana = api.person("Ana", council="Northshire")
    bo = api.person("Bo", council="Southshire")
    for pid in (ana, bo):
        api.plan(pid, effective_from="2026-10-01")
    receipt = api.receipt(ana, "2000.00", "2026-10-01")["transaction_id"]
    bo_receipt = api.receipt(bo, "500.00", "2026-10-01")["transaction_id"]
    spend = api.post(f"/api/v1/people/{ana}/spend", {"date": "2026-10-05", "amount": "12.50", "payee": "Taxi Co",
                                                     "category": "transport", "domain": "work_leisure_learning",
                                                     "description": "Taxi to drama"})["id"]
    delivery = api.post(f"/api/v1/people/{ana}/deliveries",
                        {**DAY, "date": "2026-10-06", "quantity": "2.00", "status": "delivered"})["id"]
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    tokens = {"finance": api.token, "broker": api.user("broker"),
              "person": api.user("person", "--person", str(ana), name="ana"),
              "family": api.user("person", "--person", str(ana), name="ana's sister Siân"),
              "bo": api.user("person", "--person", str(bo), name="bo"),
              "auditor": api.user("auditor", "--council", "Northshire"),
              "other_auditor": api.user("auditor", "--council", "Southshire")}
    return {"ana": ana, "bo": bo, "receipt": receipt, "bo_receipt": bo_receipt, "spend": spend,
            "delivery": delivery, "tokens": tokens}


def test_a_person_raises_a_query_about_a_line_and_later_reads_its_answer(api, world, now):
    ana, t = world["ana"], world["tokens"]
    raised = api.post(f"/api/v1/people/{ana}/queries", {"message": "I don't recognise this taxi",
                                                        "spend_id": world["spend"]}, token=t["person"])
    assert raised == {"id": raised["id"], "person_id": ana, "message": "I don't recognise this taxi",
                      "transaction_id": None, "spend_id": world["spend"], "delivery_id": None,
                      "statement_month": None, "status": "open", "raised_by": {"name": "ana", "role": "person"},
                      "raised_at": "2026-12-18T10:00:00+00:00", "answer_due_by": "2027-01-06", "answers": []}
    now["at"] = datetime(2026, 12, 21, 9, 30, tzinfo=timezone.utc)
    answered = api.post(f"/api/v1/queries/{raised['id']}/answers",
                        {"message": "It took you to drama on 5 October; the receipt is attached."},
                        token=t["broker"])
    assert answered["status"] == "answered"
    assert answered["answers"] == [{"id": answered["answers"][0]["id"],
                                    "message": "It took you to drama on 5 October; the receipt is attached.",
                                    "answered_by": {"name": "broker-2", "role": "broker"},
                                    "answered_at": "2026-12-21T09:30:00+00:00"}]
    # The family member linked to Ana, and the auditor of her council, read the same.
    for who in ("person", "family", "auditor", "finance"):
        assert api.get(f"/api/v1/people/{ana}/queries", token=t[who]) == [answered]


def test_a_month_with_year_0_is_refused_naming_the_field(api, world):
    """schemathesis sent statement_month 0000-01: the pattern's shape, no calendar month; once a 500."""
    bad = api.post(f"/api/v1/people/{world['ana']}/queries", {"message": "this month?", "statement_month": "0000-01"},
                   expect=422)
    assert list(bad["error"]["details"]) == ["statement_month"]
    assert api.get(f"/api/v1/people/{world['ana']}/queries") == []


def test_each_kind_of_item_and_the_item_must_be_the_persons_own(api, world):
    ana, bo, t = world["ana"], world["bo"], world["tokens"]
    url = f"/api/v1/people/{ana}/queries"
    for field, value in (("transaction_id", world["receipt"]), ("delivery_id", world["delivery"]),
                         ("statement_month", "2026-10")):
        got = api.post(url, {"message": "What is this?", field: value}, token=t["family"])
        assert got[field] == value and got["status"] == "open"
    # Brokers and finance raise one on the person's behalf, about nothing in particular.
    got = api.post(url, {"message": "Ana asked on the phone about her hours"}, token=t["broker"])
    assert got["raised_by"]["role"] == "broker"
    for field, value, why in (("transaction_id", world["bo_receipt"], "not an item of this person's fund"),
                              ("transaction_id", 10**12, "not an item of this person's fund"),
                              ("spend_id", 999_999, "not an item of this person's fund"),
                              ("delivery_id", 999_999, "not an item of this person's fund"),
                              ("statement_month", "2026-09", "no statement for 2026-09"),
                              ("statement_month", "2026-13", "YYYY-MM")):
        r = api.call("POST", url, {"message": "x", field: value}, token=t["person"])
        assert r.status_code == 422, (field, r.get_json())
        assert list(r.get_json()["error"]["details"]) == [field] and why in r.get_json()["error"]["message"]
    r = api.call("POST", url, {"message": "x", "spend_id": world["spend"], "delivery_id": world["delivery"]},
                 token=t["person"])
    assert r.status_code == 422 and set(r.get_json()["error"]["details"]) == {"spend_id", "delivery_id"}
    r = api.call("POST", url, {"message": "   "}, token=t["person"])
    assert r.status_code == 422 and list(r.get_json()["error"]["details"]) == ["message"]
    assert len(api.get(url)) == 4  # nothing refused was written
    # Bo's own fund is his: his receipt is fine there.
    assert api.post(f"/api/v1/people/{bo}/queries", {"message": "?", "transaction_id": world["bo_receipt"]},
                    token=t["bo"])["status"] == "open"


def test_who_may_read_raise_and_answer(api, world):
    ana, bo, t = world["ana"], world["bo"], world["tokens"]
    mine = api.post(f"/api/v1/people/{ana}/queries", {"message": "Why?"}, token=t["person"])["id"]
    api.post(f"/api/v1/people/{bo}/queries", {"message": "Bo's question"}, token=t["bo"])
    # Another person's queries: 403 (ids outside a person's scope cannot be probed), also to write.
    assert api.call("GET", f"/api/v1/people/{bo}/queries", token=t["person"]).status_code == 403
    assert api.call("POST", f"/api/v1/people/{bo}/queries", {"message": "x"}, token=t["person"]).status_code == 403
    assert api.call("GET", f"/api/v1/people/{ana}/queries", token=t["bo"]).status_code == 403
    assert api.call("GET", "/api/v1/people/999999/queries", token=t["person"]).status_code == 403
    # An auditor reads their council's people's queries only, and never writes.
    assert api.call("GET", f"/api/v1/people/{ana}/queries", token=t["other_auditor"]).status_code == 403
    assert len(api.get(f"/api/v1/people/{bo}/queries", token=t["other_auditor"])) == 1
    assert api.call("POST", f"/api/v1/people/{ana}/queries", {"message": "x"}, token=t["auditor"]).status_code == 403
    # Only finance and brokers answer.
    for who in ("person", "auditor"):
        r = api.call("POST", f"/api/v1/queries/{mine}/answers", {"message": "x"}, token=t[who])
        assert r.status_code == 403
    assert api.call("POST", "/api/v1/queries/999999/answers", {"message": "x"}).status_code == 404
    assert api.call("GET", "/api/v1/people/999999/queries").status_code == 404
    assert [x["status"] for x in api.get(f"/api/v1/people/{ana}/queries")] == ["open"]


def test_writes_are_idempotent_and_history_cannot_change(api, world):
    ana, t = world["ana"], world["tokens"]
    body = {"message": "What is this charge?", "delivery_id": world["delivery"]}
    first = api.post(f"/api/v1/people/{ana}/queries", body, token=t["person"], key="same")
    r = api.call("POST", f"/api/v1/people/{ana}/queries", body, token=t["person"], key="same")
    assert r.status_code == 201 and r.get_json() == first and r.headers["Idempotent-Replayed"] == "true"
    r = api.call("POST", f"/api/v1/people/{ana}/queries", {"message": "other"}, token=t["person"], key="same")
    assert r.status_code == 409
    api.post(f"/api/v1/queries/{first['id']}/answers", {"message": "Support on 6 October"}, key="a")
    api.post(f"/api/v1/queries/{first['id']}/answers", {"message": "Support on 6 October"}, key="a")
    assert len(api.get(f"/api/v1/people/{ana}/queries")) == 1
    assert len(api.get(f"/api/v1/people/{ana}/queries")[0]["answers"]) == 1
    with api.app.app_context():
        for sql in ("UPDATE fund_queries SET message = 'changed'", "DELETE FROM fund_queries",
                    "UPDATE fund_query_answers SET message = 'changed'", "DELETE FROM fund_query_answers"):
            with pytest.raises(DBAPIError):
                db.session.execute(sa.text(sql))
            db.session.rollback()
        assert db.session.scalar(sa.text("SELECT message FROM fund_queries")) == "What is this charge?"


def test_an_open_query_older_than_ten_working_days_alerts_finance(api, world, now):
    ana, bo, t = world["ana"], world["bo"], world["tokens"]
    # Raised on Friday 18 December 2026: ten working days, past Christmas Day, the Boxing Day
    # holiday on Monday 28th and New Year's Day, end on Wednesday 6 January 2027.
    late = api.post(f"/api/v1/people/{ana}/queries", {"message": "Why so much?"}, token=t["person"])
    api.post(f"/api/v1/people/{bo}/queries", {"message": "And this?"}, token=t["bo"])
    assert late["answer_due_by"] == "2027-01-06"

    def overdue(as_of):
        d = api.get(f"/api/v1/dashboard?as_of={as_of}")
        return ({f["name"]: f["queries_overdue"] for f in d["funds"] if "queries_overdue" in f["alerts"]},
                d["totals"]["alerts"]["queries_overdue"])

    assert overdue("2027-01-06") == ({}, 0)
    assert overdue("2027-01-07") == ({"Ana": 1, "Bo": 1}, 2)
    now["at"] = datetime(2027, 1, 8, 16, 0, tzinfo=timezone.utc)
    api.post(f"/api/v1/queries/{late['id']}/answers", {"message": "The sleep-in share"})
    assert overdue("2027-01-07") == ({"Ana": 1, "Bo": 1}, 2)  # not yet answered on the 7th
    assert overdue("2027-01-08") == ({"Bo": 1}, 1)
    assert api.get("/api/v1/dashboard?as_of=2027-01-08")["thresholds"]["query_answer_working_days"] == 10


def test_the_openapi_document_describes_queries(api):
    spec = api.client.get("/api/v1/openapi.json").get_json()
    post = spec["paths"]["/api/v1/people/{person_id}/queries"]["post"]
    assert {"201", "403", "404", "422"} <= set(post["responses"])
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert "$ref" in body or "properties" in body
    assert "/api/v1/queries/{query_id}/answers" in spec["paths"]
    schemas = spec["components"]["schemas"]
    assert set(schemas["QueryIn"]["properties"]) == {"message", *q.ITEMS}
    assert {"status", "answers", "answer_due_by"} <= set(schemas["QueryOut"]["properties"])
    assert "one_off" in schemas["SpendIn"]["properties"] and "one_off" in schemas["SpendOut"]["properties"]
