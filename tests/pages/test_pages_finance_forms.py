"""Finance's forms through the Flask client, on both engines: each writes exactly what its API
operation writes (the figures read back from the API), bad input is refused beside its field with
what was typed kept and nothing written, a double submit writes once, and each form's page reads
in the same handful of queries whatever the number of funds."""
from __future__ import annotations

import io
from decimal import Decimal

import pages_book
from pages_book import PNG
from test_pages_finance import book, fin  # noqa: F401 - the fixtures: pages_book's book, finance signed in
from test_pages_finance import count_rows, form_fields, more_funds, page_queries
from pages_book import sign_in, text
def fresh(client, path: str) -> dict:
    """The hidden fields (CSRF token, form key) of a freshly shown form."""
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return form_fields(page.get_data(as_text=True), path)


def people_count(api) -> int:
    from isf_ledger.db import db
    import sqlalchemy as sa
    with api.app.app_context():
        return db.session.scalar(sa.text("SELECT count(*) FROM people"))


def refused(r, field: str, *kept: str, status: int = 422) -> str:
    """The form again, refused beside `field` with what was typed kept: 422 for what was typed,
    409 where the operation refuses for the state of the fund (as the API answers)."""
    html = r.get_data(as_text=True)
    assert r.status_code == status, html
    assert "There is a problem" in html and "<title>Error: " in html
    assert f'href="#{field}"' in html and f'id="{field}-error"' in html, html
    for value in kept:
        assert value in html, value
    return html


# --- 1. A new person ------------------------------------------------------------------------------

def test_a_new_person_is_created_once_as_the_api_creates_them(api, book, fin):
    assert 'href="/people/new"' in fin.get("/dashboard").get_data(as_text=True)
    fields = fresh(fin, "/people/new")
    before = people_count(api)
    data = {**fields, "name": "Zoë Ní Bhriain", "council": "Northshire", "council_reference": "NS-0042"}
    r1, r2 = fin.post("/people/new", data=data), fin.post("/people/new", data=data)
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    assert people_count(api) == before + 1
    pid = int(r1.headers["Location"].split("/people/")[1].split("?")[0])
    got = api.get(f"/api/v1/people/{pid}")
    assert got["name"] == "Zoë Ní Bhriain" and got["council"] == "Northshire" and got["council_reference"] == "NS-0042"
    assert got["fund"]["opened_on"] == str(pages_book.TODAY) and got["fund"]["available"] == "0.00"
    assert "The person and their fund are created." in fin.get(r1.headers["Location"]).get_data(as_text=True)


def test_a_bad_new_person_is_refused_beside_the_field_and_nothing_is_written(api, book, fin):
    fields = fresh(fin, "/people/new")
    before = people_count(api)
    html = refused(fin.post("/people/new", data={**fields, "name": "  ", "council": "Northshire",
                                                 "council_reference": "Ref Ω"}), "name", 'value="Ref Ω"')
    assert "Enter the person&#39;s full name" in html or "Enter the person's full name" in html
    api.post("/api/v1/people", {"name": "Ann", "council": "Northshire", "council_reference": "DUP-1"})
    before = people_count(api)
    refused(fin.post("/people/new", data={**fields, "name": "Another Ann", "council": "Northshire",
                                          "council_reference": "DUP-1"}), "council_reference", 'value="Another Ann"', status=409)
    assert people_count(api) == before
    # A broker may only name a council already known (as the API says to them).
    pages_book.user(api, "bro", "--role", "broker")
    bro = sign_in(api.app.test_client(), "bro")
    fields = fresh(bro, "/people/new")
    refused(bro.post("/people/new", data={**fields, "name": "Cai", "council": "Nowhere Council"}), "council",
            'value="Nowhere Council"')
    assert people_count(api) == before


# --- 2. A delivery ------------------------------------------------------------------------------

def test_a_delivery_is_recorded_once_and_charged_as_the_api_charges_it(api, book, fin):
    path = f"/people/{book.ana}/deliveries/new"
    assert f'href="{path}"' in fin.get(f"/people/{book.ana}").get_data(as_text=True)
    fields = fresh(fin, path)
    before = api.get(f"/api/v1/people/{book.ana}/balance")["available"]
    data = {**fields, "date": "2026-11-09", "start_time": "10:00", "service": "day_support", "quantity": "3.50",
            "status": "delivered", "domain": "personal_care"}
    r1, r2 = fin.post(path, data=data), fin.post(path, data=data)
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    rows = api.get(f"/api/v1/people/{book.ana}/deliveries?from=2026-11-09&to=2026-11-09")
    assert len(rows) == 1
    d = rows[0]
    assert (d["quantity"], d["rate"], d["charge"], d["status"], d["domain"], d["start_time"]) == (
        "3.50", "20.00", "70.00", "delivered", "personal_care", "10:00")
    after = api.get(f"/api/v1/people/{book.ana}/balance")["available"]
    assert Decimal(before) - Decimal(after) == Decimal("70.00")
    assert "The delivery is recorded." in fin.get(r1.headers["Location"]).get_data(as_text=True)


