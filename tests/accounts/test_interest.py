"""Interest the bank pays on client money (accounts/interest.py): shared among the funds by their
daily balances (largest remainder), or kept by the provider, by the provider's setting."""
from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy as sa

from isf_ledger import clock
from isf_ledger.accounts.interest import shares
from isf_ledger.db import db
from isf_ledger.models import Transaction

import pages_book
from pdfs import pdf_text
from pages_book import sign_in, text as page_text
@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 5))


def three_funds(api):
    """Ana holds 3,000.00 all October; Ben's fund opens on 10-11 with 2,000.00; Cal holds 1,000.00
    until his fund closes on 10-20 (paid out that day, so he held it 10-01 to 10-19)."""
    ana, ben, cal = (api.person(n, opened_on=o) for n, o in (("Ana", "2026-09-01"), ("Ben", "2026-10-11"),
                                                            ("Cal", "2026-09-01")))
    api.receipt(ana, "3000.00", "2026-09-01", fee_exempt=True)
    api.receipt(ben, "2000.00", "2026-10-11", fee_exempt=True)
    api.receipt(cal, "1000.00", "2026-09-01", fee_exempt=True)
    api.post(f"/api/v1/people/{cal}/close", {"date": "2026-10-20", "destination": "council", "reference": "C-1"})
    return ana, ben, cal


BODY = {"date": "2026-11-02", "period_from": "2026-10-01", "period_to": "2026-10-31", "amount": "10.00"}


def test_the_largest_remainder_split_sums_exactly_and_ties_go_to_the_lower_id():
    assert shares(100, {3: 1, 1: 1, 2: 1}) == {1: 34, 2: 33, 3: 33}
    assert shares(1000, {1: 9_300_000, 2: 4_200_000, 3: 1_900_000}) == {1: 604, 2: 273, 3: 123}
    assert shares(1, {5: 10, 7: 10}) == {5: 1, 7: 0}
    assert shares(500, {1: 0, 2: 0}) == {}


def test_shared_interest_follows_each_funds_daily_balances(api):
    ana, ben, cal = three_funds(api)
    out = api.post("/api/v1/bank-interest", BODY)
    # Balance-days: Ana 3,000.00 x 31, Ben 2,000.00 x 21 (10-11 to 10-31), Cal 1,000.00 x 19.
    # Exact shares 603.90p, 272.73p, 123.38p: floors 603 + 272 + 123 = 998, the 2p left go to the
    # two largest remainders (Ana .90, Ben .73).
    assert [(s["person_id"], s["balance_days"], s["share"], s["posted"]) for s in out["shares"]] == [
        (ana, "93000.00", "6.04", True), (ben, "42000.00", "2.73", True), (cal, "19000.00", "1.23", False)]
    assert (out["handling"], out["amount"], out["kept_by_provider"], out["closed_fund_shares"]) == (
        "shared", "10.00", "1.23", "1.23")
    assert api.balance(ana)["available"] == "3006.04"
    assert api.balance(ben)["available"] == "2002.73"
    assert api.balance(cal)["available"] == "0.00"  # closed: it takes no further postings
    rec = api.get("/api/v1/reconciliation?as_of=2026-11-30")
    assert (rec["difference"], rec["funds_total"], rec["client_money_held"]) == ("0.00", "5008.77", "5008.77")
    with api.app.app_context():
        kinds = db.session.execute(sa.select(Transaction.kind, Transaction.person_id)
                                   .where(Transaction.kind.like("interest%")).order_by(Transaction.id)).all()
    assert kinds == [("interest", ana), ("interest", ben), ("interest", None), ("interest_to_provider", None)]
    assert api.get(f"/api/v1/bank-interest/{out['id']}") == out
    audit = api.runner.invoke(args=["audit"])
    assert audit.exit_code == 0, audit.output


def test_interest_kept_by_the_provider_touches_no_fund(api):
    ana, ben, _ = three_funds(api)
    assert api.call("PATCH", "/api/v1/provider", {"bank_interest": "provider"}).status_code == 200
    out = api.post("/api/v1/bank-interest", BODY)
    assert (out["handling"], out["kept_by_provider"], out["shares"]) == ("provider", "10.00", [])
    assert api.balance(ana)["available"] == "3000.00" and api.balance(ben)["available"] == "2000.00"
    assert api.get("/api/v1/reconciliation?as_of=2026-11-30")["difference"] == "0.00"
    audit = api.runner.invoke(args=["audit"])
    assert audit.exit_code == 0, audit.output


