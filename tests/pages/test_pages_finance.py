"""Finance's pages through the Flask client, on both engines: the dashboard (the API's figures,
sorted, filtered, paged, the totals), a fund's page, a receipt with its fee shown before it is
recorded, a reversal with a reason, refusals beside the field with what was typed kept and
nothing written, a double submit that writes once, and a handful of queries whatever the
number of funds."""
from __future__ import annotations

import re
from html import unescape

import pytest
import sqlalchemy as sa

import pages_book
from isf_ledger.db import db
from pages_book import pounds
from pages_book import counted, sign_in, text
@pytest.fixture
def book(api, monkeypatch, tmp_path):
    return pages_book.build(api, monkeypatch, tmp_path)


@pytest.fixture
def fin(api, book):
    pages_book.user(api, "fin", "--role", "finance")
    return sign_in(api.app.test_client(), "fin")


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def form_fields(html: str, action: str) -> dict:
    """The hidden fields of the form posting to `action` (the first such form)."""
    form = re.search(r'<form method="post" action="' + re.escape(action) + r'"[^>]*>(.*?)</form>', html, re.S).group(1)
    return {m.group(1): unescape(m.group(2)) for m in
            re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}


def count_rows(api, table: str, pid: int) -> int:
    with api.app.app_context():
        return db.session.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE person_id = :p"), {"p": pid})


