"""Hostile and broken uploads to POST /api/v1/imports/deliveries (issue 21 items 3 and 11): each
is a 422 found in bounded work, before any lock, with a bounded error list; never a 500."""
from __future__ import annotations

import io
import sys
import zipfile

import openpyxl
import pytest

from isf_ledger.accounts import imports
from isf_ledger.db import db

from test_imports import GOOD, HEADER, ana, csv_file, imported, refused, upload, xlsx  # noqa: F401


def lines_run(fn) -> int:
    """How many lines of isf_ledger/accounts/imports.py `fn()` runs: the import's own work."""
    count = 0
    target = imports.__file__

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code.co_filename == target else None

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def test_a_30000_column_header_is_refused_in_bounded_work_holding_nothing(api, ana, monkeypatch):
    during = []
    columns = imports._columns

    def watched(rows):  # whether a transaction (so a lock: SQLite's write lock, an advisory lock) is held
        during.append(db.session().in_transaction())
        return columns(rows)

    monkeypatch.setattr(imports, "_columns", watched)
    answers = {}
    work = {n: lines_run(lambda n=n: answers.__setitem__(n, refused(api, ("person," * n).encode())))
            for n in (300, 30_000)}
    assert answers[30_000] == [{"row": 1, "column": None, "reason": "the header has 30,000 columns: at most 100"}]
    assert work[30_000] <= work[300] + 10 and work[30_000] < 300, work  # not one step per column
    assert during == [False, False]
    # 100 distinct unknown columns: each named once, the header checked once per cell.
    header = HEADER + "," + ",".join(f"x{i}" for i in range(91))
    errors = refused(api, csv_file(GOOD[0] + ",1" * 91, header=header))
    assert [e["column"] for e in errors] == [f"x{i}" for i in range(91)]
    assert refused(api, csv_file(header=HEADER + ",person,person")) == [
        {"row": 1, "column": "person", "reason": "given more than once"}]


def test_the_error_list_is_bounded_with_a_count(api, ana):
    bad = GOOD[0].replace("10.00", "ten").replace(",V-1", "")
    r = upload(api, csv_file(*[bad] * 2500))
    assert r.status_code == 422
    body = r.get_json()["error"]
    details = body["details"]
    assert (len(details["errors"]), details["errors_listed"], details["error_count"]) == (1000, 1000, 2500)
    assert [e["row"] for e in details["errors"]] == list(range(2, 1002))
    assert body["message"] == "nothing was imported: 2500 bad row(s)"
    assert len(r.data) < 200_000


