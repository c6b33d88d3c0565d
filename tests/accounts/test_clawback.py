"""Underspend and clawback, fee refunds, the surplus notice letter, and closing a fund
(domain.md "Underspend and clawback", "Closing a fund")."""
from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from isf_ledger import clock


@pytest.fixture
def today(monkeypatch):
    box = {"day": date(2026, 11, 20)}
    monkeypatch.setattr(clock, "today", lambda: box["day"])
    return box


def claw(api, pid, amount, day="2026-11-01", notice="2026-10-04", expect=201, **fields):
    body = {"date": day, "amount": amount, "reference": "CB-1", "notice_given_on": notice, **fields}
    r = api.call("POST", f"/api/v1/people/{pid}/clawbacks", body)
    assert r.status_code == expect, r.get_json()
    return r.get_json() if expect == 201 else r.get_json()["error"]


def surplus_fund(api, **plan):
    """Budget £26,000 a year: four weeks is £2,000.00. £5,000 in, fee £500: £4,500.00 available,
    so a surplus of £2,500.00."""
    pid = api.person("Ana")
    api.plan(pid, **plan)
    api.receipt(pid, "5000.00", "2026-10-01")
    return pid


def test_beyond_the_surplus_is_refused(api, today):
    pid = surplus_fund(api)
    assert api.get(f"/api/v1/people/{pid}/surplus?date=2026-11-01")["surplus_above_threshold"] == "2500.00"
    err = claw(api, pid, "2500.01", expect=409)
    assert err["code"] == "beyond_surplus" and "2500.00" in err["message"]
    assert api.balance(pid)["available"] == "4500.00"  # nothing written
    done = claw(api, pid, "2500.00")
    assert done["method"] == "repayment" and done["transaction_id"]
    assert api.get(f"/api/v1/transactions/{done['transaction_id']}")["postings"] == [
        {"account": f"person:{pid}:available", "amount": "-2500.00"},
        {"account": "provider:client_money", "amount": "2500.00"}]
    assert api.balance(pid)["available"] == "2000.00"
    assert api.get("/api/v1/reconciliation")["reconciles"] is True


def test_too_little_notice_is_refused_and_an_override_records_it(api, today):
    pid = surplus_fund(api)
    err = claw(api, pid, "100.00", notice="2026-10-05", expect=409)  # 27 days
    assert err["code"] == "too_little_notice" and "28 days" in err["message"]
    assert claw(api, pid, "100.00", notice=None, expect=409)["code"] == "too_little_notice"
    done = claw(api, pid, "100.00", notice="2026-10-05", override_reason="agreed with Ana and her sister")
    assert done["override_reason"] == "agreed with Ana and her sister"
    # Beyond the surplus, with a reason: recorded (never beyond available: the engine refuses that).
    claw(api, pid, "3000.00", override_reason="the council's contract ends")
    assert api.balance(pid)["available"] == "1400.00"
    assert claw(api, pid, "1400.01", override_reason="x", expect=409)["code"] == "insufficient_funds"


def test_the_councils_rules_are_read_as_they_stood_on_the_clawbacks_date(api, today):
    # Northshire raises its threshold to 6 weeks and its notice to 60 days from 2026-11-10: a
    # clawback dated 2026-11-01 still reads 4 weeks and 28 days; one dated 2026-11-15 the new ones.
    pid = surplus_fund(api)
    council = api.get("/api/v1/councils")[0]["id"]
    r = api.call("PATCH", f"/api/v1/councils/{council}", {"surplus_threshold_weeks": 6, "surplus_notice_days": 60,
                                                          "effective_from": "2026-11-10"})
    assert r.status_code == 200, r.get_json()
    before = api.get(f"/api/v1/people/{pid}/surplus?date=2026-11-01")
    after = api.get(f"/api/v1/people/{pid}/surplus?date=2026-11-15")
    assert (before["threshold_weeks"], before["surplus_above_threshold"], before["notice_days"]) == (4, "2500.00", 28)
    assert (after["threshold_weeks"], after["surplus_above_threshold"], after["notice_days"]) == (6, "1500.00", 60)
    claw(api, pid, "100.00")  # notice 2026-10-04: 28 days before 2026-11-01
    assert claw(api, pid, "100.00", day="2026-11-15", expect=409)["code"] == "too_little_notice"


def test_a_plan_sets_the_notice(api, today):
    pid = surplus_fund(api, surplus_notice_days=7)
    claw(api, pid, "100.00", notice="2026-10-25")


