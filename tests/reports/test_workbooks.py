"""Workbooks a finance person can use as they come (issue 23 item 5): the statement's, the review
pack, the dashboard, the council's actuals and a month's shared charges, opened with openpyxl and checked cell by cell:
dates and times are real dates in date formats (times to the second), every number has a number
format (money in £) but counts and ids, columns are wide enough for the numbers and dates they
show (no ###), headings and values in words (no snake_case), tables have a frozen header row that
prints on every page and a filter, and every sheet prints fitted to the page's width. A closed
fund is marked on the dashboard and owes nothing. Where LibreOffice is installed, each workbook
is also converted headless (skipped with a message where it is not)."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest

from isf_ledger import clock
from isf_ledger.sheets import MAX_WIDTH, value_width

from figures_book import MONTH, books

SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
# Numbers that are counts or ids, shown as they are.
PLAIN = {"Transaction", "Reverses", "Reversed by", "Person", "Person id", "Days", "Places", "Plan version",
         "Weight", "Weight x days", "All weight x days", "Of all weight x days", "Funds", "Threshold weeks",
         "Statement"}

# Text as the ledger recorded it (a line's own description): shown as it is.
AS_RECORDED = {"Description"}


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 5))


def check(data: bytes, tables: set[str], header_row: int = 1) -> dict[str, list[tuple]]:
    """Every sheet of the workbook checked (a table's header on `header_row`); its values
    returned by sheet."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    out = {}
    for ws in wb.worksheets:
        where = ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, where
        assert ws.sheet_properties.pageSetUpPr.fitToPage, where
        h = header_row
        header = [c.value for c in ws[h]]
        if where in tables:
            assert ws.freeze_panes == f"A{h + 1}", where
            assert ws.auto_filter.ref and ws.auto_filter.ref.startswith(f"A{h}:"), where
            assert ws.print_title_rows in (f"{h}:{h}", f"${h}:${h}"), (where, ws.print_title_rows)
            assert all(isinstance(h, str) and h and "_" not in h for h in header), (where, header)
        for row in ws.iter_rows(min_row=1):
            label = row[0].value
            for c in row:
                in_table = where in tables and c.row > h and c.column <= len(header)
                v, name = c.value, header[c.column - 1] if in_table else label
                at = f"{where}!{c.coordinate}"
                if v is None or c.data_type == "f":
                    continue
                width = ws.column_dimensions[c.column_letter].width
                if isinstance(v, (datetime, date)):
                    assert "yy" in c.number_format, (at, c.number_format)
                    if isinstance(v, datetime) and (v.hour, v.minute, v.second) != (0, 0, 0):
                        assert v.microsecond == 0 and "hh" in c.number_format, (at, v)
                    assert width >= 10, (at, width)
                elif isinstance(v, bool):
                    continue
                elif isinstance(v, (int, float)):
                    if name not in PLAIN:
                        assert c.number_format != "General", (at, name, v)
                    assert width >= min(value_width(Decimal(str(v))), MAX_WIDTH), (at, width, v)
                elif isinstance(v, str) and name not in AS_RECORDED:
                    assert not SNAKE.search(v), (at, v)
                    assert not ISO_DAY.search(v), (at, v)
                    if "£" in c.number_format or c.number_format == "General":
                        assert not re.fullmatch(r"-?\d+(\.\d+)?", v), (at, "a number as text", v)
        out[where] = [tuple(r) for r in ws.iter_rows(values_only=True)]
    return out


def converts(data: bytes, tmp_path, name: str) -> None:
    """LibreOffice opens the workbook headless and writes it again."""
    source = tmp_path / f"{name}.xlsx"
    source.write_bytes(data)
    done = subprocess.run([shutil.which("soffice") or shutil.which("libreoffice"), "--headless", "--convert-to",
                           "ods", "--outdir", str(tmp_path), str(source)], capture_output=True, timeout=120)
    assert done.returncode == 0 and (tmp_path / f"{name}.ods").exists(), done.stderr


def workbooks(api):
    ana, bo = books(api)
    api.post(f"/api/v1/people/{bo}/close", {"date": "2026-12-03", "destination": "transfer", "reference": "T-1",
                                            "reason": "moved_provider"})
    [council] = [c for c in api.get("/api/v1/councils") if c["name"] == "Northshire"]
    get = lambda path: api.call("GET", path).data  # noqa: E731
    return ana, bo, {
        "statement": get(f"/api/v1/people/{ana}/statements/{MONTH}?format=xlsx"),
        "final statement": get(f"/api/v1/people/{bo}/statements/2026-12?format=xlsx"),
        "review pack": get(f"/api/v1/people/{ana}/review-pack?from=2026-10-01&to=2026-11-30"),
        "dashboard": get("/api/v1/dashboard?as_of=2026-12-05&format=xlsx"),
        "actuals": get(f"/api/v1/councils/{council['id']}/actuals/{MONTH}?format=xlsx"),
        "shared charges": get(f"/api/v1/shared-arrangements/1/charges/{MONTH}?format=xlsx"),
    }


def test_every_workbook_is_ready_to_use(api, today):
    ana, bo, books_ = workbooks(api)
    statement = check(books_["statement"], {"Lines"})
    figures = {r[0]: r[1] for r in statement["Statement"] if r[0]}
    assert isinstance(figures["Issued at (UK time)"], datetime)
    assert {r[5] for r in statement["Lines"][1:]} <= {"Money in", "Management fee", "Support", "Shared support",
                                                      "Bought for the person", "Contingency set aside"}
    final = check(books_["final statement"], {"Lines"})
    assert "Paid out when the fund closed" in {r[5] for r in final["Lines"][1:]}
    pack = check(books_["review pack"], {"Months", "Ledger", "Plan vs actual", "Hours by month", "Hours by week",
                                         "Shared support", "Contingency", "Spend"})
    assert len(pack["Ledger"]) - 1 == len({r[0] for r in pack["Ledger"][1:]})  # a row a transaction
    summary = {r[0]: r[1] for r in pack["Summary"] if r[0]}
    assert (summary["Period from"], summary["Period to"]) == (datetime(2026, 10, 1), datetime(2026, 11, 30))
    dashboard = check(books_["dashboard"], {"Funds"})
    head = dashboard["Funds"][0]
    rows = {r[head.index("Person")]: dict(zip(head, r)) for r in dashboard["Funds"][1:]}
    closed = rows[bo]
    assert (closed["Closed on"], closed["Arrears"], closed["Balance"]) == (datetime(2026, 12, 3), 0, 0)
    assert rows[ana]["Closed on"] is None and "arrears" in rows[ana]["Alerts"]
    actuals = check(books_["actuals"], {f"Actuals {MONTH}"})
    assert {r[0] for r in actuals[f"Actuals {MONTH}"][1:]} == {"Person"}
    shared = openpyxl.load_workbook(io.BytesIO(books_["shared charges"]))
    check(books_["shared charges"], set(shared.sheetnames), header_row=5)


@pytest.mark.skipif(not (shutil.which("soffice") or shutil.which("libreoffice")),
                    reason="LibreOffice is not installed here: the workbooks were not converted headless")
def test_libreoffice_opens_every_workbook(api, today, tmp_path):
    for name, data in workbooks(api)[2].items():
        converts(data, tmp_path, name.replace(" ", "-"))
