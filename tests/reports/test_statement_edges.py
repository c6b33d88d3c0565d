"""What a statement says at the edges of a fund's life is true (issue 23 item 3, domain.md
"Closing a fund", "Monthly statement"), read from the PDF's text as the person reads it and from
the statement's JSON: where a closed fund's money went, by the closing reason, and nothing chased;
the plan year's last month says what is left, not a forecast of the past; nothing is said about
what did not happen; hours in hours and minutes; things bought and who paid in, item by item."""
from __future__ import annotations

import io
from datetime import date

import pytest
import re

import pyphen
from pypdf import PdfReader

from isf_ledger import clock
from isf_ledger.reports.render_pdf import hours, letter
from isf_ledger.reports.render_notice import notice_blocks

HYPHENS = pyphen.Pyphen(lang="en_GB")  # syllables from a bundled dictionary: nothing to download


def grade(text: str) -> float:
    """The Flesch-Kincaid grade: 0.39 words a sentence + 11.8 syllables a word - 15.59."""
    sentences = [x for x in re.split(r"[.!?:\n]+", text) if re.search(r"[A-Za-z]", x)]
    words = re.findall(r"[A-Za-z']+", text)
    syllables = sum(len(HYPHENS.positions(w)) + 1 for w in words)
    return 0.39 * len(words) / len(sentences) + 11.8 * syllables / len(words) - 15.59


CHASING = ("next payment in", "has not yet paid", "Your own part", "If you keep using", "surplus", "rainy day",
           "Your plan gave you")


@pytest.fixture
def today(monkeypatch):
    box = {"day": date(2026, 11, 20)}
    monkeypatch.setattr(clock, "today", lambda: box["day"])
    return box


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())


def statement(api, pid, month):
    r = api.call("GET", f"/api/v1/people/{pid}/statements/{month}?format=pdf")
    assert r.status_code == 200, r.get_json()
    return api.get(f"/api/v1/people/{pid}/statements/{month}"), pdf_text(r.data)


def rated(api):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "20.00",
                               "effective_from": "2026-01-01"})


def owing_fund(api, name="Ana"):
    """A fund whose council and own part are both behind: one receipt of many instalments due."""
    rated(api)
    pid = api.person(name, opened_on="2026-10-01")
    api.plan(pid, effective_from="2026-10-01", weekly_client_contribution="20.00")
    api.receipt(pid, "2000.00", "2026-10-01")
    api.post(f"/api/v1/people/{pid}/deliveries", {"date": "2026-11-05", "start_time": "10:00",
                                                  "service": "day_support", "quantity": "5.50",
                                                  "status": "delivered", "domain": "personal_care"})
    return pid


@pytest.mark.parametrize("reason,destination,went", [
    ("moved_provider", "transfer", "to the new holder of your fund as a transfer (reference R-9)"),
    ("direct_payment", "council", "back to the council as a refund (reference R-9)"),
    ("died", "council", "back to the council as a refund (reference R-9)"),
    ("other", "transfer", "to the new holder of your fund as a transfer (reference R-9)"),
])
def test_a_closed_funds_final_statement_says_where_the_money_went_and_chases_nothing(api, today, reason,
                                                                                       destination, went):
    pid = owing_fund(api)
    owed_before = api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-11-15")
    assert owed_before["council"]["arrears"] != "0.00" and owed_before["person"]["arrears"] != "0.00"
    done = api.post(f"/api/v1/people/{pid}/close", {"date": "2026-11-15", "destination": destination,
                                                     "reference": "R-9", "reason": reason})
    assert done["reason"] == reason
    s, text = statement(api, pid, "2026-11")
    # The closing payment is its own figure, not a clawback; the arrears are as on the close date.
    assert (s["clawback_total"], s["closed_out_total"], s["closing_balance"]) == (
        "0.00", s["final"]["available_paid_out"], "0.00")
    assert s["final"]["reason"] == reason
    assert s["arrears"]["council"] == owed_before["council"]
    assert "It covers 1 November 2026 to 15 November 2026, the day the fund closed." in text
    for words in CHASING:
        assert words not in text, words
    if reason == "died":
        assert "This is for the family or representative of Ana. We are very sorry for your loss." in text
        assert "We paid the £1,690.00 left " + went in text
        assert "your fund" not in text and "The fund closed on 15 November 2026." in text
    else:
        assert "This is for Ana." in text and "Your fund closed on 15 November 2026." in text
        assert ("We paid the £1,690.00 left " if destination == "council" else "We sent the £1,690.00 left ") + \
            went in text
    if reason == "moved_provider":
        assert "You moved to a new provider." in text
    if reason == "direct_payment":
        assert "You now get a direct payment instead." in text
    assert "They used 5 hours 30 minutes of help." in text if reason == "died" else \
        "You used 5 hours 30 minutes of help." in text
    assert "Nobody needs to pay anything or do anything." in text
    assert grade("\n".join(t for _, t in letter(s))) <= 5


def test_a_fund_closed_on_its_first_day_says_no_planned_hours_for_the_month(api, today):
    rated(api)
    pid = api.person("Ana", opened_on="2026-10-01")
    api.plan(pid, effective_from="2026-10-01")
    api.receipt(pid, "2000.00", "2026-10-01")
    today["day"] = date(2026, 11, 2)
    api.post(f"/api/v1/people/{pid}/close", {"date": "2026-11-01", "destination": "council", "reference": "R-1"})
    s, text = statement(api, pid, "2026-11")
    assert s["hours"]["planned"] != "0.00"  # the figure is kept in the JSON and the workbook
    assert "It covers 1 November 2026 to 1 November 2026" in text
    assert "The plan gave" not in text and "You used 0 hours of help." in text
    assert "said no" not in text and "saved" not in text