def test_a_bad_delivery_is_refused_beside_the_field_and_nothing_is_written(api, book, fin):
    path = f"/people/{book.ana}/deliveries/new"
    fields = fresh(fin, path)
    before = count_rows(api, "deliveries", book.ana)
    refused(fin.post(path, data={**fields, "date": "2026-11-09", "start_time": "10:00", "service": "day_support",
                                 "quantity": "lots", "status": "delivered", "domain": "health"}),
            "quantity", 'value="lots"')
    html = refused(fin.post(path, data={**fields, "date": "2026-11-09", "start_time": "25:00",
                                        "service": "day_support", "quantity": "1.00", "domain": "health"}),
                   "status", 'value="25:00"')
    assert 'id="start_time-error"' in html and "Choose what happened" in html
    # The operation's refusal (before the fund opened), beside the date.
    refused(fin.post(path, data={**fields, "date": "2020-01-01", "start_time": "10:00", "service": "day_support",
                                 "quantity": "1.00", "status": "delivered", "domain": "health"}), "date")
    assert count_rows(api, "deliveries", book.ana) == before


# --- 3. Spend with its receipt file --------------------------------------------------------------

def spend_data(fields: dict, **over) -> dict:
    return {**fields, "date": "2026-11-09", "amount": "12.34", "payee": "Café Ümit", "category": "leisure",
            "domain": "work_leisure_learning", "description": "Lunch out with a friend", **over}


def test_spend_with_its_receipt_file_is_recorded_once(api, book, fin):
    path = f"/people/{book.ana}/spend/record"
    assert f'href="{path}"' in fin.get(f"/people/{book.ana}").get_data(as_text=True)
    fields = fresh(fin, path)
    before = api.get(f"/api/v1/people/{book.ana}/balance")["available"]
    count = count_rows(api, "spend", book.ana)

    def send():
        return fin.post(path, data={**spend_data(fields), "file": (io.BytesIO(PNG), "lunch receipt.png")},
                        content_type="multipart/form-data")
    r1, r2 = send(), send()
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    assert count_rows(api, "spend", book.ana) == count + 1
    s = api.get(f"/api/v1/people/{book.ana}/spend?from=2026-11-09")[-1]
    assert (s["amount"], s["payee"], s["category"], s["domain"], s["one_off"]) == (
        "12.34", "Café Ümit", "leisure", "work_leisure_learning", False)
    assert s["receipt_file"]["media_type"] == "image/png" and s["receipt_file"]["name"] == "lunch receipt.png"
    assert Decimal(before) - Decimal(api.get(f"/api/v1/people/{book.ana}/balance")["available"]) == Decimal("12.34")
    with fin.get(f"/people/{book.ana}/spend/{s['id']}/receipt") as download:
        assert download.data == PNG
    # Without a file: the spend alone (the receipt may come later).
    fields = fresh(fin, path)
    r = fin.post(path, data={**spend_data(fields, amount="5.00", one_off="true"), "file": (io.BytesIO(b""), "")},
                 content_type="multipart/form-data")
    assert r.status_code == 303
    s = api.get(f"/api/v1/people/{book.ana}/spend?from=2026-11-09")[-1]
    assert s["amount"] == "5.00" and s["receipt_file"] is None and s["one_off"] is True


def test_a_ticked_box_is_the_api_s_true(api, book, fin):
    """A checkbox sends "true": the flag the API takes as JSON's true (a receipt exempt from the fee)."""
    path = f"/people/{book.ana}/receipts/new"
    fields = fresh(fin, path)
    r = fin.post(path, data={**fields, "step": "confirm", "date": "2026-11-09", "amount": "100.00",
                             "source": "other", "fee_exempt": "true"})
    assert r.status_code == 303, r.get_data(as_text=True)
    got = api.get(f"/api/v1/people/{book.ana}/receipts")[-1]
    assert (got["amount"], got["fee"], got["fee_exempt"]) == ("100.00", "0.00", True)


def test_bad_spend_or_a_bad_file_is_refused_beside_the_field_and_nothing_is_written(api, book, fin):
    path = f"/people/{book.ana}/spend/record"
    fields = fresh(fin, path)
    count = count_rows(api, "spend", book.ana)
    refused(fin.post(path, data=spend_data(fields, amount="-3"), content_type="multipart/form-data"),
            "amount", 'value="-3"', "Café Ümit")
    html = refused(fin.post(path, data={**spend_data(fields), "file": (io.BytesIO(b"not a picture"), "x.png")},
                            content_type="multipart/form-data"), "file", "Café Ümit", "Lunch out with a friend")
    assert "Choose the file again" in html
    # More than is available: the operation's refusal; nothing written.
    r = fin.post(path, data=spend_data(fields, amount="99999.00"), content_type="multipart/form-data")
    assert "There is a problem" in r.get_data(as_text=True)
    assert count_rows(api, "spend", book.ana) == count


# --- The forms read in a handful of queries whatever the number of funds --------------------------

def test_the_forms_read_in_a_handful_of_queries_whatever_the_number_of_funds(api, book, fin):
    pages = ["/people/new", f"/people/{book.ana}/deliveries/new", f"/people/{book.ana}/spend/record",
             f"/people/{book.ana}", f"/people/{book.ana}/contingency/set-aside",
             f"/people/{book.ana}/contingency/draw", f"/people/{book.ana}/name", f"/people/{book.ana}/fee-refund",
             f"/people/{book.ana}/clawback", f"/people/{book.ana}/close", f"/people/{book.ana}/plans/new",
             "/councils", "/councils/1/rules", "/rates"]

    before = page_queries(api, fin, pages)
    more_funds(api, 6)
    after = page_queries(api, fin, pages)
    print("queries per page:", dict(zip(pages, after)))
    assert after == before, (before, after)
    assert max(after) <= 40, after


