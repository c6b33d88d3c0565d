"""Councils: named once by finance, found by name whatever the case or spacing, never by typo."""
import sqlalchemy as sa

from isf_ledger.db import db


def council_count(api):
    with api.app.app_context():
        return db.session.scalar(sa.text("SELECT COUNT(*) FROM councils"))


def test_finance_names_a_council_with_its_rules(api):
    c = api.post("/api/v1/councils", {"name": "Westshire", "surplus_threshold_weeks": 8, "payment_cycle": "monthly"})
    assert c["name"] == "Westshire"
    assert c["rules"]["surplus_threshold_weeks"] == 8 and c["rules"]["bank_expiry_days"] is None
    assert c["in_force"]["bank_expiry_days"] == 365 and c["in_force"]["payment_cycle"] == "monthly"
    names = [x["name"] for x in api.get("/api/v1/councils")]
    assert names == ["Westshire"]


def test_the_same_council_in_another_case_is_a_409(api):
    api.post("/api/v1/councils", {"name": "Westshire"})
    r = api.call("POST", "/api/v1/councils", {"name": "  WESTSHIRE\u200b "})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "duplicate_council"
    assert council_count(api) == 1


def test_a_broker_may_not_name_a_council(api):
    broker = api.user("broker")
    r = api.call("POST", "/api/v1/councils", {"name": "Westshire"}, token=broker)
    assert r.status_code == 403
    assert council_count(api) == 0


def test_a_broker_naming_an_unknown_council_gets_the_known_ones(api):
    api.post("/api/v1/councils", {"name": "Westshire"})
    api.post("/api/v1/councils", {"name": "Eastmere"})
    broker = api.user("broker")
    r = api.call("POST", "/api/v1/people", {"name": "Cy", "council": "Westshir"}, token=broker)
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert "council" in err["details"] and "Eastmere, Westshire" in err["message"]
    assert council_count(api) == 2
    # Case and stray spaces do not make a new council.
    assert api.post("/api/v1/people", {"name": "Cy", "council": "  westSHIRE "}, token=broker)["council"] == "Westshire"


def test_finance_naming_a_new_council_when_adding_a_person_creates_it_once(api):
    api.person("Ana", council="Northshire")
    api.person("Bo", council="NORTHSHIRE  ")
    assert council_count(api) == 1


def test_a_name_of_invisible_characters_is_refused(api):
    for name in ["\u200b", " \u200b\u200d ", "123", "--"]:
        r = api.call("POST", "/api/v1/councils", {"name": name})
        assert r.status_code == 422, name
        assert "name" in r.get_json()["error"]["details"]
        r = api.call("POST", "/api/v1/people", {"name": "X", "council": name})
        assert r.status_code == 422 and "council" in r.get_json()["error"]["details"]
    assert council_count(api) == 0
    c = api.post("/api/v1/councils", {"name": "\u200bNorth\u200bshire  Council"})
    assert c["name"] == "Northshire Council"
