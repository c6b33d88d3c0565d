"""One meaning for each figure (domain.md; issue 23 item 4): one person and one month read through
every document and endpoint that shows them, finding the same figures, exact.

Ana's November 2026: council and own-contribution receipts (one council instalment missed),
support given, refused, unplanned, banked and drawn from the bank, a visit the provider cancelled,
a shared sleep-in, a thing bought and contingency set aside. Read through her statement (JSON,
the PDF's text, the XLSX), the review pack (its read-model and its XLSX), the dashboard's row,
/balance, /arrears, /hours, /forecast and the council's actuals (CSV and XLSX). Then Bo's fund,
closed on 3 December: its final statement's arrears are /arrears on the close date and the
dashboard's, and after the close it owes and is owed nothing everywhere.
"""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from pypdf import PdfReader

from isf_ledger import clock
from isf_ledger.db import db
from isf_ledger.reports.render_pdf import hours as in_hours, pounds
from isf_ledger.reports.review_pack import review_pack

from figures_book import MONTH, books

LAST = "2026-11-30"


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 5))


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())


def cells(data: bytes, sheet: str) -> list[tuple]:
    return list(openpyxl.load_workbook(io.BytesIO(data))[sheet].iter_rows(values_only=True))


def d(value) -> Decimal:
    """A figure read from JSON text or a workbook cell, exact."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_one_person_and_month_read_everywhere_say_the_same(api, today):
    ana, _ = books(api)
    s = api.get(f"/api/v1/people/{ana}/statements/{MONTH}")
    h = s["hours"]
    arrears = d(s["arrears"]["council"]["arrears"]) + d(s["arrears"]["person"]["arrears"])
    used_in_year = s["plan_year"]["used_to_date"]

    # The figures themselves, worked by hand: November's fee is nothing (no money came); support
    # 6 + 2 + 1.5 + 3 hours at 20.00 (the reversed session in nothing); the sleep-in's 360.00
    # for November over three places: 120.00 hers, the empty two the provider's.
    assert (s["receipts_total"], s["management_fee_total"], s["support_charged_total"], s["shared_support_total"],
            s["spend_total"]) == ("0.00", "0.00", "250.00", "120.00", "45.00")
    assert (h["delivered"], h["refused"], h["unplanned"], h["banked"], h["bank_used"], h["provider_cancelled"],
            h["bank_balance"], h["used"]) == ("6.00", "2.00", "1.50", "4.00", "3.00", "2.00", "1.00", "9.00")
    # The plan year's use: both fees (192.00 + 8.00 + 192.00), October's 200.00 of support and
    # 124.00 of sleep-in, November's 250.00 + 120.00 + 45.00. Not the contingency set aside.
    assert used_in_year == "1131.00"
    assert s["arrears"]["council"] == {"due": "5760.00", "received": "3840.00", "arrears": "1920.00"}
    assert s["arrears"]["person"]["arrears"] == "160.00" and s["arrears"]["total"] == "2080.00"

    # The statement as the person reads it.
    pdf = api.call("GET", f"/api/v1/people/{ana}/statements/{MONTH}?format=pdf")
    text = pdf_text(pdf.data)
    assert f"You used {in_hours(h['used'])} of help." in text
    assert f"You have {pounds(s['closing_balance'])} at the end of" in text
    assert f"{pounds(used_in_year)} was used" in text
    assert f"The council has not yet paid {pounds(s['arrears']['council']['arrears'])}" in text
    # The statement's workbook.
    book = cells(api.call("GET", f"/api/v1/people/{ana}/statements/{MONTH}?format=xlsx").data, "Statement")
    figure = {r[0]: r[1] for r in book if r[0]}
    assert d(figure["Closing balance"]) == d(s["closing_balance"])
    assert d(figure["Council arrears"]) == d(s["arrears"]["council"]["arrears"])
    assert d(figure["Surplus above threshold"]) == d(s["surplus_above_threshold"])
    assert d(figure["Contingency held at month end"]) == d(s["contingency"]["remaining"])
    [head] = [i for i, r in enumerate(book) if r[0] == "Hours"]
    in_book = dict(zip(book[head][1:], book[head + 1][1:]))
    assert d(in_book["Used"]) == d(h["used"]) and d(in_book["Refused"]) == d(h["refused"])

    # The review pack: its read-model and its workbook.
    with api.app.app_context():
        pack = review_pack(db.session, ana, date(2026, 11, 1), date(2026, 11, 30))
        db.session.remove()
    [month] = pack["months"]
    assert month["closing_balance"] == int(d(s["closing_balance"]) * 100)
    assert month["support_charged_total"] == int(d(s["support_charged_total"]) * 100)
    assert pack["position"]["plan_year"]["used_to_date"] == used_in_year
    [hours_month] = pack["hours"]["months"]
    assert hours_month["used"] == int(d(h["used"]) * 100)
    data = api.call("GET", f"/api/v1/people/{ana}/review-pack?from=2026-11-01&to=2026-11-30").data
    summary = {r[0]: r[1] for r in cells(data, "Summary") if r[0]}
    assert d(summary["Balance (available)"]) == d(s["closing_balance"])
    assert d(summary["Used in the plan year"]) == d(used_in_year)
    assert d(summary["Contingency held"]) == d(s["contingency"]["remaining"])
    assert d(summary["Arrears: council"]) + d(summary["Arrears: person's contribution"]) == arrears
    assert d(summary["Bank (hours)"]) == d(h["bank_balance"])
    by_month = cells(data, "Hours by month")
    used_col = by_month[0].index("Used")
    assert d(by_month[1][used_col]) == d(h["used"])
    assert d(by_month[1][by_month[0].index("Used against planned")]) == d(h["used"]) - d(h["planned"])
    ledger = cells(data, "Ledger")
    assert d(ledger[-1][ledger[0].index("Available after (GBP)")]) == d(s["closing_balance"])

    # The dashboard's row, /balance, /arrears, /hours and /forecast as at the month's last day.
    [row] = [f for f in api.get(f"/api/v1/dashboard?as_of={LAST}")["funds"] if f["person_id"] == ana]
    balance = api.get(f"/api/v1/people/{ana}/balance?as_of={LAST}")
    owed = api.get(f"/api/v1/people/{ana}/arrears?as_of={LAST}")
    [hours_row] = api.get(f"/api/v1/people/{ana}/hours?from=2026-11-01&to={LAST}")["months"]
    forecast = api.get(f"/api/v1/people/{ana}/forecast?as_of={LAST}")
    assert row["balance"] == balance["available"] == s["closing_balance"]
    assert row["contingency"] == balance["contingency"] == s["contingency"]["remaining"]
    assert row["bank_liability"] == balance["bank_value"] == s["surplus"]["bank_value"]
    assert balance["bank_hours"] == h["bank_balance"]
    assert row["surplus_above_threshold"] == s["surplus_above_threshold"]
    assert row["plan_year_used"] == forecast["used"] == used_in_year
    assert d(row["arrears"]) == arrears
    assert owed["council"] == s["arrears"]["council"] and owed["person"] == s["arrears"]["person"]
    assert {k: v for k, v in hours_row.items() if k != "month"} == h

    # The council's actuals for the month.
    [council] = [c for c in api.get("/api/v1/councils") if c["name"] == "Northshire"]
    got = api.call("GET", f"/api/v1/councils/{council['id']}/actuals/{MONTH}?format=csv")
    [mine] = [r for r in csv.DictReader(io.StringIO(got.data.decode())) if r["person_id"] == str(ana)]
    for k in ("planned", "delivered", "refused", "unplanned", "banked", "bank_used", "provider_cancelled"):
        assert mine[f"{k}_hours"] == h[k], k
    assert mine["support_cost"] == s["support_charged_total"]
    assert mine["shared_support"] == s["shared_support_total"]
    sheet = cells(api.call("GET", f"/api/v1/councils/{council['id']}/actuals/{MONTH}?format=xlsx").data,
                  f"Actuals {MONTH}")
    [xrow] = [r for r in sheet[1:] if r[sheet[0].index("Person id")] == ana]
    assert d(xrow[sheet[0].index("Support cost")]) == d(s["support_charged_total"])


def test_a_closed_funds_arrears_stop_at_its_close_date_everywhere(api, today):
    _, bo = books(api)
    api.post(f"/api/v1/people/{bo}/close", {"date": "2026-12-03", "destination": "transfer", "reference": "T-1",
                                            "reason": "moved_provider"})
    final = api.get(f"/api/v1/people/{bo}/statements/2026-12")
    on_close = api.get(f"/api/v1/people/{bo}/arrears?as_of=2026-12-03")
    [row] = [f for f in api.get("/api/v1/dashboard?as_of=2026-12-03")["funds"] if f["person_id"] == bo]
    # 1, 29 October and 26 November were due: two of the council's 1,920.00 and two of Bo's 80.00 missed.
    assert on_close["council"] == {"due": "5760.00", "received": "1920.00", "arrears": "3840.00"}
    assert final["arrears"]["council"] == on_close["council"] and final["arrears"]["person"] == on_close["person"]
    assert row["arrears"] == final["arrears"]["total"] == "4000.00"
    # After the close nothing is owed, however long after.
    for as_of in ("2026-12-04", "2027-03-31"):
        later = api.get(f"/api/v1/people/{bo}/arrears?as_of={as_of}")
        assert (later["council"]["arrears"], later["person"]["arrears"]) == ("0.00", "0.00")
        [row] = [f for f in api.get(f"/api/v1/dashboard?as_of={as_of}")["funds"] if f["person_id"] == bo]
        assert (row["closed_on"], row["arrears"], row["balance"]) == ("2026-12-03", "0.00", "0.00")
        assert "arrears" not in row["alerts"]
