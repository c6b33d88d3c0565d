"""Receipts and the management fee, as domain.md's worked example and its edge cases."""
import pytest


def test_worked_example_receipt_bears_ten_percent_fee(api):
    ana = api.person("Ana")
    api.plan(ana)
    r = api.receipt(ana, "2000.00", "2026-10-01", reference="Oct")
    assert (r["amount"], r["fee"], r["fee_rate"]) == ("2000.00", "200.00", "0.10")
    assert r["transaction_id"] != r["fee_transaction_id"]
    bal = api.balance(ana, "2026-10-31")
    assert bal["available"] == "1800.00"
    assert bal["contingency"] == "0.00"
    # Nothing is counted before the receipt's own date.
    assert api.balance(ana, "2026-09-30")["available"] == "0.00"


def test_receipt_and_fee_are_separate_linked_transactions(api):
    ana = api.person()
    api.plan(ana)
    r = api.receipt(ana)
    receipt = api.get(f"/api/v1/transactions/{r['transaction_id']}")
    fee = api.get(f"/api/v1/transactions/{r['fee_transaction_id']}")
    assert receipt["kind"] == "receipt" and fee["kind"] == "fee"
    assert sorted(p["amount"] for p in receipt["postings"]) == ["-2000.00", "2000.00"]
    assert {p["account"]: p["amount"] for p in fee["postings"]} == {
        f"person:{ana}:available": "-200.00", "provider:fee_income": "200.00",
        "provider:client_money": "200.00", "provider:provider_bank": "-200.00"}


@pytest.mark.parametrize("amount, rate, fee", [
    ("0.05", "0.10", "0.01"),      # 0.5p: half-up gives 1p, half-even 0p
    ("0.25", "0.10", "0.03"),      # 2.5p: half-up 3p, half-even 2p
    ("0.45", "0.10", "0.05"),      # 4.5p: half-up 5p, half-even 4p
    ("1234.45", "0.10", "123.45"),  # 12344.5p -> 12345p
    ("100.10", "0.125", "12.51"),  # 1251.25p -> 1251p
    ("33.33", "0.15", "5.00"),     # 499.95p -> 500p
    ("0.01", "0.10", "0.00"),      # 0.1p -> 0p: no fee transaction at all
])
def test_fee_rounds_half_up_once(api, amount, rate, fee):
    pid = api.person()
    api.plan(pid, management_fee_rate=rate)
    r = api.receipt(pid, amount)
    assert r["fee"] == fee
    assert (r["fee_transaction_id"] is None) == (fee == "0.00")
    cents = lambda s: int(s.replace(".", ""))  # noqa: E731
    assert api.balance(pid)["available"] == f"{(cents(amount) - cents(fee)) / 100:.2f}"