def balance(api, pid: int) -> dict:
    return api.get(f"/api/v1/people/{pid}/balance")


# --- 4. Contingency -------------------------------------------------------------------------------

def test_money_is_set_aside_and_drawn_once_each_as_the_api_does(api, book, fin):
    fund = fin.get(f"/people/{book.ana}").get_data(as_text=True)
    for path in (f"/people/{book.ana}/contingency/set-aside", f"/people/{book.ana}/contingency/draw"):
        assert f'href="{path}"' in fund
    path = f"/people/{book.ana}/contingency/set-aside"
    words = text(fin.get(path).get_data(as_text=True))
    assert "The plan year's contingency £500.00" in words and "Still to set aside £500.00" in words
    data = {**fresh(fin, path), "date": "2026-11-09", "amount": "120.00"}
    r1, r2 = fin.post(path, data=data), fin.post(path, data=data)
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    held = api.get(f"/api/v1/people/{book.ana}/contingency")
    assert (held["set_aside"], held["held"], held["remaining_to_set_aside"]) == ("120.00", "120.00", "380.00")
    assert balance(api, book.ana)["available"] == f"{Decimal(book.left_now) - Decimal('120.00'):.2f}"
    # Beyond the plan year's contingency: the operation's refusal; nothing written.
    refused(fin.post(path, data={**fresh(fin, path), "date": "2026-11-09", "amount": "380.01"}), "amount",
            'value="380.01"', status=409)
    refused(fin.post(path, data={**fresh(fin, path), "date": "2026-11-09", "amount": "1.234"}), "amount")
    assert api.get(f"/api/v1/people/{book.ana}/contingency")["set_aside"] == "120.00"

    path = f"/people/{book.ana}/contingency/draw"
    data = {**fresh(fin, path), "date": "2026-11-10", "amount": "45.50", "reason": "A taxi to the hospital",
            "authorised_by": "Jo Bloggs"}
    r1, r2 = fin.post(path, data=data), fin.post(path, data=data)
    assert r1.status_code == r2.status_code == 303 and "The draw on the contingency is recorded." in text(
        fin.get(r1.headers["Location"]).get_data(as_text=True))
    held = api.get(f"/api/v1/people/{book.ana}/contingency")
    assert (held["drawn"], held["held"]) == ("45.50", "74.50")
    draw = [m for m in held["movements"] if m["kind"] == "draw"]
    assert len(draw) == 1 and (draw[0]["reason"], draw[0]["authorised_by"]) == ("A taxi to the hospital", "Jo Bloggs")
    html = refused(fin.post(path, data={**fresh(fin, path), "date": "2026-11-10", "amount": "74.51",
                                        "reason": "Too much", "authorised_by": "Jo"}), "amount", "Too much", status=409)
    refused(fin.post(path, data={**fresh(fin, path), "date": "2026-11-10", "amount": "1.00",
                                 "authorised_by": "Jo"}), "reason")
    assert html and api.get(f"/api/v1/people/{book.ana}/contingency")["drawn"] == "45.50"


# --- 5. A name correction --------------------------------------------------------------------------

def test_a_name_is_corrected_once_with_its_history(api, book, fin):
    path = f"/people/{book.ana}/name"
    page = fin.get(path).get_data(as_text=True)
    assert 'value="Siân Ó Briain"' in page and "The name has not been corrected." in page
    data = {**fresh(fin, path), "name": "Siân O'Brien"}
    r1, r2 = fin.post(path, data=data), fin.post(path, data=data)
    assert r1.status_code == r2.status_code == 303
    history = api.get(f"/api/v1/people/{book.ana}/history")
    assert history["name"] == "Siân O'Brien" and len(history["changes"]) == 1
    c = history["changes"][0]
    assert (c["old_name"], c["new_name"], c["changed_by_name"]) == ("Siân Ó Briain", "Siân O'Brien", "fin")
    words = text(fin.get(path).get_data(as_text=True))
    assert "Siân Ó Briain Siân O'Brien fin" in words.replace("&#39;", "'")
    refused(fin.post(path, data={**fresh(fin, path), "name": "   "}), "name")
    refused(fin.post(path, data={**fresh(fin, path), "name": "x" * 201}), "name", 'value="' + "x" * 201)
    assert len(api.get(f"/api/v1/people/{book.ana}/history")["changes"]) == 1


# --- 6. A fee refund -----------------------------------------------------------------------------

def test_a_fee_refund_is_recorded_once_and_never_beyond_the_fee_paid(api, book, fin):
    path = f"/people/{book.ana}/fee-refund"
    data = {**fresh(fin, path), "date": "2026-11-10", "amount": "5.00", "reason": "Fee charged twice in error"}
    r1, r2 = fin.post(path, data=data), fin.post(path, data=data)
    assert r1.status_code == r2.status_code == 303
    assert balance(api, book.ana)["available"] == f"{Decimal(book.left_now) + Decimal('5.00'):.2f}"
    # The fund has paid £300.00 of fee (10% of £3,000.00): £295.01 more is refused.
    refused(fin.post(path, data={**fresh(fin, path), "date": "2026-11-10", "amount": "295.01", "reason": "More"}),
            "amount", 'value="295.01"', status=409)
    refused(fin.post(path, data={**fresh(fin, path), "date": "2026-11-10", "amount": "1.00"}), "reason")
    assert balance(api, book.ana)["available"] == f"{Decimal(book.left_now) + Decimal('5.00'):.2f}"