def test_finance_home_links_the_dashboard_which_shows_the_api_s_figures(api, book, fin):
    assert 'href="/dashboard"' in fin.get("/").get_data(as_text=True)
    html = fin.get("/dashboard").get_data(as_text=True)
    assert html.count("<h1") == 1 and "<title>Dashboard – " in html
    same = api.get(f"/api/v1/dashboard?as_of={pages_book.TODAY}")
    words = text(html)
    t = same["totals"]
    assert f"The provider must make good {pounds(t['provider_must_make_good'])}" in words
    assert f"Client money held {pounds(t['reconciliation']['client_money_held'])}" in words
    assert "Reconciles" in words
    for f in same["funds"]:
        assert f"{unescape(f['name'])} Northshire {pounds(f['balance'])}" in words
    assert 'href="/dashboard.xlsx?sort=name"' in html
    xlsx = fin.get("/dashboard.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_the_dashboard_sorts_filters_and_pages(api, book, fin):
    # Bo holds more than Ana: largest balance first puts Bo first.
    rows = lambda html: re.findall(r'<a class="govuk-link" href="/people/(\d+)">', html)  # noqa: E731
    assert rows(fin.get("/dashboard?sort=-balance").get_data(as_text=True)) == [str(book.bo), str(book.ana)]
    assert rows(fin.get("/dashboard?sort=balance").get_data(as_text=True)) == [str(book.ana), str(book.bo)]
    assert rows(fin.get("/dashboard?name=si%C3%A2n").get_data(as_text=True)) == [str(book.ana)]
    assert rows(fin.get("/dashboard?council=Elsewhere").get_data(as_text=True)) == []
    assert rows(fin.get("/dashboard?alert=overdrawn").get_data(as_text=True)) == []
    html = fin.get("/dashboard?sort=-balance").get_data(as_text=True)
    assert 'aria-sort="descending"' in html
    for i in range(51):
        api.person(f"Person {i:02d}")
    html = fin.get("/dashboard?page=2").get_data(as_text=True)
    assert "53 funds shown, page 2 of 2." in text(html) and len(rows(html)) == 3
    assert fin.get("/dashboard?page=x&sort=nonsense").status_code == 200


def test_a_broker_may_not_see_the_dashboard(api, book):
    pages_book.user(api, "bro", "--role", "broker")
    client = sign_in(api.app.test_client(), "bro")
    assert client.get("/dashboard").status_code == 403
    assert client.get(f"/people/{book.ana}/receipts/new").status_code == 403


def test_a_fund_s_page_for_finance(api, book, fin):
    html = fin.get(f"/people/{book.ana}").get_data(as_text=True)
    words = text(html)
    assert f'<span id="available">{pounds(book.left_now)}</span>' in html
    assert "Bus pass for college, £45.60 to Northshire Buses" in words
    assert "October 2026 , number" in words or "October 2026, number" in words
    assert "Received: council payment" in words
    assert f'href="/people/{book.ana}/review-pack.xlsx"' in html and f'href="/people/{book.ana}/review"' in html
    pack = fin.get(f"/people/{book.ana}/review-pack.xlsx")
    assert pack.status_code == 200 and pack.data[:2] == b"PK"
    # One route serves the pack to every role: the old finance-only path is gone.
    assert fin.get(f"/people/{book.ana}/review-pack").status_code == 404


def test_finance_records_a_receipt_seeing_the_fee_first_and_a_double_submit_writes_once(api, book, fin):
    path = f"/people/{book.ana}/receipts/new"
    page = fin.get(path).get_data(as_text=True)
    fields = form_fields(page, path)
    before = count_rows(api, "receipts", book.ana)
    check = fin.post(path, data={**fields, "date": "2026-11-09", "amount": "1250.00", "source": "council"})
    html = check.get_data(as_text=True)
    assert check.status_code == 200 and "Check the receipt before it is recorded" in html
    # The plan's fee rate (the API's own default here) on £1,250.00, as record_receipt takes it.
    plan = api.get(f"/api/v1/people/{book.ana}/plans")[-1]
    from decimal import ROUND_HALF_UP, Decimal
    fee = (Decimal("1250.00") * Decimal(plan["management_fee_rate"])).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert f'<span id="fee">{pounds(str(fee))}</span>' in html
    assert count_rows(api, "receipts", book.ana) == before  # nothing written by the check
    confirm = form_fields(html, path)
    assert confirm["step"] == "confirm"
    r1 = fin.post(path, data=confirm)
    r2 = fin.post(path, data=confirm)
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    assert count_rows(api, "receipts", book.ana) == before + 1
    got = api.get(f"/api/v1/people/{book.ana}/receipts")[-1]
    assert got["amount"] == "1250.00" and got["fee"] == f"{fee}"
    assert "The receipt is recorded." in fin.get(r1.headers["Location"]).get_data(as_text=True)


def test_a_bad_receipt_is_refused_beside_the_field_keeps_what_was_typed_and_writes_nothing(api, book, fin):
    path = f"/people/{book.ana}/receipts/new"
    fields = form_fields(fin.get(path).get_data(as_text=True), path)
    before = count_rows(api, "receipts", book.ana)
    r = fin.post(path, data={**fields, "date": "2026-11-09", "amount": "twelve", "source": "council",
                             "reference": "Ref Ω"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "There is a problem" in html and "<title>Error: " in html
    assert 'href="#amount"' in html and 'id="amount-error"' in html
    assert 'value="twelve"' in html and 'value="Ref Ω"' in html
    # Before the fund opened: the operation's refusal, beside the date, at the confirm step too.
    r = fin.post(path, data={**fields, "step": "confirm", "date": "2020-01-01", "amount": "10.00", "source": "council"})
    html = r.get_data(as_text=True)
    assert 'id="date-error"' in html and "Before the fund opened on 2025-01-01" in html
    assert count_rows(api, "receipts", book.ana) == before


def test_finance_reverses_a_receipt_with_a_reason_after_checking(api, book, fin):
    receipt = api.get(f"/api/v1/people/{book.ana}/receipts")[-1]
    path = f"/transactions/{receipt['transaction_id']}/reverse"
    fund = fin.get(f"/people/{book.ana}").get_data(as_text=True)
    assert f'href="{path}"' in fund
    fields = form_fields(fin.get(path).get_data(as_text=True), path)
    refused = fin.post(path, data={**fields, "reason": "   "}).get_data(as_text=True)
    assert 'id="reason-error"' in refused and "Enter why this line is being reversed" in refused
    check = fin.post(path, data={**fields, "reason": "Paid into the wrong fund"}).get_data(as_text=True)
    assert "Check the reversal" in check and "Paid into the wrong fund" in check
    confirm = form_fields(check, path)
    r = fin.post(path, data=confirm)
    assert r.status_code == 303
    assert fin.post(path, data=confirm).headers["Location"] == r.headers["Location"]
    after = api.get(f"/api/v1/people/{book.ana}/receipts")[-1]
    assert after["reversed_by_transaction_id"] is not None
    line = api.get(f"/api/v1/transactions/{after['reversed_by_transaction_id']}")
    assert line["reason"] == "Paid into the wrong fund"
    # A second reversal of the same line, from a fresh form, is refused on the page: nothing written.
    fields = form_fields(fin.get(path).get_data(as_text=True), path)
    again = fin.post(path, data={**fields, "step": "confirm", "reason": "again"})
    assert again.status_code == 409 and "There is a problem" in again.get_data(as_text=True)


def test_finance_pages_read_in_a_handful_of_queries_whatever_the_number_of_funds(api, book, fin):
    receipt = api.get(f"/api/v1/people/{book.ana}/receipts")[-1]
    pages = ["/dashboard", "/month-end", f"/people/{book.ana}", f"/people/{book.ana}/receipts/new",
             f"/transactions/{receipt['transaction_id']}/reverse"]

    before = page_queries(api, fin, pages)
    more_funds(api, 8)
    after = page_queries(api, fin, pages)
    assert after == before, (before, after)
    assert max(after) <= 40, after


def page_queries(api, client, pages: list[str]) -> list[int]:
    """How many queries each page reads, the second time it is shown (caches warm)."""
    out = []
    for path in pages:
        client.get(path)
        with counted(api.app) as seen:
            assert client.get(path).status_code == 200, path
        out.append(len(seen))
    return out


def more_funds(api, n: int) -> None:
    for i in range(n):
        pid = api.person(f"More {i}")
        api.plan(pid, planned_weekly_hours={"day_support": "3.00"})
        api.receipt(pid, "500.00", date="2026-10-01")


def statements_for(api, month: str) -> int:
    with api.app.app_context():
        return db.session.scalar(sa.text("SELECT count(*) FROM statements WHERE month = :m"), {"m": f"{month}-01"})


def test_month_end_shows_what_is_not_issued_issues_once_and_says_the_result(api, book, fin):
    html = fin.get("/month-end").get_data(as_text=True)
    words = text(html)
    assert "October 2026 2 2 0" in words and "September 2026 2 0 2" in words
    assert 'value="2026-09" checked' in html  # the newest month with something to issue
    fields = form_fields(html, "/month-end")
    refused = fin.post("/month-end", data={**fields, "month": "September"}).get_data(as_text=True)
    assert 'id="month-error"' in refused and statements_for(api, "2026-09") == 0
    ended_not = fin.post("/month-end", data={**fields, "month": "2026-11"}).get_data(as_text=True)
    assert 'id="month-error"' in ended_not and statements_for(api, "2026-11") == 0
    assert "November 2026 has not ended yet. Its statements can be issued from 1 December 2026." in text(ended_not)
    # October is issued, so September may not come after it (domain.md "Month end in order"): the
    # page says so beside the field, as the API's 409 months_out_of_order, and issues nothing.
    r1 = fin.post("/month-end", data={**fields, "month": "2026-09"})
    out_of_order = r1.get_data(as_text=True)
    assert r1.status_code == 409 and 'govuk-error-summary' in out_of_order
    assert statements_for(api, "2026-09") == 0
    # In plain English, beside the field and in the summary: no bare "2026-11", no person's id.
    said = ("September 2026 comes before October 2026, which is already issued: months are issued in order. "
            "The next month to issue is November 2026.")
    beside = out_of_order.split('id="month-error"')[1].split("</p>")[0]
    assert said in text(f"<p {beside}</p>")
    assert text(out_of_order).count(said) == 2 and "Error: 2026-11" not in text(out_of_order)
    done = fin.get("/month-end?issued=2026-10&count=2&already=0").get_data(as_text=True)
    assert "Statements issued 2 issued for October 2026 (0 were already issued)" in text(done)
    # What the address says is shown as words, never as markup.
    odd = fin.get("/month-end?issued=<b>x</b>&count=<i>2</i>&already=0").get_data(as_text=True)
    assert "<b>x</b>" not in odd and "&lt;b&gt;x&lt;/b&gt;" in odd and "<i>2</i>" not in odd


def test_month_end_s_refusals_in_plain_english():
    """The API's 409s name months as YYYY-MM; the page says them as a person would."""
    from datetime import date

    from isf_ledger.errors import Conflict
    from isf_ledger.pages.finance import _month_refusal
    gap = Conflict("out of order", {"person_id": 7, "month": "2026-10", "issued_through": "2026-09", "people": 3},
                   code="months_out_of_order")
    assert _month_refusal(date(2026, 11, 1), gap) == "Issue October 2026 first: months are issued in order."
    before = Conflict("out of order", {"person_id": 7, "month": "2026-11", "issued_through": "2026-10", "people": 1},
                      code="months_out_of_order")
    assert _month_refusal(date(2026, 9, 1), before) == (
        "September 2026 comes before October 2026, which is already issued: months are issued in order. "
        "The next month to issue is November 2026.")
    assert _month_refusal(date(2026, 9, 1), Conflict("other", code="closed_month")) is None
