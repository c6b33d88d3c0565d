"""A person's name corrected (domain.md "Names and text"): PATCH /api/v1/people/{id} with `name`,
kept in history with who and when; statements already issued keep the name they were issued with."""
from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from pypdf import PdfReader

from isf_ledger import clock
from isf_ledger.db import db


def patch(api, pid, body, *, token=None, expect=200):
    r = api.call("PATCH", f"/api/v1/people/{pid}", body, token=token)
    assert r.status_code == expect, (r.status_code, r.get_json())
    return r.get_json()


def test_finance_and_brokers_correct_a_name_kept_in_history_with_who_and_when(api):
    pid = api.person("Lukasz Nowak")
    broker = api.user("broker", name="bo")
    got = patch(api, pid, {"name": "Łukasz Nowak"})
    assert got["name"] == "Łukasz Nowak" and got["id"] == pid and got["fund"]["available"] == "0.00"
    patch(api, pid, {"name": "Łukasz Nowak-Jones"}, token=broker)
    patch(api, pid, {"name": "Łukasz Nowak-Jones"}, token=broker)  # the same name again: nothing to record
    assert api.get(f"/api/v1/people/{pid}")["name"] == "Łukasz Nowak-Jones"
    own = api.user("person", "--person", str(pid))
    history = api.get(f"/api/v1/people/{pid}/history", token=own)
    assert history["person_id"] == pid and history["name"] == "Łukasz Nowak-Jones"
    assert [(c["old_name"], c["new_name"], c["changed_by_name"]) for c in history["changes"]] == [
        ("Lukasz Nowak", "Łukasz Nowak", "finance-1"), ("Łukasz Nowak", "Łukasz Nowak-Jones", "bo")]
    assert all(c["changed_at"] and isinstance(c["changed_by"], int) for c in history["changes"])
    # Who may: not the person, not an auditor; another person's history is not theirs to read.
    auditor = api.user("auditor", "--council", "Northshire")
    patch(api, pid, {"name": "X"}, token=own, expect=403)
    patch(api, pid, {"name": "X"}, token=auditor, expect=403)
    other = api.person("Ben")
    api.get(f"/api/v1/people/{other}/history", token=own, expect=403)
    patch(api, 999999, {"name": "X"}, expect=404)
    with api.app.app_context():  # history, never edited
        for stmt in ("UPDATE person_name_changes SET new_name = 'X'", "DELETE FROM person_name_changes"):
            with pytest.raises(sa.exc.DatabaseError):
                db.session.execute(sa.text(stmt))
            db.session.rollback()


@pytest.mark.parametrize("name, message", [
    ("", "must not be blank"), ("   ", "must not be blank"), ("x" * 201, "Length must be between 1 and 200."),
    ("Ana\x00", "must not contain NUL characters"), ("Ana\nBcc: x", "must not contain control characters"),
    ("Ana\tB", "must not contain control characters"), (None, "Field may not be null."), (42, "Not a valid string."),
])
def test_a_bad_name_is_a_422_naming_the_field_and_nothing_changes(api, name, message):
    pid = api.person("Ana")
    r = api.call("PATCH", f"/api/v1/people/{pid}", {"name": name})
    assert r.status_code == 422, r.get_json()
    assert any(message in m for m in r.get_json()["error"]["details"]["name"]), r.get_json()
    assert api.call("PATCH", f"/api/v1/people/{pid}", {}).status_code == 422
    assert api.get(f"/api/v1/people/{pid}")["name"] == "Ana"
    assert api.get(f"/api/v1/people/{pid}/history")["changes"] == []


def test_statements_already_issued_keep_the_name_they_were_issued_with(api, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 3))
    pid = api.person("Ana Smith", opened_on="2026-10-01")
    api.receipt(pid, "2000.00", "2026-10-01")
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    patch(api, pid, {"name": "Ana Smith-Jones"})
    path = f"/api/v1/people/{pid}/statements/2026-10"
    assert api.get(path)["name"] == "Ana Smith"
    for query in ("?format=pdf", "?format=pdf&large_print=true"):
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(api.call("GET", path + query).data)).pages)
        assert "This is for Ana Smith." in text and "Smith-Jones" not in text, query
    sheet = load_workbook(io.BytesIO(api.call("GET", path + "?format=xlsx").data)).worksheets[0]
    cells = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert "Ana Smith" in cells and not any("Smith-Jones" in c for c in cells)
    # A correction made from now on has the name as it is now.
    fixed = api.post(f"{path}/corrections", {"reason": "The name was misspelt."})
    assert fixed["name"] == "Ana Smith-Jones"