def test_fee_rate_is_the_plan_in_force_on_the_receipt_date(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-04-01", management_fee_rate="0.10")
    api.plan(pid, effective_from="2026-10-01", management_fee_rate="0.08")
    assert api.receipt(pid, "1000.00", "2026-09-30")["fee"] == "100.00"
    assert api.receipt(pid, "1000.00", "2026-10-01")["fee"] == "80.00"
    # Without a plan in force the provider's default rate (10%) applies.
    assert api.receipt(pid, "1000.00", "2026-03-31")["fee"] == "100.00"


def test_fee_exempt_receipt_bears_no_fee(api):
    pid = api.person()
    api.plan(pid)
    r = api.receipt(pid, "45.00", source="other", fee_exempt=True, reference="refund of a double payment")
    assert r["fee"] == "0.00" and r["fee_transaction_id"] is None
    assert api.balance(pid)["available"] == "45.00"


def test_exact_decimal_strings_in_and_out(api):
    pid = api.person()
    api.plan(pid, annual_budget="26000", management_fee_rate="0.1")
    r = api.receipt(pid, "2000")
    assert (r["amount"], r["fee"], r["fee_rate"]) == ("2000.00", "200.00", "0.10")
    plan = api.get(f"/api/v1/people/{pid}/plans")[0]
    assert plan["annual_budget"] == "26000.00"
    assert plan["planned_weekly_hours"] == {"day_support": "7.00"}
    # An exact JSON number is read as a decimal, never through a float.
    r = api.receipt(pid, 0.1)
    assert (r["amount"], r["fee"]) == ("0.10", "0.01")


def test_person_and_fund_returned_on_creation(api):
    p = api.post("/api/v1/people", {"name": "Ana", "council": "Northshire", "council_reference": "NS-ANA"})
    assert p["name"] == "Ana" and p["council"] == "Northshire" and p["council_reference"] == "NS-ANA"
    assert p["fund"]["available"] == "0.00" and p["fund"]["contingency"] == "0.00"
    assert api.get(f"/api/v1/people/{p['id']}")["id"] == p["id"]


def test_same_council_reference_twice_is_refused(api):
    api.post("/api/v1/people", {"name": "Ana", "council": "Northshire", "council_reference": "NS-1"})
    r = api.call("POST", "/api/v1/people", {"name": "Another", "council": "Northshire", "council_reference": "NS-1"})
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "duplicate_person"
    # Another council may use the same reference.
    api.post("/api/v1/people", {"name": "Bo", "council": "Southshire", "council_reference": "NS-1"})


def test_a_receipt_dated_before_the_fund_opened_is_refused(api):
    pid = api.person(opened_on=None)  # opened today, as the API opens it
    opened = api.get(f"/api/v1/people/{pid}")["fund"]["opened_on"]
    r = api.call("POST", f"/api/v1/people/{pid}/receipts", {"date": "2026-10-01", "amount": "2000.00",
                                                             "source": "council"})
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["details"] == {"date": [f"before the fund opened on {opened}; record the plan first"]}
    assert api.get(f"/api/v1/people/{pid}/receipts") == []
    # A plan dated earlier opens the fund at its start; from then on receipts are taken.
    api.plan(pid, effective_from="2026-04-01")
    assert api.get(f"/api/v1/people/{pid}")["fund"]["opened_on"] == "2026-04-01"
    assert api.receipt(pid, "2000.00", "2026-10-01")["fee"] == "200.00"
    api.post(f"/api/v1/people/{pid}/receipts", {"date": "2026-03-31", "amount": "1.00", "source": "council"},
             expect=422)


def test_a_plan_moves_the_fund_opening_earlier_never_later(api):
    pid = api.person(opened_on=None)
    api.plan(pid, effective_from="2026-04-01")
    api.plan(pid, effective_from="2026-02-01")
    api.plan(pid, effective_from="2026-06-01")
    assert api.get(f"/api/v1/people/{pid}")["fund"]["opened_on"] == "2026-02-01"


def test_listing_receipts_reads_in_a_handful_of_queries_whatever_their_number(api):
    from pages_book import counted
    pid = api.person()
    api.plan(pid)
    made = []
    gone = api.post(f"/api/v1/transactions/{api.receipt(pid, '50.00', '2026-10-01')['transaction_id']}/reverse",
                    {"reason": "paid to the wrong fund"})["transaction_id"]
    counts = []
    for n in (2, 20):
        while len(made) < n - 1:
            made.append(api.receipt(pid, "100.00", f"2026-10-{len(made) + 2:02d}")["id"])
        with counted(api.app) as seen:
            listed = api.get(f"/api/v1/people/{pid}/receipts")
        counts.append(len(seen))
        assert len(listed) == n
        assert [r["reversed_by_transaction_id"] for r in listed] == [gone] + [None] * (n - 1)
        assert [r["id"] for r in listed[1:]] == made
    assert counts[0] == counts[1] <= 4, counts  # 4 on SQLite, 3 on PostgreSQL (was 6 and 24)
