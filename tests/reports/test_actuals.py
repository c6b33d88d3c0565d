"""A council's monthly actuals: per person, hours against the plan and their cost, shared
support, and the empty places the council funds as their own row; CSV, XLSX and the CLI."""
import csv
import io
from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook

from isf_ledger import clock
from isf_ledger.reports.actuals import COLUMNS


def deliver(api, pid, day, qty, status, **extra):
    api.post(f"/api/v1/people/{pid}/deliveries", {"date": day, "start_time": "10:00", "service": "day_support",
                                                  "quantity": qty, "status": status, "domain": "health", **extra})


@pytest.fixture
def eastmere(api, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 10))
    council = api.post("/api/v1/councils", {"name": "Eastmere", "voids_funded_by_council": True})["id"]
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    ana = api.person("Ana", council="Eastmere", ref="EM-001")
    bo = api.person("Bo", council="Eastmere", ref="EM-002")
    api.person("Cy", council="Northshire", ref="NS-001")
    for pid in (ana, bo):
        api.plan(pid)  # 7 h a week of day support: 31.00 h planned in October
    api.receipt(ana)
    # domain.md's worked example.
    deliver(api, ana, "2026-10-05", "10.00", "delivered")
    deliver(api, ana, "2026-10-06", "2.00", "refused")
    deliver(api, ana, "2026-10-07", "1.50", "unplanned")
    deliver(api, ana, "2026-10-20", "4.00", "banked", notice_given_at="2026-10-15T09:00:00")
    deliver(api, ana, "2026-10-27", "3.00", "bank_used")
    deliver(api, ana, "2026-10-28", "1.00", "provider_cancelled")
    arr = api.post("/api/v1/shared-arrangements", {"name": "Sleep-in, 12 Rowan Close", "capacity": 3, "method": "equal",
                                                   "per_night": "62.40", "effective_from": "2026-10-01",
                                                   "council": "Eastmere"})["id"]
    api.post(f"/api/v1/shared-arrangements/{arr}/members", {"person_id": ana, "weight": "1", "from": "2026-10-01",
                                                            "agreed_on": "2026-09-01", "recorded_by": "Sam"})
    api.post(f"/api/v1/shared-arrangements/{arr}/charges/2026-10", {})
    return {"council": council, "ana": ana, "bo": bo, "arr": arr}


def test_actuals_csv_figures(api, eastmere):
    r = api.call("GET", f"/api/v1/councils/{eastmere['council']}/actuals/2026-10?format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [row["row_type"] for row in rows] == ["person", "person", "council_funded_voids"]
    ana, bo, voids = rows
    assert {k: ana[k] for k in ("month", "period_start", "period_end", "council", "council_reference", "name",
                                "planned_hours", "delivered_hours", "refused_hours", "unplanned_hours", "banked_hours",
                                "bank_used_hours", "provider_cancelled_hours", "delivered_cost", "refused_cost",
                                "unplanned_cost", "bank_used_cost", "support_cost", "shared_support",
                                "council_funded_voids", "total_cost")} == {
        "month": "2026-10", "period_start": "2026-10-01", "period_end": "2026-10-31", "council": "Eastmere",
        "council_reference": "EM-001", "name": "Ana", "planned_hours": "31.00", "delivered_hours": "10.00",
        "refused_hours": "2.00", "unplanned_hours": "1.50", "banked_hours": "4.00", "bank_used_hours": "3.00",
        "provider_cancelled_hours": "1.00", "delivered_cost": "185.00", "refused_cost": "37.00",
        "unplanned_cost": "27.75", "bank_used_cost": "55.50", "support_cost": "305.25", "shared_support": "644.80",
        "council_funded_voids": "0.00", "total_cost": "950.05"}
    assert (bo["council_reference"], bo["planned_hours"], bo["delivered_hours"], bo["total_cost"]) == \
        ("EM-002", "31.00", "0.00", "0.00")
    assert (voids["council_funded_voids"], voids["total_cost"], voids["person_id"]) == ("1289.60", "1289.60", "")
    assert "Rowan Close" in voids["name"]


def test_actuals_xlsx_and_cli(api, eastmere, tmp_path):
    r = api.call("GET", f"/api/v1/councils/{eastmere['council']}/actuals/2026-10?format=xlsx")
    ws = load_workbook(BytesIO(r.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("Row", "Month", "Period start") and "Person id" in rows[0]
    head = COLUMNS  # the CSV's columns, in the same order, with headings in words
    ana = dict(zip(head, rows[1]))
    assert ana["person_id"] == eastmere["ana"] and str(ana["support_cost"]) == "305.25"
    assert str(dict(zip(head, rows[3]))["council_funded_voids"]) == "1289.6"
    out = tmp_path / "a.csv"
    result = api.runner.invoke(args=["actuals", "eastmere", "2026-10", "--format", "csv", "--output", str(out)])
    assert result.exit_code == 0, result.output
    api_csv = api.call("GET", f"/api/v1/councils/{eastmere['council']}/actuals/2026-10").data
    assert out.read_bytes() == api_csv
    result = api.runner.invoke(args=["actuals", "Nowhere", "2026-10", "--output", str(out)])
    assert result.exit_code != 0 and "no council" in result.output


def test_the_councils_own_auditors_and_finance_only(api, eastmere):
    path = f"/api/v1/councils/{eastmere['council']}/actuals/2026-10"
    assert api.call("GET", path, token=api.user("auditor", "--council", "Eastmere")).status_code == 200
    assert api.call("GET", path, token=api.user("auditor", "--council", "Northshire")).status_code == 403
    assert api.call("GET", path, token=api.user("broker")).status_code == 403
    assert api.call("GET", f"/api/v1/councils/{eastmere['council']}/actuals/2026-13").status_code == 422