def test_the_plan_years_last_month_says_what_is_left_and_what_happens_to_it(api, today):
    rated(api)
    pid = api.person("Ana", opened_on="2026-10-01")
    api.plan(pid, effective_from="2025-11-01")  # the plan year ends on 31 October 2026
    api.receipt(pid, "9000.00", "2026-10-01")
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    s, text = statement(api, pid, "2026-10")
    assert s["forecast"]["plan_year_end"] == "2026-10-31"
    assert "If you keep using money" not in text and "you will have about" not in text
    left = f"£{float(s['closing_balance']):,.2f}"
    assert f"Your plan year ends on 31 October 2026. You have {left} left at its end." in text
    assert ("Your fund may keep 4 weeks of your support money, £2,000.00, so bills that come late can be paid. "
            "Money on top of that is called a surplus.") in text
    surplus = f"£{float(s['surplus_above_threshold']):,.2f}"
    assert (f"Your surplus is {surplus}. Under your council's rules they may ask for it back. If they do, we will "
            "tell you at least 28 days before. The rest stays in your fund for next year.") in text


def test_only_what_happened_is_said_with_items_bought_who_paid_in_and_the_fee_as_a_rate(api, today):
    rated(api)
    pid = api.person("Ana", opened_on="2026-10-01")
    api.plan(pid, effective_from="2026-10-01")
    api.receipt(pid, "5000.00", "2026-10-01")
    api.receipt(pid, "80.00", "2026-10-02", source="client_contribution")
    for d, q in [(5 + i, "24.00") for i in range(7)] + [(12, "20.57")]:  # 188.57 h, a day at most each
        api.post(f"/api/v1/people/{pid}/deliveries", {"date": f"2026-10-{d:02d}", "start_time": "00:00",
                                                      "service": "day_support", "quantity": q,
                                                      "status": "delivered", "domain": "personal_care"})
    for i, (payee, what) in enumerate([("Leisure centre", "Swim pass."), ("Art shop", "Paints")]):
        api.post(f"/api/v1/people/{pid}/spend", {"date": f"2026-10-1{i}", "amount": "12.50", "payee": payee,
                                                 "category": "leisure", "domain": "health", "description": what})
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    s, text = statement(api, pid, "2026-10")
    assert s["hours"]["delivered"] == "188.57" and "You used 188 hours 34 minutes of help." in text
    assert "It came from: • the council: £5,000.00 • your own part: £80.00" in text
    assert "Things bought: £25.00. We paid this to others for you: • Leisure centre, Swim pass: £12.50 " \
           "• Art shop, Paints: £12.50" in text
    assert "It is 10p in every £1 paid in." in text
    for nothing in ("said no to", "not planned ahead", "saved", "could not give", "Shared support:",
                    "Paid back", "rainy day", "..", "0 hours"):
        assert nothing not in text, nothing
    assert grade("\n".join(t for _, t in letter(s))) <= 5


def test_many_things_bought_are_grouped_by_kind(api, today):
    pid = api.person("Ana", opened_on="2026-10-01")
    api.plan(pid, effective_from="2026-10-01")
    api.receipt(pid, "2000.00", "2026-10-01")
    for i in range(7):
        api.post(f"/api/v1/people/{pid}/spend", {"date": "2026-10-12", "amount": "10.00", "payee": f"Shop {i}",
                                                 "category": "leisure" if i < 4 else "travel", "domain": "health",
                                                 "description": "a thing"})
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    _, text = statement(api, pid, "2026-10")
    assert "• leisure: 4 things, £40.00 • travel: 3 things, £30.00" in text and "Shop 0" not in text


def test_a_correction_reason_ending_in_a_full_stop_prints_one(api, today):
    pid = api.person("Ana", opened_on="2026-10-01")
    api.plan(pid, effective_from="2026-10-01")
    api.receipt(pid, "2000.00", "2026-10-01")
    today["day"] = date(2026, 11, 3)
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    api.post(f"/api/v1/people/{pid}/statements/2026-10/corrections", {"reason": "wrong date, 15 October."})
    _, text = statement(api, pid, "2026-10")
    assert "We changed it because: wrong date, 15 October. The money" in text and ".." not in text


def test_hours_are_said_in_hours_and_minutes():
    assert [hours(h) for h in ("188.57", "1.00", "0.50", "0.00", "2.25", "0.017")] == [
        "188 hours 34 minutes", "1 hour", "30 minutes", "0 hours", "2 hours 15 minutes", "1 minute"]


def test_the_surplus_letter_explains_the_threshold_in_the_statements_words():
    blocks = notice_blocks({"name": "Ana", "written_on": "2026-11-20", "date": "2026-12-18", "amount": "10.00",
                            "available": "3000.00", "bank_value": "0.00", "threshold": "2000.00",
                            "threshold_weeks": 4, "surplus": "1000.00"})
    text = " ".join(t for _, t in blocks)
    assert ("Your fund may keep 4 weeks of your support money, £2,000.00, so bills that come late can be paid. "
            "Money on top of that is called a surplus.") in text and "rainy" not in text


def test_the_surplus_letter_says_which_payment_came_in_since_the_statement(api, today):
    pid = api.person("Ana", opened_on="2026-10-01")
    api.plan(pid, effective_from="2026-10-01", annual_budget="2600.00")
    api.receipt(pid, "1000.00", "2026-10-01")
    today["day"] = date(2026, 11, 3)
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    api.receipt(pid, "500.00", "2026-11-02")
    r = api.call("GET", f"/api/v1/people/{pid}/surplus-notice")
    assert r.status_code == 200
    text = pdf_text(r.data)
    assert ("Your statement for October 2026 showed £900.00. Since then this came in: £500.00 from the council "
            "on 2 November 2026.") in text and "On 3 November 2026 your fund had £1,350.00." in text