# --- 7. A clawback -----------------------------------------------------------------------------

def test_a_clawback_shows_the_surplus_and_notice_and_is_recorded_once(api, book, fin):
    path = f"/people/{book.bo}/clawback"
    words = text(fin.get(path).get_data(as_text=True))
    assert "Available today £8,100.00" in words and "Kept back (4 weeks of the budget) £2,000.00" in words
    assert "Surplus above that £6,100.00" in words and "The council may take back today £6,100.00" in words
    assert "Notice the person must have 28 days" in words and "So the earliest date to take it back 2026-12-08" in words
    letter = fin.get(f"/people/{book.bo}/surplus-notice.pdf")
    assert letter.status_code == 200 and letter.data[:5] == b"%PDF-"
    # Without the notice it needs: refused; nothing written.
    before = balance(api, book.bo)["available"]
    refused(fin.post(path, data={**fresh(fin, path), "date": "2026-11-10", "amount": "1000.00",
                                 "method": "repayment", "reference": "CB Ω"}), "notice_given_on", 'value="CB Ω"', status=409)
    refused(fin.post(path, data={**fresh(fin, path), "date": "2026-11-10", "amount": "6100.01",
                                 "notice_given_on": "2026-10-13", "method": "repayment"}), "amount", status=409)
    assert balance(api, book.bo)["available"] == before
    data = {**fresh(fin, path), "date": "2026-11-10", "amount": "1000.00", "notice_given_on": "2026-10-13",
            "method": "repayment", "reference": "CB-1"}
    r1, r2 = fin.post(path, data=data), fin.post(path, data=data)
    assert r1.status_code == r2.status_code == 303
    assert balance(api, book.bo)["available"] == "7100.00"
    assert api.get(f"/api/v1/people/{book.bo}/surplus")["recoverable"] == "5100.00"


# --- 8. Closing a fund ---------------------------------------------------------------------------

def statements_of(api, pid: int) -> int:
    return count_rows(api, "statements", pid)


def test_closing_a_fund_shows_what_will_be_paid_out_and_the_final_statement_then_closes_once(api, book, fin):
    path = f"/people/{book.bo}/close"
    assert f'href="{path}"' in fin.get(f"/people/{book.bo}").get_data(as_text=True)
    fields = fresh(fin, path)
    before = statements_of(api, book.bo)
    check = fin.post(path, data={**fields, "date": "2026-11-10", "destination": "council", "reference": "NS-END-1",
                                 "reason": "direct_payment"})
    html = check.get_data(as_text=True)
    assert check.status_code == 200 and "Check before the fund closes" in html
    words = text(html)
    assert "From what is available £8,100.00" in words and "From the contingency £0.00" in words
    assert '<span id="paid-out-total">£8,100.00</span>' in html and '<span id="final-closing">£0.00</span>' in html
    assert "Balance at the start of the month £8,100.00" in words and "Paid out at closing £8,100.00" in words
    # The check was a dry run: nothing of it kept.
    assert statements_of(api, book.bo) == before and balance(api, book.bo)["available"] == "8100.00"
    assert api.get(f"/api/v1/people/{book.bo}")["fund"]["closed_on"] is None
    confirm = form_fields(html, path)
    assert confirm["step"] == "confirm"
    r1, r2 = fin.post(path, data=confirm), fin.post(path, data=confirm)
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    got = api.get(f"/api/v1/people/{book.bo}")
    assert got["fund"]["closed_on"] == "2026-11-10" and got["fund"]["available"] == "0.00"
    assert statements_of(api, book.bo) == before + 1
    final = api.get(f"/api/v1/people/{book.bo}/statements/2026-11")
    assert final["closing_balance"] == "0.00"
    fund = fin.get(r1.headers["Location"]).get_data(as_text=True)
    assert "The fund is closed and its final statement issued." in fund and f'href="{path}"' not in fund


def test_closing_refuses_bad_answers_beside_the_field_at_each_step_and_writes_nothing(api, book, fin):
    path = f"/people/{book.ana}/close"
    fields = fresh(fin, path)
    before = statements_of(api, book.ana)
    html = refused(fin.post(path, data={**fields, "step": "check", "date": "2026-11-10", "reference": "Ω-9"}),
                   "destination", 'value="Ω-9"')
    assert 'id="reason-error"' not in html  # the reason may be left out
    # A day in October, whose statement is issued: the operation's refusal, at the check.
    refused(fin.post(path, data={**fields, "step": "check", "date": "2026-10-30", "destination": "council",
                                 "reference": "R"}), "date", 'value="2026-10-30"')
    # A date in the future, sent straight to confirm: refused, nothing written.
    refused(fin.post(path, data={**fields, "step": "confirm", "date": "2026-11-11", "destination": "council",
                                 "reference": "R"}), "date")
    # Change the answers: back to the form with what was typed.
    back = fin.post(path, data={**fields, "step": "change", "date": "2026-11-10", "destination": "transfer",
                                "reference": "Keep me"}).get_data(as_text=True)
    assert 'value="Keep me"' in back and 'value="transfer" checked' in back
    assert statements_of(api, book.ana) == before and api.get(f"/api/v1/people/{book.ana}")["fund"]["closed_on"] is None
    # A refusal naming no field of the form (a shared membership still open) says why at the top.
    arr = api.post("/api/v1/shared-arrangements", {"name": "Sleep-in", "capacity": 2, "method": "equal",
                                                   "per_night": "62.40", "effective_from": "2026-11-01"})
    api.post(f"/api/v1/shared-arrangements/{arr['id']}/members", {
        "person_id": book.ana, "weight": "1", "from": "2026-11-01", "agreed_on": "2026-10-01", "recorded_by": "Sam"})
    html = fin.post(path, data={**fields, "step": "check", "date": "2026-11-10", "destination": "council",
                                "reference": "R"}).get_data(as_text=True)
    assert "There is a problem" in html and "still a member of shared arrangement" in html
    assert statements_of(api, book.ana) == before


