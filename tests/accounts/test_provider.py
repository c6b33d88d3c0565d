"""The provider's own details (domain.md "The provider"): set by finance, read by anyone signed in,
and shown on every statement and letter with how to get it another way."""
from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from isf_ledger import clock
from isf_ledger.provider import current
from pdfs import pdf_text as text

DETAILS = {"name": "Brightwater Support", "address_lines": ["Unit 4, Mill Lane", "Northtown", "NT1 2AB"],
           "phone": "01632 960 123", "email": "questions@brightwater.example.org", "contact_name": "Siân Owens",
           "bank_interest": "shared"}
WHO = ("Who we are We are Brightwater Support. We look after your fund. If you have a question, please ask "
       "Siân Owens. You can: • phone 01632 960 123 • e-mail questions@brightwater.example.org • write to "
       "Unit 4, Mill Lane, Northtown, NT1 2AB You can have this in another way: in large print, read aloud to "
       "you, or in easy read. Just ask us.")


@pytest.fixture
def today(monkeypatch):
    box = {"day": date(2026, 11, 3)}
    monkeypatch.setattr(clock, "today", lambda: box["day"])
    return box


def test_finance_sets_the_details_and_anyone_signed_in_reads_them(api):
    assert api.get("/api/v1/provider") == {"name": "Your support provider", "address_lines": [], "phone": None,
                                           "email": None, "contact_name": None, "bank_interest": "shared"}
    assert api.call("PATCH", "/api/v1/provider", DETAILS).get_json() == DETAILS
    api.person("Ana")  # and so the council Northshire, for its auditor
    for token in (api.user("broker"), api.user("auditor", "--council", "Northshire")):
        assert api.get("/api/v1/provider", token=token) == DETAILS
        assert api.call("PATCH", "/api/v1/provider", {"phone": "0161 496 0000"}, token=token).status_code == 403
    assert api.call("GET", "/api/v1/provider", token="nobody").status_code == 401
    # Only what is given changes; the same write again with its key answers as before, writing nothing.
    key = {"Idempotency-Key": "provider-1"}
    first = api.call("PATCH", "/api/v1/provider", {"phone": "0161 496 0000"}, headers=key)
    assert first.status_code == 200 and first.get_json() == {**DETAILS, "phone": "0161 496 0000"}
    api.call("PATCH", "/api/v1/provider", {"phone": "0161 496 0999"})
    again = api.call("PATCH", "/api/v1/provider", {"phone": "0161 496 0000"}, headers=key)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert api.get("/api/v1/provider") == {**DETAILS, "phone": "0161 496 0999"}
    with api.app.app_context():
        assert current().contact_name == "Siân Owens"


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"), ({"name": "   "}, "name"), ({"email": "not an address"}, "email"),
    ({"phone": "call us"}, "phone"), ({"address_lines": []}, "address_lines"),
    ({"address_lines": ["ok", " "]}, "address_lines"), ({"address_lines": "one line"}, "address_lines"),
    ({"contact_name": "x" * 201}, "contact_name"), ({"name": "A\x00B"}, "name"), ({"colour": "red"}, "colour"),
    ({"bank_interest": "sometimes"}, "bank_interest"),
    ({}, "_schema")])
def test_bad_details_are_refused_naming_the_field(api, body, field):
    r = api.call("PATCH", "/api/v1/provider", body)
    assert r.status_code == 422, r.get_json()
    assert field in str(r.get_json()["error"]), r.get_json()
    assert api.get("/api/v1/provider")["name"] == "Your support provider"


def test_the_command_line_sets_the_details(app, api):
    run = app.test_cli_runner().invoke
    done = run(args=["provider", "set", "--name", "Brightwater Support", "--address-line", "Unit 4, Mill Lane",
                     "--address-line", "Northtown", "--address-line", "NT1 2AB", "--phone", "01632 960 123",
                     "--email", "questions@brightwater.example.org", "--contact-name", "Siân Owens"])
    assert done.exit_code == 0, done.output
    assert api.get("/api/v1/provider") == DETAILS
    bad = run(args=["provider", "set", "--email", "nope"])
    assert bad.exit_code == 2 and "email: must be an e-mail address" in bad.output
    assert api.get("/api/v1/provider") == DETAILS


def test_every_statement_and_letter_says_who_we_are(api, today):
    api.call("PATCH", "/api/v1/provider", DETAILS)
    pid = api.person("Ana")
    api.plan(pid, effective_from="2026-10-01")
    api.receipt(pid, "5000.00", "2026-10-01")
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    docs = {large: api.call("GET", f"/api/v1/people/{pid}/statements/2026-10?format=pdf&large_print={large}").data
            for large in ("false", "true")}
    today["day"] = date(2026, 11, 20)
    docs["notice"] = api.call("GET", f"/api/v1/people/{pid}/surplus-notice").data
    done = api.post(f"/api/v1/people/{pid}/close", {"date": "2026-11-15", "destination": "council", "reference": "R-1"})
    docs["final"] = api.call("GET", f"/api/v1/people/{pid}/statements/{done['final_statement_month']}?format=pdf").data
    for kind, data in docs.items():
        assert text(data).endswith(WHO), (kind, text(data)[-400:])
        assert PdfReader(io.BytesIO(data)).metadata.author == "Brightwater Support"
