"""Finance's bank pages (pages/bank.py): the bank's statement uploaded and matched, a line matched
by hand, interest recorded and shared, the reconciliation completed; each through the operation
the API calls, refused beside the field with nothing written, and written once a form."""
from __future__ import annotations

import io
import re
from datetime import date
from html import unescape

import pytest
import sqlalchemy as sa

import pages_book
from isf_ledger import clock
from isf_ledger.db import db
from pages_book import counted, sign_in, text
@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 5))


@pytest.fixture
def fin(api):
    pages_book.user(api, "fin", "--role", "finance")
    return sign_in(api.app.test_client(), "fin")


def hidden(html: str, action: str) -> dict:
    """The hidden fields of the form posting to `action`."""
    form = re.search(r'<form method="post" action="' + re.escape(action) + r'"[^>]*>(.*?)</form>', html, re.S).group(1)
    return {m.group(1): unescape(m.group(2)) for m in
            re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}


def count(api, sql: str) -> int:
    with api.app.app_context():
        return db.session.scalar(sa.text(sql))


def upload(client, csv_text: str, name="october.csv"):
    fields = hidden(client.get("/bank").get_data(as_text=True), "/bank")
    return client.post("/bank", data={**fields, "file": (io.BytesIO(csv_text.encode()), name)},
                       content_type="multipart/form-data")


STATEMENT = ("Date,Description,Amount,Balance\n01/10/2026,NORTHSHIRE NCC-1,2000.00,2000.00\n"
             "02/10/2026,CHEQUES,600.00,2600.00\n")


def test_finance_uploads_a_statement_sees_its_lines_and_matches_one_by_hand(api, fin):
    ana = api.person("Łukasz Nowak")
    api.receipt(ana, amount="2000.00", date="2026-10-01", reference="NCC-1")
    a = api.receipt(ana, amount="250.00", date="2026-10-01")["transaction_id"]
    b = api.receipt(ana, amount="350.00", date="2026-10-02")["transaction_id"]
    home = fin.get("/").get_data(as_text=True)
    assert 'href="/bank"' in home  # finance reaches it from the navigation
    r = upload(fin, STATEMENT)
    assert r.status_code == 303 and re.fullmatch(r"/bank/statements/\d+\?done=uploaded", r.location)
    page = fin.get(r.location)
    words = text(page.get_data(as_text=True))
    assert page.status_code == 200 and "The statement is imported" in words
    assert "2 lines. 1 not matched yet. The closing balance is £2,600.00 on 2 Oct 2026." in words
    assert "Matched Money paid in, 1 Oct 2026, £2,000.00, Łukasz Nowak (ref NCC-1)" in words
    assert (f"Not matched It may be: Money paid in, 1 Oct 2026, £250.00, Łukasz Nowak (transaction {a}); "
            f"Money paid in, 2 Oct 2026, £350.00, Łukasz Nowak (transaction {b}).") in words
    statement_id = int(re.search(r"/bank/statements/(\d+)", r.location).group(1))
    line = count(api, "SELECT max(id) FROM bank_lines")
    match = f"/bank/statements/{statement_id}/lines/{line}/match"
    assert f'href="{match}"' in page.get_data(as_text=True)

    form = fin.get(match).get_data(as_text=True)
    assert form.count("<h1") == 1 and "Match a bank line" in form
    assert f'value="{a}, {b}"' in form  # the guess, typed in for finance to confirm: never matched without them
    fields = hidden(form, match)
    wrong = fin.post(match, data={**fields, "transaction_ids": str(a)})
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "There is a problem" in html and "They sum to 250.00, the line is 600.00" in html
    assert f'value="{a}"' in html  # what was typed is kept
    assert count(api, "SELECT count(*) FROM bank_matches") == 1  # nothing written
    typo = fin.post(match, data={**fields, "transaction_ids": "12x"})
    assert typo.status_code == 422 and "Transaction numbers: enter a whole number" in typo.get_data(as_text=True)
    empty = fin.post(match, data={**fields, "transaction_ids": " "})
    assert empty.status_code == 422 and "Transaction numbers: fill this in" in empty.get_data(as_text=True)

    done = fin.post(match, data={**fields, "transaction_ids": f"{a}, {b}"})
    assert done.status_code == 303 and done.location == f"/bank/statements/{statement_id}?done=matched"
    again = fin.post(match, data={**fields, "transaction_ids": f"{a}, {b}"})  # a double submit writes once
    assert again.status_code == 303 and again.location == done.location
    assert count(api, "SELECT count(*) FROM bank_matches") == 3
    assert "Every line is matched." in text(fin.get(done.location).get_data(as_text=True))


def test_a_file_that_is_not_a_statement_is_refused_beside_the_field_and_writes_nothing(api, fin):
    r = upload(fin, "Date,Description,Amount\n01/10/2026,A,1.00\n02/13/2026,B,2.00\n")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "There is a problem" in html and 'href="#file"' in html
    assert "<title>Error: The client bank account" in html
    assert count(api, "SELECT count(*) FROM bank_statements") == 0
    none = fin.post("/bank", data=hidden(fin.get("/bank").get_data(as_text=True), "/bank"),
                    content_type="multipart/form-data")
    assert none.status_code == 422 and "Choose the bank's statement file to upload" in unescape(none.get_data(as_text=True))