def upload(api, text):
    r = api.client.post("/api/v1/bank-statements", data={"file": (io.BytesIO(text.encode()), "s.csv")},
                        content_type="multipart/form-data",
                        headers={"Authorization": f"Bearer {api.token}", "Idempotency-Key": f"b-{next(api.keys)}"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_the_interest_line_is_matched_to_the_shares(api):
    ana, ben, _ = three_funds(api)
    out = upload(api, "Date,Description,Amount\n02/11/2026,GROSS INTEREST,10.00\n")
    assert out["unmatched"] == 1
    line = api.get(f"/api/v1/bank-statements/{out['id']}")["lines"][0]
    done = api.post("/api/v1/bank-interest", {**{k: v for k, v in BODY.items() if k != "amount"},
                                              "line_id": line["id"]})
    assert done["amount"] == "10.00" and len(done["matched_transaction_ids"]) == 3
    line = api.get(f"/api/v1/bank-statements/{out['id']}")["lines"][0]
    assert line["status"] == "matched" and line["transaction_ids"] == done["matched_transaction_ids"]


def test_a_statement_imported_after_the_interest_matches_its_line_to_the_shares(api):
    three_funds(api)
    api.post("/api/v1/bank-interest", BODY)
    out = upload(api, "Date,Description,Amount\n03/11/2026,CREDIT INTEREST,10.00\n")
    assert (out["matched"], out["unmatched"]) == (1, 0)


@pytest.mark.parametrize("change, field, status", [
    ({"amount": None}, "amount", 422), ({"amount": "0.00"}, "amount", 422), ({"amount": "-1.00"}, "amount", 422),
    ({"amount": "1.001"}, "amount", 422), ({"date": "2026-11-06"}, "date", 422),
    ({"period_from": "2026-11-01", "period_to": "2026-10-31"}, "period_from", 422),
    ({"period_to": "2026-11-03"}, "period_to", 422), ({"period_from": "2025-01-01"}, "period_from", 422),
    ({"date": "2026-13-01"}, "date", 422), ({"line_id": 999_999}, "line", 404), ({"line_id": "x"}, "line_id", 422)])
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(api, change, field, status):
    three_funds(api)
    body = {k: v for k, v in {**BODY, **change}.items() if v is not None}
    r = api.call("POST", "/api/v1/bank-interest", body)
    assert r.status_code == status, r.get_json()
    assert field in str(r.get_json()["error"])
    with api.app.app_context():
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM bank_interest")) == 0
        assert db.session.scalar(sa.select(sa.func.count()).where(Transaction.kind.like("interest%"))) == 0


def test_a_replay_answers_the_same_and_a_second_recording_of_the_period_is_refused(api):
    three_funds(api)
    first = api.call("POST", "/api/v1/bank-interest", BODY, key="interest-1")
    again = api.call("POST", "/api/v1/bank-interest", BODY, key="interest-1")
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    twice = api.call("POST", "/api/v1/bank-interest", BODY)
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "interest_already_recorded"
    assert api.call("POST", "/api/v1/bank-interest", BODY, token=api.user("broker")).status_code == 403


def test_nobody_holding_money_is_a_conflict(api):
    api.person("Ana", opened_on="2026-10-01")
    r = api.call("POST", "/api/v1/bank-interest", BODY)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "no_money_held"


def test_the_command_line_records_interest(api):
    ana, ben, _ = three_funds(api)
    done = api.runner.invoke(args=["bank", "interest", "--date", "2026-11-02", "--from", "2026-10-01",
                                   "--to", "2026-10-31", "--amount", "10.00"])
    assert done.exit_code == 0, done.output
    assert "10.00" in done.output and "shared" in done.output
    assert api.balance(ana)["available"] == "3006.04"
    bad = api.runner.invoke(args=["bank", "interest", "--date", "2026-11-02", "--from", "2026-11-01",
                                  "--to", "2026-10-31", "--amount", "10.00"])
    assert bad.exit_code != 0 and "period_from" in bad.output


def test_the_statement_says_how_interest_is_handled_and_the_persons_share(api, monkeypatch):
    ana, ben, _ = three_funds(api)
    api.post("/api/v1/bank-interest", BODY)
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 5))
    api.post("/api/v1/statements/2026-11/issue", {}, expect=200)
    got = api.get(f"/api/v1/people/{ana}/statements/2026-11")
    assert got["interest"] == {"handling": "shared", "received": "6.04"}
    assert (got["receipts_total"], got["paid_in"], got["closing_balance"]) == (
        "6.04", {"bank_interest": "6.04"}, "3006.04")
    pdf = pdf_text(api.call("GET", f"/api/v1/people/{ana}/statements/2026-11?format=pdf").data)
    assert "Interest from the bank" in pdf and "We share it out" in pdf
    assert "Your share this month was £6.04." in pdf
    pages_book.user(api, "ana", "--role", "person", "--person", str(ana))
    page = page_text(sign_in(api.app.test_client(), "ana").get(f"/people/{ana}/statements/2026-11")
                     .get_data(as_text=True))
    assert "Interest from the bank" in page and "Your share this month was £6.04." in page
    # Kept by the provider: the next month's statement says so, and no share.
    assert api.call("PATCH", "/api/v1/provider", {"bank_interest": "provider"}).status_code == 200
    monkeypatch.setattr(clock, "today", lambda: date(2027, 1, 5))
    api.post("/api/v1/statements/2026-12/issue", {}, expect=200)
    got = api.get(f"/api/v1/people/{ben}/statements/2026-12")
    assert got["interest"] == {"handling": "provider", "received": "0.00"}
    pdf = pdf_text(api.call("GET", f"/api/v1/people/{ben}/statements/2026-12?format=pdf").data)
    assert "We, the provider, keep that interest; none of it is added to your money." in pdf