def test_deduction_counts_the_instalment_as_paid_in_full(api, today):
    # Four-weekly £26,000: £2,000.00 due on 1 and 29 October. One week's threshold: £500.00.
    pid = api.person("Ana")
    api.plan(pid, effective_from="2026-10-01", surplus_threshold_weeks=1)
    api.receipt(pid, "2000.00", "2026-10-01")  # fee 200: 1800 available, 1300 above the threshold
    assert api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-10-31")["council"]["arrears"] == "2000.00"
    api.receipt(pid, "1700.00", "2026-10-29")  # the council paid £300.00 less: it kept it as a clawback
    done = claw(api, pid, "300.00", day="2026-10-29", notice="2026-10-01", method="deduction")
    assert done["method"] == "deduction" and done["receipt_id"] and done["deduction_transaction_id"]
    arrears = api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-10-31")["council"]
    assert arrears == {"due": "4000.00", "received": "4000.00", "arrears": "0.00"}
    # The withheld £300 came in and went back: 1800 + 1530 (1700 less its fee) in the fund.
    assert api.balance(pid, "2026-10-31")["available"] == "3330.00"
    rec = api.get("/api/v1/reconciliation")
    assert rec["reconciles"] is True and rec["client_money_held"] == "3330.00"
    # The month's statement shows both lines, and arrears nil.
    today["day"] = date(2026, 11, 3)
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    s = api.get(f"/api/v1/people/{pid}/statements/2026-10")
    assert (s["receipts_total"], s["management_fee_total"], s["clawback_total"], s["closing_balance"]) == (
        "4000.00", "370.00", "300.00", "3330.00")
    assert s["arrears"]["council"]["arrears"] == "0.00"
    # Reversing the withheld receipt takes the clawback with it.
    r = api.post(f"/api/v1/transactions/{done['deduction_transaction_id']}/reverse", {"reason": "entered twice"})
    assert r["transaction_id"]
    assert api.balance(pid)["available"] == "3330.00"
    assert api.app.test_cli_runner().invoke(args=["audit"]).exit_code == 0


def test_only_the_councils_share_where_the_contribution_is_not_spent_first(api, today):
    # £3,000 from the council and £1,000 from Ana: fees £400, £3,600 available, £1,600 surplus;
    # the council's share is 1,600 x 3,000 / 4,000 = £1,200.00.
    pid = api.person("Ana")
    api.plan(pid, contribution_spent_first=False)
    api.receipt(pid, "3000.00", "2026-10-01")
    api.receipt(pid, "1000.00", "2026-10-01", source="client_contribution")
    s = api.get(f"/api/v1/people/{pid}/surplus?date=2026-11-01")
    assert (s["surplus_above_threshold"], s["recoverable"]) == ("1600.00", "1200.00")
    assert claw(api, pid, "1200.01", expect=409)["code"] == "beyond_surplus"
    claw(api, pid, "1200.00")
    assert api.balance(pid)["available"] == "2400.00"


def test_fee_refund_is_its_own_transaction(api, today):
    pid = surplus_fund(api)
    claw(api, pid, "1000.00")
    assert api.balance(pid)["available"] == "3500.00"  # the fee is not refunded by a clawback
    r = api.post(f"/api/v1/people/{pid}/fee-refunds", {"date": "2026-11-02", "amount": "50.00",
                                                        "reason": "the council's contract refunds fee on recoveries"})
    t = api.get(f"/api/v1/transactions/{r['transaction_id']}")
    assert t["kind"] == "fee_refund" and t["reason"].startswith("the council's contract")
    assert api.balance(pid)["available"] == "3550.00"
    err = api.call("POST", f"/api/v1/people/{pid}/fee-refunds",
                   {"date": "2026-11-02", "amount": "450.01", "reason": "too much"})
    assert err.status_code == 409 and err.get_json()["error"]["code"] == "beyond_fee_paid"
    assert api.get("/api/v1/reconciliation")["reconciles"] is True
    broker = api.user("broker")
    assert api.call("POST", f"/api/v1/people/{pid}/fee-refunds", {"date": "2026-11-02", "amount": "1.00",
                                                                   "reason": "x"}, token=broker).status_code == 403
    assert api.call("POST", f"/api/v1/people/{pid}/clawbacks", {"date": "2026-11-02", "amount": "1.00"},
                    token=broker).status_code == 403


def test_the_notice_letter_opens_and_holds_the_amount_and_date(api, today):
    pid = surplus_fund(api)
    r = api.call("GET", f"/api/v1/people/{pid}/surplus-notice?date=2026-12-20&amount=1250.00")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
    text = " ".join(text.split())
    assert "£1,250.00" in text and "20 December 2026" in text and "£2,500.00" in text
    assert "right to ask questions" in text
    person = api.user("person", "--person", str(pid))
    assert api.call("GET", f"/api/v1/people/{pid}/surplus-notice", token=person).status_code == 200


# --- Closing a fund --------------------------------------------------------------------------

