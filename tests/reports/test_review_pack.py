"""The council review pack: its figures equal the issued statements' for the same months, and
the workbook opens with every sheet holding them (issue 16 item 1)."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from flask import g
import openpyxl
import pytest
from sqlalchemy import event

from isf_ledger import clock
from isf_ledger.db import db
from isf_ledger.reports.review_pack import review_pack

MONTHS = ("2026-10", "2026-11", "2026-12")
ORDER = ("receipts_total", "management_fee_total", "support_charged_total", "shared_support_total", "spend_total",
         "clawback_total")


@pytest.fixture
def today(monkeypatch):
    box = {"day": date(2027, 1, 5)}
    monkeypatch.setattr(clock, "today", lambda: box["day"])
    return box


def deliver(api, pid, day, hours, status="delivered", domain="personal_care"):
    api.post(f"/api/v1/people/{pid}/deliveries", {"date": day, "start_time": "10:00", "service": "day_support",
                                                  "quantity": hours, "status": status, "domain": domain})


def a_quarter(api):
    """Ana's October to December: council payments, support in two domains, a refusal, a shared
    sleep-in with Bo, spend, contingency set aside and drawn, and a clawback."""
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "20.00",
                               "effective_from": "2026-01-01"})
    ana, bo = api.person("Ana"), api.person("Bo")
    lines = [{"domain": "personal_care", "outcome": "Ana washes and dresses with help", "annual_amount": "12000.00"},
             {"domain": "work_leisure_learning", "outcome": "Ana goes to drama class", "annual_amount": "4000.00"},
             {"domain": "staying_safe", "outcome": "Someone is there at night", "annual_amount": "6000.00"}]
    for pid in (ana, bo):
        api.plan(pid, effective_from="2026-10-01", contingency_amount="1000.00", budget_lines=lines,
                 planned_weekly_hours={"day_support": "10.00"})
    for day in ("2026-10-01", "2026-10-29", "2026-11-26", "2026-12-24"):
        api.receipt(ana, "2000.00", day)
        api.receipt(bo, "2000.00", day)
    arr = api.post("/api/v1/shared-arrangements", {"name": "Sleep-in", "capacity": 3, "method": "equal",
                                                   "per_night": "10.00", "effective_from": "2026-10-01",
                                                   "domain": "staying_safe"})
    for pid in (ana, bo):
        api.post(f"/api/v1/shared-arrangements/{arr['id']}/members", {
            "person_id": pid, "weight": "1", "from": "2026-10-01", "agreed_on": "2026-09-01",
            "recorded_by": "broker"})
    deliver(api, ana, "2026-10-06", "10.00")
    deliver(api, ana, "2026-10-08", "2.50", status="refused")
    deliver(api, ana, "2026-11-10", "12.00")
    deliver(api, ana, "2026-11-12", "3.00", domain="work_leisure_learning")
    deliver(api, ana, "2026-12-15", "8.00")
    api.post(f"/api/v1/people/{ana}/spend", {"date": "2026-11-03", "amount": "45.00", "payee": "Drama Club",
                                             "category": "classes", "domain": "work_leisure_learning",
                                             "description": "Autumn term", "invoice_reference": "DC-1"})
    api.post(f"/api/v1/people/{ana}/contingency/set-aside", {"date": "2026-10-02", "amount": "500.00"})
    api.post(f"/api/v1/people/{ana}/contingency/draws", {"date": "2026-12-10", "amount": "120.00",
                                                         "reason": "extra support while mum was ill",
                                                         "authorised_by": "Sam, team leader"})
    api.post(f"/api/v1/people/{ana}/clawbacks", {"date": "2026-12-20", "amount": "100.00",
                                                 "notice_given_on": "2026-11-20", "reference": "NS-1"})
    return ana


def issue_all(api):
    for m in MONTHS:
        api.post(f"/api/v1/statements/{m}/issue", {}, expect=200)


def test_the_pack_equals_the_issued_statements(api, today):
    ana = a_quarter(api)
    issue_all(api)
    statements = [api.get(f"/api/v1/people/{ana}/statements/{m}") for m in MONTHS]
    with api.app.app_context():
        pack = review_pack(db.session, ana, date(2026, 10, 1), date(2026, 12, 31))
    for row, s in zip(pack["months"], statements):
        assert row["month"] == s["month"]
        for h in ("opening_balance", *ORDER, "closing_balance"):
            assert f"{Decimal(row[h]) / 100:.2f}" == s[h], (s["month"], h)
        assert f"{Decimal(row['contingency_drawn']) / 100:.2f}" == s["contingency"]["drawn"]
        assert f"{Decimal(row['contingency_set_aside']) / 100:.2f}" == s["contingency"]["set_aside"]
        assert f"{Decimal(row['contingency_remaining']) / 100:.2f}" == s["contingency"]["remaining"]
    # Exact figures: four receipts of £2,000, fee £800; support 10 + 2.5 + 12 + 3 + 8 h at £20.
    assert {h: pack["totals"][h] for h in ORDER} == {
        "receipts_total": 800000, "management_fee_total": 80000, "support_charged_total": 71000,
        "shared_support_total": sum(int(Decimal(s["shared_support_total"]) * 100) for s in statements),
        "spend_total": 4500, "clawback_total": 10000}
    # Support by domain adds up to support charged.
    support = {d: v for (h, d), v in pack["actual"].items() if h == "support_charged_total"}
    assert support == {"personal_care": 65000, "work_leisure_learning": 6000}
    assert pack["actual"][("spend_total", "work_leisure_learning")] == 4500
    assert pack["actual"][("shared_support_total", "staying_safe")] == pack["totals"]["shared_support_total"]


def test_the_workbook_opens_and_holds_the_figures(api, today):
    ana = a_quarter(api)
    issue_all(api)
    dec = api.get(f"/api/v1/people/{ana}/statements/2026-12")
    r = api.call("GET", f"/api/v1/people/{ana}/review-pack?from=2026-10-01&to=2026-12-31")
    assert r.status_code == 200, r.get_json()
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["Summary", "Months", "Ledger", "Plan vs actual", "Hours by month", "Hours by week",
                             "Shared support", "Contingency", "Spend", "Provider's share"]
    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(min_row=7, values_only=True) if row[0]}
    assert Decimal(str(summary["Received"])) == Decimal("8000.00")
    assert Decimal(str(summary["Balance (available)"])) == Decimal(dec["closing_balance"])
    assert Decimal(str(summary["Contingency held"])) == Decimal(dec["contingency"]["remaining"])
    assert Decimal(str(summary["Surplus above threshold"])) == Decimal(dec["surplus_above_threshold"])
    assert Decimal(str(summary["Arrears: council"])) == Decimal(dec["arrears"]["council"]["arrears"])
    assert Decimal(str(summary["Forecast at the plan year's end"])) == Decimal(dec["forecast"]["balance"])
    months = list(wb["Months"].iter_rows(min_row=2, values_only=True))
    assert [m[0] for m in months] == list(MONTHS)
    assert Decimal(str(months[-1][11])) == Decimal(dec["closing_balance"])
    ledger = list(wb["Ledger"].iter_rows(min_row=2, values_only=True))
    # One row a transaction, on the fund's side: what each pot gained (+) or lost (-), the balance after.
    assert len({x[0] for x in ledger}) == len(ledger)
    available = sum(Decimal(str(x[8])) for x in ledger)
    assert available == Decimal(dec["closing_balance"]) == Decimal(str(ledger[-1][10]))
    contingency = sum(Decimal(str(x[9])) for x in ledger)
    assert contingency == Decimal(dec["contingency"]["remaining"])
    assert wb["Plan vs actual"]._charts, "a chart of plan against actual"
    plan = {row[0]: row for row in wb["Plan vs actual"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert Decimal(str(plan["Personal care"][3])) == Decimal("650.00")  # domains in words
    assert Decimal(str(plan["Personal care"][2])) == Decimal("3024.66")  # 12,000 x 92 / 365
    weeks = list(wb["Hours by week"].iter_rows(min_row=2, values_only=True))
    assert weeks[0][0] == "2026-W40" and Decimal(str(weeks[1][2])) == Decimal("10.00")
    contingency = list(wb["Contingency"].iter_rows(min_row=2, values_only=True))
    assert contingency[1][3:5] == ("extra support while mum was ill", "Sam, team leader")
    spend = list(wb["Spend"].iter_rows(min_row=2, values_only=True))
    assert spend[0][1] == "Drama Club" and spend[0][7] == "none"
    share = {row[0]: row for row in wb["Provider's share"].iter_rows(min_row=2, values_only=True) if row[0]}
    provider = 80000 + 71000 + int(Decimal(str(share["To the provider: shared support"][1])) * 100)
    assert Decimal(str(share["The provider in all"][1])) * 100 == provider
    assert Decimal(str(share["Paid elsewhere: spend to third parties"][1])) == Decimal("45.00")
    assert Decimal(str(share["Paid elsewhere: spend to third parties"][2])) == (
        Decimal(4500 * 100) / (provider + 4500)).quantize(Decimal("0.01"))
    # The CLI writes the same workbook.
    out = api.app.instance_path + f"/pack-{ana}.xlsx"
    import os
    os.makedirs(api.app.instance_path, exist_ok=True)
    res = api.runner.invoke(args=["review-pack", str(ana), "--from", "2026-10-01", "--to", "2026-12-31",
                                  "--output", out])
    assert res.exit_code == 0, res.output
    assert openpyxl.load_workbook(out).sheetnames == wb.sheetnames
    os.remove(out)


def test_the_pack_reads_a_fixed_number_of_queries(api, today):
    ana = a_quarter(api)
    counts = []
    with api.app.app_context():
        engine = db.engine

        def count(*_):
            counts[-1] += 1
        event.listen(engine, "before_cursor_execute", count)
        try:
            for end in (date(2026, 10, 31), date(2026, 12, 31)):
                counts.append(0)
                g.pop("provider_details", None)  # the provider's details are read once a request: read them in each
                review_pack(db.session, ana, date(2026, 10, 1), end)
                db.session.rollback()
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert counts[0] == counts[1], counts


def test_who_may_read_the_pack(api, today):
    ana = a_quarter(api)
    other = api.person("Cy", council="Southshire")
    person = api.user("person", "--person", str(ana))
    auditor = api.user("auditor", "--council", "Northshire")
    path = "/api/v1/people/{}/review-pack?from=2026-10-01&to=2026-10-31"
    assert api.call("GET", path.format(ana), token=person).status_code == 200
    assert api.call("GET", path.format(ana), token=auditor).status_code == 200
    assert api.call("GET", path.format(other), token=auditor).status_code == 403
    assert api.call("GET", path.format(other), token=person).status_code == 403
    assert api.call("GET", "/api/v1/people/{}/review-pack?from=2026-11-01&to=2026-10-01".format(ana)).status_code == 422


def test_shared_support_shows_with_its_working(api, today):
    ana = a_quarter(api)
    issue_all(api)
    r = api.call("GET", f"/api/v1/people/{ana}/review-pack?from=2026-10-01&to=2026-12-31")
    rows = list(openpyxl.load_workbook(io.BytesIO(r.data))["Shared support"].iter_rows(min_row=2, values_only=True))
    # £10.00 a night, three places, two members: October 31 nights = £310.00, a third each, the odd penny to the lower person id (Ana).
    assert rows[0][:4] == ("2026-10", "Sleep-in", "Staying safe", 31)
    assert Decimal(str(rows[0][8])) == Decimal("310.00") and Decimal(str(rows[0][10])) == Decimal("103.34")