def test_a_cell_too_long_is_a_422_naming_its_row_and_column(api, ana):
    long = "x" * (imports.MAX_CELL_BYTES + 1)
    assert refused(api, csv_file(GOOD[0], GOOD[1].replace("V-2", long))) == [
        {"row": 3, "column": "external_id", "reason": "longer than 131,072 bytes"}]
    two_bytes = "é" * (imports.MAX_CELL_BYTES // 2 + 1)  # 65,537 characters, 131,074 bytes
    errors = refused(api, csv_file(GOOD[0].replace("personal_care", two_bytes)))
    assert errors == [{"row": 2, "column": "domain", "reason": "longer than 131,072 bytes"}]
    huge = "y" * (2 << 20)  # past what csv reads in one cell (read as the command does: a 2 MB upload spools)
    with pytest.raises(imports.ImportRefused) as e:
        imports.read_file(csv_file(GOOD[0], GOOD[1].replace("V-2", huge)))
    assert e.value.details["errors"] == [{"row": 3, "column": None,
                                          "reason": "a cell longer than 131,072 bytes, or a quote never closed"}]
    assert api.get(f"/api/v1/people/{ana}/deliveries") == []


def test_too_many_rows_is_a_422(api, ana, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 4)
    errors = refused(api, csv_file(*GOOD))
    assert errors == [{"row": 6, "column": None, "reason": "more than 4 rows: split the file"}]
    assert summary_written(imported(api, csv_file(*GOOD[:4]))) == 4


def summary_written(result):
    return result["written"]


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in parts.items():
            z.writestr(name, body)
    return out.getvalue()


def _parts(data: bytes) -> dict[str, bytes]:
    z = zipfile.ZipFile(io.BytesIO(data))
    return {name: z.read(name) for name in z.namelist()}


def test_an_xlsx_bomb_is_refused_from_its_zip_directory(api, ana, monkeypatch):
    def never(*a, **kw):
        raise AssertionError("openpyxl was asked to parse a bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    parts = _parts(xlsx([HEADER.split(","), GOOD[0].split(",")]))
    strings = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               + b"<si/>" * (imports.MAX_SHARED_STRINGS + 1) + b"</sst>")
    types = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                     b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    bomb = _zip({**parts, "[Content_Types].xml": types, "xl/sharedStrings.xml": strings})
    assert len(bomb) < 200_000
    assert refused(api, bomb, "roster.xlsx") == [
        {"row": None, "column": None, "reason": "the XLSX file has more than 2,000,000 shared strings"}]
    spaces = _zip({**parts, "xl/worksheets/sheet1.xml": b" " * (20 << 20) + parts["xl/worksheets/sheet1.xml"]})
    errors = refused(api, spaces, "roster.xlsx")
    assert len(errors) == 1 and errors[0]["reason"].startswith("the XLSX file unzips to 2")
    many = _zip({**parts, **{f"xl/media/{i}.bin": b"" for i in range(imports.MAX_ZIP_MEMBERS)}})
    assert "parts: at most" in refused(api, many, "roster.xlsx")[0]["reason"]


def test_an_xlsx_without_a_worksheet_or_with_broken_sheet_xml(api, ana):
    parts = _parts(xlsx([HEADER.split(","), GOOD[0].split(",")]))
    no_sheet = dict(parts)
    no_sheet["xl/workbook.xml"] = parts["xl/workbook.xml"].split(b"<sheets>")[0] + b"<sheets/>" + \
        parts["xl/workbook.xml"].split(b"</sheets>")[1]
    assert refused(api, _zip(no_sheet), "roster.xlsx") == [
        {"row": None, "column": None, "reason": "the XLSX file has no worksheet: the first sheet is imported"}]
    sheet = parts["xl/worksheets/sheet1.xml"]
    broken = {**parts, "xl/worksheets/sheet1.xml": sheet[:len(sheet) // 2]}
    assert refused(api, _zip(broken), "roster.xlsx") == [
        {"row": None, "column": None, "reason": "not a spreadsheet: an unreadable XLSX file: its first sheet's XML "
                                                "is broken"}]
    bad_ref = {**parts, "xl/worksheets/sheet1.xml": sheet.replace(b'r="A2"', b'r="2A"')}
    assert refused(api, _zip(bad_ref), "roster.xlsx")[0]["row"] is None
    assert api.get(f"/api/v1/people/{ana}/deliveries") == []


@pytest.mark.parametrize("digits", ["\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079",  # superscript
                                    "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"])  # Arabic-Indic
def test_only_ascii_digits_are_a_person_id(api, ana, digits):
    other = str(ana).translate(str.maketrans("0123456789", digits))
    errors = refused(api, csv_file(GOOD[0].replace("NS-1", other, 1)))
    assert errors == [{"row": 2, "column": "person", "reason": "no person has this council reference, and an id is "
                                                               "written in the digits 0-9"}]
    assert imported(api, csv_file(GOOD[0].replace("NS-1", str(ana), 1)))["written"] == 1


def test_ids_in_paths_and_times_are_ascii_digits_only(api, ana):
    for digits in ("\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669", "０１２３４５６７８９"):
        other = str(ana).translate(str.maketrans("0123456789", digits))
        assert api.call("GET", f"/api/v1/people/{other}/balance").status_code == 404
    assert api.get(f"/api/v1/people/{ana}/balance")["available"] == "1800.00"
    r = api.call("POST", f"/api/v1/people/{ana}/deliveries", {
        "date": "2026-10-05", "start_time": "1\u0660:\u0660\u0660", "service": "day_support", "quantity": "1.00",
        "status": "delivered", "domain": "personal_care"})
    assert r.status_code == 422 and list(r.get_json()["error"]["details"]) == ["start_time"]
    assert api.get(f"/api/v1/people/{ana}/deliveries") == []


def test_xlsx_cells_of_any_type_in_the_person_and_visit_columns(api, ana):
    header = HEADER.split(",")
    row = ["NS-1", "2026-10-05", "10:00", "day_support", "1.00", "delivered", None, "personal_care", "V-1"]
    errors = refused(api, xlsx([header, [True, *row[1:]], [*row[:-1], False]]), "roster.xlsx")
    assert errors == [{"row": 2, "column": "person", "reason": "no person has this id or council reference"}]
    assert imported(api, xlsx([header, [float(ana), *row[1:]]]), "roster.xlsx")["written"] == 1