# --- 9. A plan version ---------------------------------------------------------------------------

def plan_data(fields: dict, **over) -> dict:
    return {**fields, "effective_from": "2026-11-01", "annual_budget": "27000.00", "payment_cycle": "monthly",
            "contingency_amount": "600.00", "weekly_client_contribution": "10.00", "management_fee_rate": "0.08",
            "hours-day_support": "8.00", "rate-day_support": "22.00",
            "line-0-domain": "personal_care", "line-0-outcome": "Stays well at home", "line-0-annual_amount": "5000.00",
            "line-1-domain": "", "line-1-outcome": "", "line-1-annual_amount": "",
            "surplus_notice_days": "14", "contribution_spent_first": "false", **over}


def test_a_plan_version_is_added_once_as_the_api_adds_it_and_charges_are_repriced(api, book, fin):
    path = f"/people/{book.ana}/plans/new"
    assert f'href="{path}"' in fin.get(f"/people/{book.ana}").get_data(as_text=True)
    page = fin.get(path).get_data(as_text=True)
    assert 'value="26000.00"' in page and 'id="hours-day_support"' in page and 'value="7.00"' in page
    before = Decimal(balance(api, book.ana)["available"])
    data = plan_data(fresh(fin, path))
    r1, r2 = fin.post(path, data=data), fin.post(path, data=data)
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    plans = api.get(f"/api/v1/people/{book.ana}/plans")
    assert len(plans) == 2
    p = plans[-1]
    assert (p["version"], p["effective_from"], p["annual_budget"], p["payment_cycle"], p["contingency_amount"],
            p["weekly_client_contribution"], p["management_fee_rate"]) == (
        2, "2026-11-01", "27000.00", "monthly", "600.00", "10.00", "0.08")
    assert (p["planned_weekly_hours"], p["rate_overrides"]) == ({"day_support": "8.00"}, {"day_support": "22.00"})
    assert p["budget_lines"] == [{"domain": "personal_care", "outcome": "Stays well at home", "annual_amount": "5000.00"}]
    assert (p["surplus_notice_days"], p["contribution_spent_first"], p["surplus_threshold_weeks"]) == (14, False, None)
    # 3 November's 1.75 hours, charged at £20.00, are charged again at £22.00: £3.50 more.
    assert before - Decimal(balance(api, book.ana)["available"]) == Decimal("3.50")
    assert "The new plan version is added." in fin.get(r1.headers["Location"]).get_data(as_text=True)


def test_a_bad_plan_version_is_refused_beside_the_field_and_nothing_is_written(api, book, fin):
    path = f"/people/{book.ana}/plans/new"
    fields = fresh(fin, path)
    html = refused(fin.post(path, data=plan_data(fields, **{"hours-day_support": "lots"})), "hours-day_support",
                   'value="lots"', 'value="Stays well at home"')
    html = refused(fin.post(path, data=plan_data(fields, **{"line-1-outcome": "Gets to college",
                                                           "line-1-annual_amount": "12.345"})),
                   "line-1-annual_amount", 'value="Gets to college"')
    assert 'id="line-1-domain-error"' in html  # the part of the plan, not chosen
    assert "Budget line 2: choose the part of the plan" in html
    refused(fin.post(path, data=plan_data(fields, surplus_notice_days="a fortnight")), "surplus_notice_days",
            'value="a fortnight"')
    # A version already starts on 1 April: the operation's refusal, beside the date.
    refused(fin.post(path, data=plan_data(fields, effective_from="2026-04-01")), "effective_from", status=409)
    assert len(api.get(f"/api/v1/people/{book.ana}/plans")) == 1


# --- 10. Council rules with their history --------------------------------------------------------

def rules_data(fields: dict, **over) -> dict:
    return {**fields, "effective_from": "2026-11-01", "payment_cycle": "", "surplus_threshold_weeks": "",
            "surplus_notice_days": "", "bank_expiry_days": "", "surplus_alert_weeks": "",
            "contribution_spent_first": "", "voids_funded_by_council": "", **over}


