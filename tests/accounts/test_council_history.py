"""PATCH a council's rules: finance only, each change kept in history that the database will not
let anyone edit, and rules read at the item's date (bank expiry at the banked session's date)."""
import pytest
import sqlalchemy as sa

from isf_ledger import clock
from isf_ledger.db import db


@pytest.fixture
def northshire(api):
    return api.post("/api/v1/councils", {"name": "Northshire", "bank_expiry_days": 100})["id"]


def test_finance_patches_rules_and_every_change_is_history(api, northshire, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: __import__("datetime").date(2026, 11, 2))
    r = api.call("PATCH", f"/api/v1/councils/{northshire}", {"surplus_threshold_weeks": 6, "bank_expiry_days": 100})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["rules"]["surplus_threshold_weeks"] == 6
    api.call("PATCH", f"/api/v1/councils/{northshire}", {"bank_expiry_days": 200, "effective_from": "2026-12-01"})
    history = api.get(f"/api/v1/councils/{northshire}/history")
    assert [(h["field"], h["old"], h["new"], h["effective_from"], h["changed_by"]) for h in history] == [
        ("surplus_threshold_weeks", None, 6, "2026-11-02", 1), ("bank_expiry_days", 100, 200, "2026-12-01", 1)]
    shown = api.get(f"/api/v1/councils/{northshire}")
    assert (shown["rules"]["bank_expiry_days"], shown["in_force"]["bank_expiry_days"]) == (200, 100)  # 200 from 12-01
    monkeypatch.setattr(clock, "today", lambda: __import__("datetime").date(2026, 12, 1))
    assert api.get(f"/api/v1/councils/{northshire}")["in_force"]["bank_expiry_days"] == 200
    with api.app.app_context():
        for stmt in ("UPDATE council_rule_changes SET new_value = '1'", "DELETE FROM council_rule_changes"):
            with pytest.raises(sa.exc.DatabaseError):
                db.session.execute(sa.text(stmt))
            db.session.rollback()


@pytest.mark.parametrize("role", ["broker", "auditor", "person"])
def test_only_finance_patches(api, northshire, role):
    pid = api.person("Ana")
    token = api.user(role, *(["--council", "Northshire"] if role == "auditor" else
                             ["--person", str(pid)] if role == "person" else []))
    r = api.call("PATCH", f"/api/v1/councils/{northshire}", {"surplus_threshold_weeks": 6}, token=token)
    assert r.status_code == 403
    assert api.get(f"/api/v1/councils/{northshire}/history") == []


def test_a_patch_needs_a_rule_and_valid_values(api, northshire):
    assert api.call("PATCH", f"/api/v1/councils/{northshire}", {}).status_code == 422
    assert api.call("PATCH", f"/api/v1/councils/{northshire}", {"payment_cycle": "daily"}).status_code == 422
    assert api.call("PATCH", "/api/v1/councils/999", {"bank_expiry_days": 5}).status_code == 404


def test_bank_expiry_is_read_at_the_banked_sessions_date(api, northshire):
    pid = api.person("Ana")
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    api.plan(pid)
    api.call("PATCH", f"/api/v1/councils/{northshire}", {"bank_expiry_days": 30, "effective_from": "2026-10-15"})
    for day in ("2026-10-10", "2026-10-20"):
        api.post(f"/api/v1/people/{pid}/deliveries", {"date": day, "start_time": "10:00", "service": "day_support",
                                                      "quantity": "2.00", "status": "banked", "domain": "health",
                                                      "notice_given_at": "2026-10-01T09:00:00"})
    with api.app.app_context():
        lapses = db.session.execute(sa.text("SELECT date, lapses_on FROM deliveries ORDER BY date")).all()
    assert [str(l) for _, l in lapses] == ["2027-01-18", "2026-11-19"]  # 100 days, then 30