def test_interest_recorded_from_its_bank_line_is_shared_and_shown(api, fin):
    ana, ben = api.person("Ana", opened_on="2026-09-01"), api.person("Ben", opened_on="2026-09-01")
    api.receipt(ana, "3000.00", "2026-09-01", fee_exempt=True)
    api.receipt(ben, "1000.00", "2026-09-01", fee_exempt=True)
    r = upload(fin, "Date,Description,Amount\n02/11/2026,INTEREST,4.00\n", "november.csv")
    statement = fin.get(r.location).get_data(as_text=True)
    line = count(api, "SELECT max(id) FROM bank_lines")
    link = f"/bank/interest?line_id={line}&amp;date=2026-11-02"
    assert link in statement
    form = fin.get(unescape(link)).get_data(as_text=True)
    assert "shared among the funds by their daily balances" in form and f'value="{line}"' in form
    fields = hidden(form, "/bank/interest")
    bad = fin.post("/bank/interest", data={**fields, "date": "2026-11-02", "period_from": "2026-10-01",
                                           "period_to": "2026-10-31", "line_id": str(line), "amount": "4.0x"})
    assert bad.status_code == 422 and "Amount: use pounds and pence, like 12.50" in bad.get_data(as_text=True)
    assert count(api, "SELECT count(*) FROM bank_interest") == 0
    done = fin.post("/bank/interest", data={**fields, "date": "2026-11-02", "period_from": "2026-10-01",
                                            "period_to": "2026-10-31", "line_id": str(line)})
    assert done.status_code == 303, done.get_data(as_text=True)
    page = text(fin.get(done.location).get_data(as_text=True))
    # Ana 3,000.00 x 31 days and Ben 1,000.00 x 31: three quarters and a quarter of £4.00.
    assert "Interest paid on 2 November 2026" in page and "Amount £4.00" in page
    assert "Ana £93,000.00 £3.00 Yes" in page and "Ben £31,000.00 £1.00 Yes" in page
    assert api.balance(ana)["available"] == "3003.00"
    assert "Every line is matched." in text(fin.get(r.location).get_data(as_text=True))
    listed = text(fin.get("/bank").get_data(as_text=True))
    assert "£4.00 paid on 2 Nov 2026" in listed


def test_the_reconciliation_is_refused_until_it_agrees_then_completed_once(api, fin):
    ana = api.person()
    api.receipt(ana, amount="2000.00", date="2026-10-01", reference="NCC-1")
    upload(fin, "Date,Description,Amount,Balance\n01/10/2026,NORTHSHIRE NCC-1,2000.00,2000.00\n"
                "01/10/2026,TRANSFER FEES,-200.00,1800.00\n03/10/2026,ACCOUNT FEE,-12.34,1787.66\n")
    page = fin.get("/bank/reconcile")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="2026-10-03"' in html  # the last statement's closing date
    words = text(html)
    assert "The bank's balance £1,787.66" in words and "Bank difference minus £12.34" in words
    assert 'href="/bank/report?as_of=2026-10-03&amp;format=pdf"' in html
    pdf = fin.get("/bank/report?as_of=2026-10-03&format=pdf")
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-"
    fields = hidden(html, "/bank/reconcile")
    refused = fin.post("/bank/reconcile", data={**fields, "as_of": "2026-10-03"})
    assert refused.status_code == 409 and "does not agree to 0.00" in refused.get_data(as_text=True)
    assert count(api, "SELECT count(*) FROM bank_reconciliations") == 0
    assert fin.post("/bank/reconcile", data={**fields, "as_of": "2026-10-32"}).status_code == 422
    # The account fee is the provider's to make good: it pays it back, and the bank then agrees.
    upload(fin, "Date,Description,Amount,Balance\n04/10/2026,FEE REFUND,12.34,1800.00\n", "refund.csv")
    fields = hidden(fin.get("/bank/reconcile?as_of=2026-10-04").get_data(as_text=True), "/bank/reconcile")
    done = fin.post("/bank/reconcile", data={**fields, "as_of": "2026-10-04"})
    assert done.status_code == 303 and done.location == "/bank?done=reconciled"
    assert fin.post("/bank/reconcile", data={**fields, "as_of": "2026-10-04"}).location == done.location
    assert count(api, "SELECT count(*) FROM bank_reconciliations") == 1
    assert "Last reconciled with the bank 4 Oct 2026" in text(fin.get("/bank").get_data(as_text=True))


def test_only_finance_and_admins_open_the_bank(api):
    api.person()  # makes the council
    for role in ("broker", "auditor"):
        extra = ("--council", "Northshire") if role == "auditor" else ()
        pages_book.user(api, role, "--role", role, *extra)
        assert sign_in(api.app.test_client(), role).get("/bank").status_code == 403


def test_the_bank_pages_read_in_a_handful_of_queries_whatever_the_lines(api, fin):
    def queries(n: int) -> list[int]:
        people = [api.person(f"P{n}-{i}") for i in range(n)]
        lines = ["Date,Description,Amount"]
        for i, pid in enumerate(people):
            api.receipt(pid, amount=f"{100 + i}.00", date="2026-10-01", reference=f"R{n}-{i}")
            lines.append(f"01/10/2026,NCC R{n}-{i},{100 + i}.00")
        lines.append(f"05/10/2026,UNKNOWN {n},-1.00")  # a line nothing matches: its guess is looked for
        r = upload(fin, "\n".join(lines) + "\n", f"s{n}.csv")
        out = []
        for path in ("/bank", r.location.split("?")[0]):
            fin.get(path)
            with counted(api.app) as seen:
                assert fin.get(path).status_code == 200
            out.append(len(seen))
        return out

    assert queries(2) == queries(20)