def test_a_council_s_rules_are_changed_once_from_a_date_with_their_history(api, book, fin):
    council = api.get("/api/v1/councils")[0]
    path = f"/councils/{council['id']}/rules"
    assert f'href="{path}"' in fin.get(f"/people/{book.ana}").get_data(as_text=True)
    assert f'href="{path}"' in fin.get("/councils").get_data(as_text=True)
    words = text(fin.get(path).get_data(as_text=True))
    assert "The rules have not been changed." in words
    assert "Days of notice before a surplus is taken back 28" in words
    data = rules_data(fresh(fin, path), surplus_notice_days="14", surplus_threshold_weeks="0",
                      contribution_spent_first="false")
    r1, r2 = fin.post(path, data=data), fin.post(path, data=data)
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    got = api.get(f"/api/v1/councils/{council['id']}")
    assert (got["rules"]["surplus_notice_days"], got["rules"]["surplus_threshold_weeks"],
            got["rules"]["contribution_spent_first"], got["rules"]["payment_cycle"]) == (14, 0, False, None)
    assert got["in_force"]["surplus_notice_days"] == 14
    history = api.get(f"/api/v1/councils/{council['id']}/history")
    assert sorted((h["field"], h["old"], h["new"], h["effective_from"]) for h in history) == [
        ("contribution_spent_first", None, False, "2026-11-01"), ("surplus_notice_days", None, 14, "2026-11-01"),
        ("surplus_threshold_weeks", None, 0, "2026-11-01")]
    words = text(fin.get(r1.headers["Location"]).get_data(as_text=True))
    assert "The council's rules are saved." in words or "The council&#39;s rules are saved." in words
    assert "Days of notice before a surplus is taken back The provider's default 14 1 Nov 2026 fin" in words.replace(
        "&#39;", "'")
    # Back to the provider's default: an empty field is JSON's null.
    fin.post(path, data=rules_data(fresh(fin, path), surplus_threshold_weeks="0", contribution_spent_first="false"))
    assert api.get(f"/api/v1/councils/{council['id']}")["rules"]["surplus_notice_days"] is None
    assert len(api.get(f"/api/v1/councils/{council['id']}/history")) == 4


def test_bad_council_rules_are_refused_beside_the_field_and_nothing_is_written(api, book, fin):
    council = api.get("/api/v1/councils")[0]
    path = f"/councils/{council['id']}/rules"
    fields = fresh(fin, path)
    refused(fin.post(path, data=rules_data(fields, surplus_notice_days="400", bank_expiry_days="30")),
            "surplus_notice_days", 'value="400"', 'value="30"')
    refused(fin.post(path, data=rules_data(fields, surplus_threshold_weeks="four")), "surplus_threshold_weeks",
            'value="four"')
    refused(fin.post(path, data=rules_data(fields, effective_from="1 Nov")), "effective_from")
    assert api.get(f"/api/v1/councils/{council['id']}/history") == []
    assert fin.get("/councils/999999/rules").status_code == 404


# --- 11. The rate card ---------------------------------------------------------------------------

def test_a_rate_is_added_once_and_charges_from_its_date_are_repriced(api, book, fin):
    assert 'href="/rates"' in fin.get("/dashboard").get_data(as_text=True)
    words = text(fin.get("/rates").get_data(as_text=True))
    assert "day support hour £20.00 1 Jan 2026" in words
    before = Decimal(balance(api, book.ana)["available"])
    data = {**fresh(fin, "/rates"), "service": "day_support", "unit": "hour", "rate": "22.50",
            "effective_from": "2026-11-01"}
    r1, r2 = fin.post("/rates", data=data), fin.post("/rates", data=data)
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    card = api.get("/api/v1/rates")
    assert [(r["service"], r["unit"], r["rate"], r["effective_from"]) for r in card] == [
        ("day_support", "hour", "20.00", "2026-01-01"), ("day_support", "hour", "22.50", "2026-11-01")]
    # 3 November's 1.75 hours: £35.00 at £20.00, £39.38 at £22.50 (39.375 rounded half up): £4.38 more.
    assert before - Decimal(balance(api, book.ana)["available"]) == Decimal("4.38")
    words = text(fin.get(r1.headers["Location"]).get_data(as_text=True))
    assert "The rate is added to the rate card." in words and "day support hour £22.50 1 Nov 2026" in words


def test_a_bad_rate_is_refused_beside_the_field_and_nothing_is_written(api, book, fin):
    fields = fresh(fin, "/rates")
    refused(fin.post("/rates", data={**fields, "service": "Day Support!", "unit": "hour", "rate": "22.50",
                                     "effective_from": "2026-11-01"}), "service", 'value="Day Support!"')
    refused(fin.post("/rates", data={**fields, "service": "day_support", "rate": "0",
                                     "effective_from": "2026-11-01"}), "unit")
    refused(fin.post("/rates", data={**fields, "service": "day_support", "unit": "hour", "rate": "20.00",
                                     "effective_from": "2026-01-01"}), "effective_from", status=409)
    assert len(api.get("/api/v1/rates")) == 1


# --- 12. Shared arrangements ---------------------------------------------------------------------

