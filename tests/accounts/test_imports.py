"""Rostering imports: CSV and XLSX files of deliveries applied whole or not at all (domain.md's API table)."""
from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime, time

import openpyxl
import pytest

HEADER = "person,date,start_time,service,quantity,status,notice_given_at,domain,external_id"
# domain.md's worked example: October's hours, as the rostering system exports them.
GOOD = [
    "NS-1,2026-10-05,10:00,day_support,10.00,delivered,,personal_care,V-1",
    "NS-1,2026-10-06,10:00,day_support,2.00,refused,,personal_care,V-2",
    "NS-1,2026-10-07,10:00,day_support,1.50,unplanned,,personal_care,V-3",
    "NS-1,2026-10-20,10:00,day_support,4.00,banked,2026-10-15T09:00,personal_care,V-4",
    "NS-1,2026-10-22,10:00,day_support,3.00,bank_used,,personal_care,V-5",
    "NS-1,2026-10-23,10:00,day_support,2.00,provider_cancelled,,personal_care,V-6",
]


def csv_file(*rows, header=HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


@pytest.fixture
def ana(api):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    api.post("/api/v1/rates", {"service": "waking_night", "unit": "night", "rate": "145.00",
                               "effective_from": "2026-01-01"})
    pid = api.person("Ana", ref="NS-1")
    api.plan(pid)
    api.receipt(pid, "2000.00", "2026-10-01")
    return pid


def upload(api, data: bytes, name="deliveries.csv", *, token=None, key=None):
    headers = {"Authorization": f"Bearer {token or api.token}", "Idempotency-Key": key or f"imp-{next(api.keys)}"}
    return api.client.post("/api/v1/imports/deliveries", data={"file": (io.BytesIO(data), name)},
                           headers=headers, content_type="multipart/form-data")


def imported(api, data, name="deliveries.csv", expect=201, **kw):
    r = upload(api, data, name, **kw)
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def refused(api, data, name="deliveries.csv"):
    r = upload(api, data, name)
    assert r.status_code == 422, r.get_json()
    return r.get_json()["error"]["details"]["errors"]


def summary(result):
    return {k: result[k] for k in ("rows", "written", "skipped", "charged", "people")}


def october(api, pid):
    return api.get(f"/api/v1/people/{pid}/hours?from=2026-10-01&to=2026-10-31")["months"][0]


def assert_worked_example(api, pid):
    assert api.balance(pid, "2026-10-31")["available"] == "1494.75"
    assert october(api, pid) == {"month": "2026-10", "planned": "31.00", "delivered": "10.00", "refused": "2.00",
                                 "unplanned": "1.50", "banked": "4.00", "bank_used": "3.00",
                                 "provider_cancelled": "2.00", "bank_balance": "1.00", "used": "13.00"}
    assert api.get("/api/v1/reconciliation")["reconciles"] is True


def test_a_good_csv_file(api, ana):
    result = imported(api, csv_file(*GOOD))
    assert summary(result) == {"rows": 6, "written": 6, "skipped": 0, "charged": "305.25", "people": 1}
    assert result["already_imported"] is False
    assert_worked_example(api, ana)
    rows = api.get(f"/api/v1/people/{ana}/deliveries")
    assert [(d["external_id"], d["charge"]) for d in rows] == [
        ("V-1", "185.00"), ("V-2", "37.00"), ("V-3", "27.75"), ("V-4", "0.00"), ("V-5", "55.50"), ("V-6", "0.00")]
    assert rows[3]["lapses_on"] == "2027-10-20"


def test_person_by_id_or_council_reference_and_loose_headers(api, ana):
    header = " Person , DATE,Start_Time,service,quantity,status,notice_given_at,domain"  # no external_id
    data = csv_file(f"{ana},2026-10-05,10:00,day_support,1.00,delivered,,personal_care",
                    "NS-1,2026-10-06,10:00,day_support, 2.5 ,delivered,,personal_care", "", ",,,,,,,",
                    header=header)
    assert summary(imported(api, data)) == {"rows": 2, "written": 2, "skipped": 0, "charged": "64.75", "people": 1}
    assert api.balance(ana)["available"] == "1735.25"


def test_several_bad_rows_write_nothing_and_are_all_listed(api, ana):
    bob = api.person("Bob", ref="NS-1", council="Southvale")  # NS-1 is now two people's reference
    data = csv_file(
        "NS-1,2026-10-05,10:00,day_support,1.00,delivered,,personal_care,V-1",         # 2: ambiguous person
        f"{ana},2026-10-05,10:00,day_support,1.00,delivered,,personal_care,V-2",       # 3: good
        "NS-404,2026-10-05,10:00,day_support,1.00,delivered,,personal_care,",          # 4: unknown person
        f"{ana},2026-10-05,10:00,gardening,1.00,delivered,,personal_care,",            # 5: no rate
        f"{ana},2026-10-05,22:00,waking_night,1.5,delivered,,staying_safe,",           # 6: part night
        f"{ana},2026-10-20,10:00,day_support,4.00,banked,2026-10-18T10:01,personal_care,",  # 7: notice
        f"{ana},2026-10-22,10:00,day_support,3.00,bank_used,,personal_care,",          # 8: bank empty
        f"{ana},05/10/2026,9am,day_support,1.234,delivered,,cooking,",                 # 9: four fields
        f"{ana},2026-10-05,10:00,day_support,1.00,delivered,,personal_care,V-2",       # 10: visit repeated
        f"{ana},2026-10-05,10:00,day_support,1.00,,,personal_care,",                   # 11: no status
    )
    errors = refused(api, data)
    assert [(e["row"], e["column"]) for e in errors] == [
        (2, "person"), (4, "person"), (5, "service"), (6, "quantity"), (7, "notice_given_at"), (8, "quantity"),
        (9, "date"), (9, "domain"), (9, "quantity"), (9, "start_time"), (10, "external_id"), (11, "status")]
    reasons = {(e["row"], e["column"]): e["reason"] for e in errors}
    assert "more than one person" in reasons[2, "person"]
    assert reasons[4, "person"] == "no person has this id or council reference"
    assert "no rate for gardening on 2026-10-05" in reasons[5, "service"]
    assert "whole number of nights" in reasons[6, "quantity"]
    assert "only 47 h 59 m of notice" in reasons[7, "notice_given_at"] and "unplanned" in reasons[7, "notice_given_at"]
    assert reasons[8, "quantity"] == "the day_support bank holds 0.00 h on 2026-10-22, not enough for 3.00 h"
    assert reasons[10, "external_id"] == "the same visit as row 3"
    for pid in (ana, bob):
        assert api.get(f"/api/v1/people/{pid}/deliveries") == []
    assert api.balance(ana)["available"] == "1800.00"


def test_rows_already_written_in_chunks_are_undone_by_a_bad_row_further_down(api, ana, monkeypatch):
    from isf_ledger.accounts import imports

    monkeypatch.setattr(imports, "CHUNK", 2)  # rows are written two at a time, as they are checked
    late = f"{ana},2026-10-30,10:00,day_support,5.00,bank_used,,personal_care,V-7"  # row 8: the bank holds 1.00 h
    errors = refused(api, csv_file(*GOOD, late))
    assert errors == [{"row": 8, "column": "quantity",
                       "reason": "the day_support bank holds 1.00 h on 2026-10-30, not enough for 5.00 h"}]
    assert api.get(f"/api/v1/people/{ana}/deliveries") == []
    assert api.balance(ana)["available"] == "1800.00"
    assert api.get("/api/v1/reconciliation")["reconciles"] is True
    # The bank is checked over the whole file: a draw in the first chunk is covered by hours banked
    # (earlier in the month) in a later one.
    drawn_first = [GOOD[4], *GOOD[:4], GOOD[5]]
    assert summary(imported(api, csv_file(*drawn_first)))["written"] == 6
    assert_worked_example(api, ana)


def test_the_same_file_twice_writes_nothing_the_second_time(api, ana):
    data = csv_file(*(row.rsplit(",", 1)[0] + "," for row in GOOD))  # no visit ids: the file's hash decides
    assert imported(api, data)["written"] == 6
    again = imported(api, data, name="copy.csv", expect=200)
    assert summary(again) == {"rows": 6, "written": 0, "skipped": 6, "charged": "0.00", "people": 0}
    assert again["already_imported"] is True
    assert_worked_example(api, ana)


def test_an_overlapping_export_skips_the_visits_already_imported(api, ana):
    assert imported(api, csv_file(*GOOD[:4]))["written"] == 4
    result = imported(api, csv_file(*GOOD[2:]))  # V-3 and V-4 again, then V-5 and V-6
    assert summary(result) == {"rows": 4, "written": 2, "skipped": 2, "charged": "55.50", "people": 1}
    assert_worked_example(api, ana)
    # The same visit for someone else is not a skip: it is a bad row.
    other = api.person("Cai", ref="NS-2")
    errors = refused(api, csv_file(GOOD[0].replace("NS-1", "NS-2")))
    assert errors == [{"row": 2, "column": "external_id",
                       "reason": f"this visit was imported for person {ana}, not {other}: reverse that delivery "
                                 "and import this row without it"}]


def xlsx(rows, cached: dict[str, str] | None = None) -> bytes:
    """A workbook; `cached` gives formula cells the values Excel would have saved with them."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    if not cached:
        return out.getvalue()
    src, dst = zipfile.ZipFile(io.BytesIO(out.getvalue())), io.BytesIO()
    with zipfile.ZipFile(dst, "w") as z:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                for ref, value in cached.items():
                    body, n = re.subn(rf'(<c r="{ref}"[^>]*><f>[^<]*</f>)(?:<v ?/>|<v></v>)'.encode(),  # with lxml or not
                                      rb"\1<v>" + value.encode() + b"</v>", body)
                    assert n == 1, ref
            z.writestr(item, body)
    return dst.getvalue()


def test_a_good_xlsx_with_formulas_excel_dates_and_text_dates(api, ana):
    header = HEADER.split(",")
    data = xlsx([
        header,
        ["NS-1", date(2026, 10, 5), time(10, 0), "day_support", "=4*2.5", "delivered", None, "personal_care", "V-1"],
        [ana, "2026-10-06", "10:00", "day_support", 2, "refused", None, "personal_care", 88121],
        ["NS-1", datetime(2026, 10, 7), "10:00", "day_support", 1.5, "unplanned", None, "personal_care", "V-3"],
        ["NS-1", "2026-10-20", time(10, 0), "day_support", "4.00", "banked", datetime(2026, 10, 15, 9, 0),
         "personal_care", "V-4"],
        ["NS-1", date(2026, 10, 22), "10:00", "day_support", "=0.1+2.9", "bank_used", None, "personal_care", "V-5"],
        ["NS-1", "2026-10-23", "10:00", "day_support", 2.0, "provider_cancelled", "2026-10-01T10:00",
         "personal_care", "V-6"],
    ], cached={"E2": "10", "E6": "3.0000000000000004"})
    result = imported(api, data, name="roster.xlsx")
    assert summary(result) == {"rows": 6, "written": 6, "skipped": 0, "charged": "305.25", "people": 1}
    assert_worked_example(api, ana)
    assert [d["external_id"] for d in api.get(f"/api/v1/people/{ana}/deliveries")] == [
        "V-1", "88121", "V-3", "V-4", "V-5", "V-6"]


def test_xlsx_cells_that_cannot_be_read_are_bad_rows(api, ana):
    data = xlsx([HEADER.split(","),
                 ["NS-1", datetime(2026, 10, 5, 9, 30), "10:00", "day_support", 1.005, "delivered", None, "personal_care"],
                 ["NS-1", "2026-10-05", time(10, 0, 30), "day_support", "=1+1", "delivered", None, "personal_care"]])
    errors = refused(api, data, name="roster.xlsx")
    assert [(e["row"], e["column"]) for e in errors] == [(2, "date"), (2, "quantity"), (3, "quantity"),
                                                         (3, "start_time")]
    assert errors[2]["reason"] == "Missing data for required field."  # a formula never calculated and saved


def test_an_empty_file_and_a_header_only_file(api, ana):
    assert refused(api, b"") == [{"row": None, "column": None, "reason": "the file is empty"}]
    assert refused(api, b"\n \n") == [{"row": None, "column": None, "reason": "the file is empty"}]
    assert summary(imported(api, csv_file())) == {"rows": 0, "written": 0, "skipped": 0, "charged": "0.00", "people": 0}


def test_a_file_that_is_not_a_spreadsheet(api, ana):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
    assert refused(api, png, "roster.csv") == [
        {"row": None, "column": None, "reason": "not a spreadsheet: send CSV (UTF-8) or XLSX"}]
    assert refused(api, b"PK\x03\x04not really a zip", "roster.xlsx") == [
        {"row": None, "column": None, "reason": "not a spreadsheet: an unreadable XLSX file"}]
    errors = refused(api, b"Dear finance,\nplease find attached\n")
    assert errors[0] == {"row": 1, "column": "person", "reason": "a required column is missing from the header"}
    assert len([e for e in errors if e["reason"] == "a required column is missing from the header"]) == 8
    r = api.client.post("/api/v1/imports/deliveries", json={"rows": []},
                        headers={"Authorization": f"Bearer {api.token}"})
    assert r.status_code == 422 and list(r.get_json()["error"]["details"]) == ["file"]


def test_roles_and_the_idempotency_key(api, ana):
    data = csv_file(*GOOD)
    for role, extra in (("person", ("--person", str(ana))), ("auditor", ("--council", "Northshire"))):
        assert upload(api, data, token=api.user(role, *extra)).status_code == 403
    broker = api.user("broker")
    first = upload(api, data, token=broker, key="roster-1")
    again = upload(api, data, token=broker, key="roster-1")  # a retry: another multipart boundary, same file
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
    assert upload(api, csv_file(*GOOD[:1]), token=broker, key="roster-1").status_code == 409
    assert_worked_example(api, ana)


def test_the_command_line(api, ana, tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(csv_file(*GOOD))
    bad.write_bytes(csv_file(GOOD[0].replace("10.00", "ten"), GOOD[1].replace("NS-1", "NS-9")))
    result = api.runner.invoke(args=["import", "deliveries", str(bad)])
    assert result.exit_code == 1
    assert "row 2, column quantity: not a decimal number" in result.output
    assert "row 3, column person: no person has this id or council reference" in result.output
    result = api.runner.invoke(args=["import", "deliveries", str(good)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "6 rows: 6 written, 0 skipped, 1 people, £305.25 charged"
    assert_worked_example(api, ana)
    result = api.runner.invoke(args=["import", "deliveries", str(good)])
    assert result.output.strip().splitlines()[-1] == ("6 rows: 0 written, 6 skipped, 0 people, £0.00 charged "
                                                      "(this file was already imported)")