def closing_fund(api):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "20.00",
                               "effective_from": "2026-01-01"})
    pid = api.person("Ana", opened_on="2026-10-01")
    api.plan(pid, effective_from="2026-10-01", contingency_amount="500.00")
    api.receipt(pid, "2000.00", "2026-10-01")  # 1800 available
    api.post(f"/api/v1/people/{pid}/contingency/set-aside", {"date": "2026-10-02", "amount": "300.00"})
    api.post(f"/api/v1/people/{pid}/deliveries", {"date": "2026-11-05", "start_time": "10:00",
                                                  "service": "day_support", "quantity": "5.00",
                                                  "status": "delivered", "domain": "personal_care"})
    return pid  # available 1400.00, contingency 300.00


def test_closing_mid_month(api, today):
    pid = closing_fund(api)
    done = api.post(f"/api/v1/people/{pid}/close", {"date": "2026-11-15", "destination": "council",
                                                     "reference": "NS-RET-77"})
    assert (done["paid_out"], done["available_paid_out"], done["contingency_paid_out"]) == (
        "1700.00", "1400.00", "300.00")
    # October, ended and not yet issued, is issued first (domain.md "Month end in order").
    assert done["statements_issued"] == [{"month": "2026-10", "number": 1}]
    assert done["final_statement_month"] == "2026-11" and done["final_statement_number"] == 2
    october = api.get(f"/api/v1/people/{pid}/statements/2026-10")
    assert (october["number"], october["opening_balance"], october["closing_balance"]) == (1, "0.00", "1500.00")
    assert "final" not in october
    t = api.get(f"/api/v1/transactions/{done['transaction_id']}")
    assert t["kind"] == "closing" and "NS-RET-77" in t["description"]
    assert api.balance(pid) == {**api.balance(pid), "available": "0.00", "contingency": "0.00"}
    s = api.get(f"/api/v1/people/{pid}/statements/2026-11")
    assert s["number"] == 2 and s["period"] == {"from": "2026-11-01", "to": "2026-11-15"}
    # The closing payment is its own heading (domain.md "Monthly statement"), not a clawback.
    assert (s["opening_balance"], s["support_charged_total"], s["clawback_total"], s["closed_out_total"],
            s["closing_balance"]) == ("1500.00", "100.00", "0.00", "1400.00", "0.00")
    assert s["contingency"]["remaining"] == "0.00"
    assert s["final"]["paid_out"] == "1700.00" and s["final"]["reference"] == "NS-RET-77"
    pdf = api.call("GET", f"/api/v1/people/{pid}/statements/2026-11?format=pdf")
    # The first page says it is the last statement and where the money went, as what, with its
    # reference (domain.md "Closing a fund").
    assert ("Your fund closed on 15 November 2026. This is its last statement. We paid the £1,700.00 left back "
            "to the council as a refund (reference NS-RET-77).") in " ".join(
                PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text().split())
    rec = api.get("/api/v1/reconciliation")
    assert rec["reconciles"] is True and rec["funds_total"] == "0.00"
    # Every later write is refused, saying the fund is closed.
    r = api.call("POST", f"/api/v1/people/{pid}/receipts", {"date": "2026-11-16", "amount": "1.00",
                                                            "source": "council"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "fund_closed"
    assert "closed" in r.get_json()["error"]["message"]
    r = api.call("POST", f"/api/v1/people/{pid}/close", {"date": "2026-11-16", "destination": "council",
                                                         "reference": "again"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "fund_closed"
    # Month end later finds both months issued: nothing new, nothing out of order.
    today["day"] = date(2026, 12, 2)
    for month in ("2026-10", "2026-11"):
        again = api.post(f"/api/v1/statements/{month}/issue", {}, expect=200)
        assert (again["issued"], again["already_issued"], again["not_issued"]) == (0, 1, [])
    assert api.app.test_cli_runner().invoke(args=["audit"]).exit_code == 0


def test_closing_refuses_an_overdrawn_fund_and_items_after_the_date(api, today):
    pid = closing_fund(api)
    r = api.call("POST", f"/api/v1/people/{pid}/close", {"date": "2026-11-04", "destination": "transfer",
                                                         "reference": "T-1"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "items_after_close"
    for day in range(6, 10):  # 80 hours, a day's session at most each
        api.post(f"/api/v1/people/{pid}/deliveries", {"date": f"2026-11-{day:02d}", "start_time": "02:00",
                                                      "service": "day_support", "quantity": "20.00",
                                                      "status": "delivered", "domain": "personal_care"})
    r = api.call("POST", f"/api/v1/people/{pid}/close", {"date": "2026-11-15", "destination": "transfer",
                                                         "reference": "T-1"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "fund_overdrawn"
    assert api.get(f"/api/v1/people/{pid}")["fund"]["closed_on"] is None
    api.receipt(pid, "200.00", "2026-11-10", source="other", fee_exempt=True)  # the provider makes good
    done = api.post(f"/api/v1/people/{pid}/close", {"date": "2026-11-15", "destination": "transfer",
                                                     "reference": "T-1"})
    assert done["paid_out"] == "300.00" and done["available_paid_out"] == "0.00"