def test_a_shared_arrangement_its_members_a_review_and_a_month_s_charge_with_its_working(api, book, fin):
    cy, di = api.person("Cy"), api.person("Di")
    for pid in (cy, di):
        api.receipt(pid, "2000.00", date="2026-10-01")
    assert 'href="/shared"' in fin.get(f"/people/{book.ana}").get_data(as_text=True)
    assert 'href="/shared/new"' in fin.get("/shared").get_data(as_text=True)
    data = {**fresh(fin, "/shared/new"), "name": "Sleep-in, 12 Rowan Close", "method": "equal", "capacity": "3",
            "per_night": "62.40", "effective_from": "2026-10-01", "domain": "staying_safe"}
    r1, r2 = fin.post("/shared/new", data=data), fin.post("/shared/new", data=data)
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    [arr] = api.get("/api/v1/shared-arrangements")
    assert (arr["name"], arr["capacity"], arr["method"], arr["per_night"], arr["weekly"], arr["effective_from"]) == (
        "Sleep-in, 12 Rowan Close", 3, "equal", "62.40", None, "2026-10-01")
    base = f"/shared/{arr['id']}"
    for pid in (cy, di):
        data = {**fresh(fin, f"{base}/members/new"), "person_id": str(pid), "weight": "1", "from": "2026-10-01",
                "agreed_on": "2026-09-01", "recorded_by": "Sam Broker"}
        r1, r2 = fin.post(f"{base}/members/new", data=data), fin.post(f"{base}/members/new", data=data)
        assert r1.status_code == r2.status_code == 303
    members = api.get(f"/api/v1/shared-arrangements/{arr['id']}/members")
    assert [(m["person_id"], m["from"], m["weight"], m["agreed_on"], m["recorded_by"]) for m in members] == [
        (cy, "2026-10-01", "1.00", "2026-09-01", "Sam Broker"), (di, "2026-10-01", "1.00", "2026-09-01", "Sam Broker")]

    month = f"{base}/charges/2026-10"
    assert fin.get(f"{base}/month?month=2026-10").headers["Location"].endswith(month)
    page = fin.get(month).get_data(as_text=True)
    assert "October 2026 has not been charged yet." in page
    fields = form_fields(page, month)
    r1, r2 = fin.post(month, data=fields), fin.post(month, data=fields)
    assert r1.status_code == r2.status_code == 303
    got = api.get(f"/api/v1/shared-arrangements/{arr['id']}/charges/2026-10")
    assert (got["cost"], got["total"]) == ("1934.40", "1934.40")
    html = fin.get(month).get_data(as_text=True)
    words = text(html)
    assert '<span id="cost">£1,934.40</span>' in html and '<span id="total">£1,934.40</span>' in html
    assert "Cy £644.80 31 1.00 31.00 of 93.00 place-days" in words
    assert "Empty places (paid by us, the provider) £644.80 31 31.00 of 93.00 place-days" in words
    assert api.balance(cy, "2026-10-31")["available"] == "1155.20"

    # Di leaves on 15 October: October is charged again, her 15 days of 93 place-days.
    di_membership = next(m["id"] for m in members if m["person_id"] == di)
    path = f"{base}/members/{di_membership}/review"
    data = {**fresh(fin, path), "effective_from": "2026-10-15", "to": "2026-10-15", "agreed_on": "2026-10-14",
            "recorded_by": "Sam Broker"}
    r1, r2 = fin.post(path, data=data), fin.post(path, data=data)
    assert r1.status_code == r2.status_code == 303
    terms = next(m for m in api.get(f"/api/v1/shared-arrangements/{arr['id']}/members")
                 if m["person_id"] == di)["terms"]
    assert [(t["effective_from"], t["to"], t["agreed_on"]) for t in terms] == [
        ("2026-10-01", None, "2026-09-01"), ("2026-10-15", "2026-10-15", "2026-10-14")]
    assert api.balance(di, "2026-12-31")["available"] == "1488.00"  # 1800.00 less 15/93 of 1934.40

    # A new cost from November: a version; nothing charged from then, so no difference.
    path = f"{base}/versions/new"
    data = {**fresh(fin, path), "capacity": "2", "per_night": "70.00", "effective_from": "2026-11-01"}
    r1, r2 = fin.post(path, data=data), fin.post(path, data=data)
    assert r1.status_code == r2.status_code == 303
    versions = api.get(f"/api/v1/shared-arrangements/{arr['id']}")["versions"]
    assert [(v["effective_from"], v["capacity"], v["per_night"]) for v in versions] == [
        ("2026-10-01", 3, "62.40"), ("2026-11-01", 2, "70.00")]
    words = text(fin.get(base).get_data(as_text=True))
    assert "1 Nov 2026 2 £70.00 a night" in words and "15 Oct 2026 1.00 15 Oct 2026 14 Oct 2026 Sam Broker" in words


def test_bad_shared_support_forms_are_refused_beside_the_field_and_nothing_is_written(api, book, fin):
    data = {**fresh(fin, "/shared/new"), "name": "Sleep-in", "method": "equal", "capacity": "3",
            "per_night": "62.40", "weekly": "400.00", "effective_from": "2026-10-01"}
    refused(fin.post("/shared/new", data=data), "per_night", 'value="400.00"')
    refused(fin.post("/shared/new", data={**data, "weekly": "", "capacity": "none"}), "capacity", 'value="none"')
    assert api.get("/api/v1/shared-arrangements") == []
    arr = api.post("/api/v1/shared-arrangements", {"name": "Sleep-in", "capacity": 1, "method": "equal",
                                                   "per_night": "62.40", "effective_from": "2026-10-01"})
    base = f"/shared/{arr['id']}"
    fields = fresh(fin, f"{base}/members/new")
    refused(fin.post(f"{base}/members/new", data={**fields, "person_id": "Ana", "from": "2026-10-01",
                                                  "agreed_on": "2026-09-01", "recorded_by": "Sam"}),
            "person_id", 'value="Ana"')
    refused(fin.post(f"{base}/members/new", data={**fields, "person_id": str(book.ana), "from": "2026-10-01",
                                                  "agreed_on": "2026-09-01"}), "recorded_by")
    assert api.get(f"/api/v1/shared-arrangements/{arr['id']}/members") == []
    # November is not over: charging it is refused on the page, and nothing is charged.
    month = f"{base}/charges/2026-11"
    r = fin.post(month, data=form_fields(fin.get(month).get_data(as_text=True), month))
    assert r.status_code == 409 and "There is a problem" in r.get_data(as_text=True)
    assert api.get(f"/api/v1/shared-arrangements/{arr['id']}/charges/2026-11", expect=404)
    assert fin.get("/shared/999999").status_code == 404


def test_the_shared_support_pages_read_in_a_handful_of_queries_whatever_the_number_of_members(api, book, fin):
    arr = api.post("/api/v1/shared-arrangements", {"name": "Sleep-in", "capacity": 6, "method": "equal",
                                                   "per_night": "62.40", "effective_from": "2026-10-01"})
    base = f"/shared/{arr['id']}"

    def join(n):
        for i in range(n):
            pid = api.person(f"Member {next(names)}")
            api.receipt(pid, "2000.00", date="2026-10-01")
            api.post(f"/api/v1/shared-arrangements/{arr['id']}/members", {
                "person_id": pid, "weight": "1", "from": "2026-10-01", "agreed_on": "2026-09-01",
                "recorded_by": "Sam"})

    pages = ["/shared", base, f"{base}/members/new", f"{base}/versions/new", f"{base}/charges/2026-10"]
    names = iter(range(100))
    join(2)
    api.post(f"/api/v1/shared-arrangements/{arr['id']}/charges/2026-10", {})
    before = page_queries(api, fin, pages)
    join(3)  # October is charged again with five members (add_member's recharge)
    after = page_queries(api, fin, pages)
    print("queries per page:", dict(zip(pages, after)))
    assert after == before, (before, after)
    assert max(after) <= 30, after


def test_brokers_open_the_forms_the_api_lets_them_use_and_no_others(api, book):
    pages_book.user(api, "bro", "--role", "broker")
    bro = sign_in(api.app.test_client(), "bro")
    pid = book.ana
    for path in ("/people/new", f"/people/{pid}/deliveries/new", f"/people/{pid}/spend/record",
                 f"/people/{pid}/contingency/set-aside", f"/people/{pid}/contingency/draw", f"/people/{pid}/name",
                 "/shared", "/shared/new"):
        assert bro.get(path).status_code == 200, path
    for path in (f"/people/{pid}/fee-refund", f"/people/{pid}/clawback", f"/people/{pid}/close",
                 f"/people/{pid}/plans/new", "/councils", "/councils/1/rules", "/rates"):
        assert bro.get(path).status_code == 403, path
    fund = bro.get(f"/people/{pid}").get_data(as_text=True)
    assert f'href="/people/{pid}/deliveries/new"' in fund and f'href="/people/{pid}/close"' not in fund
    pages_book.user(api, "pat", "--role", "person", "--person", str(pid))
    pat = sign_in(api.app.test_client(), "pat")
    assert pat.get(f"/people/{pid}/spend/record").status_code == 403 and pat.get("/people/new").status_code == 403


def test_a_field_left_out_or_mistyped_is_named_in_the_error_summary_in_plain_words(api, book, fin):
    # The schemas' own words ("Missing data for required field.", "Not a valid integer.") said
    # what was wrong but not where: a summary of three alike named no field.
    path = f"/people/{book.ana}/receipts/new"
    html = refused(fin.post(path, data={**fresh(fin, path), "step": "check", "date": "", "amount": "twelve",
                                        "source": "council"}), "date", 'value="twelve"')
    words = text(html)
    assert "Date received: fill this in" in words and "Amount: use pounds and pence, like 12.50" in words
    assert "Missing data" not in words and "Not an amount of money" not in words
    data = {**fresh(fin, "/shared/new"), "name": "Sleep-in", "method": "equal", "capacity": "none",
            "per_night": "", "weekly": "400.00", "effective_from": ""}
    words = text(refused(fin.post("/shared/new", data=data), "capacity", 'value="none"'))
    assert "Number of places: enter a whole number, like 4" in words and "From: fill this in" in words
    assert "Missing data" not in words and "Not a valid integer" not in words


def test_the_new_person_form_names_the_known_councils_in_full(api, book, fin):
    # "For example Northshire" led finance to type a short name, and a short name adds a second
    # council, with the provider's default rules, beside the one meant.
    api.post("/api/v1/people", {"name": "Bo", "council": "Eastmere City Council"})
    words = text(fin.get("/people/new").get_data(as_text=True))
    assert ("The council that pays for their support, its full name: Eastmere City Council or Northshire. "
            "A name not known here adds a new council.") in words
    pages_book.user(api, "bro", "--role", "broker")
    words = text(sign_in(api.app.test_client(), "bro").get("/people/new").get_data(as_text=True))
    assert "its full name: Eastmere City Council or Northshire." in words and "adds a new council" not in words


def test_month_end_sent_without_a_month_asks_for_one_to_be_chosen(api, book, fin):
    # The months are radios: the schema's "Missing data for required field." said nothing a
    # person could act on.
    r = fin.post("/month-end", data=fresh(fin, "/month-end"))
    words = text(refused(r, "month"))
    assert "Choose the month to issue the statements for" in words and "Missing data" not in words
