"""The brokers' pages through the Flask client, on both engines: their people with this week's
figures, a person's week laid out from the plan and recorded in one submit through the import
(delivered, refused, saved for later with notice, cancelled by us, not used without notice, saved
hours drawn), spend with a photo of its receipt one question a page then checked, refusals beside
the field with what was typed kept and nothing written, a double submit that writes once, and a
handful of queries whatever the number of funds.

Today is Tuesday 10 November 2026 (pages_book). Ana's plan is 7.00 hours of day support a week at
£20.00 an hour: laid out as 1.50, 1.50, 1.50, 1.25 and 1.25 hours from Monday to Friday."""
from __future__ import annotations

import io
import re
from datetime import date
from html import unescape

import pytest
import sqlalchemy as sa

import pages_book
from isf_ledger.db import db
from isf_ledger.pages.broker import planned_sessions
from pages_book import PNG, pounds
from test_pages_finance import count_rows, form_fields
from pages_book import counted, sign_in, text
@pytest.fixture
def book(api, monkeypatch, tmp_path):
    return pages_book.build(api, monkeypatch, tmp_path)


@pytest.fixture
def bro(api, book):
    pages_book.user(api, "bro", "--role", "broker")
    return sign_in(api.app.test_client(), "bro")


def as_sent(html: str, action: str) -> dict:
    """What a browser sends from the form posting to `action` untouched: its hidden fields, what
    each input holds, each select's chosen option and each radio group's checked item."""
    form = re.search(r'<form method="post" action="' + re.escape(action) + r'"[^>]*>(.*?)</form>', html, re.S).group(1)
    out = form_fields(html, action)
    for tag in re.findall(r"<input\s[^>]*>", form):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name is None or 'type="hidden"' in tag or 'type="file"' in tag:
            continue
        if 'type="radio"' in tag and " checked" not in tag:
            continue
        out[name.group(1)] = unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<select\s[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        out[name] = chosen.group(1) if chosen else ""
    return out


def week_form(client, path: str) -> dict:
    return as_sent(client.get(path).get_data(as_text=True), path)


def deliveries(api, pid, **q):
    query = "&".join(f"{k}={v}" for k, v in q.items())
    return api.get(f"/api/v1/people/{pid}/deliveries?{query}")


def test_the_layout_shares_a_week_over_the_weekdays_in_quarter_hours():
    monday = date(2026, 11, 9)
    got = planned_sessions({"day_support": 700}, {"day_support": "hour"}, monday)
    assert [(p.day.day, p.hundredths) for p in got] == [(9, 150), (10, 150), (11, 150), (12, 125), (13, 125)]
    # Anything under a quarter goes on the last session; nights one a night, seven at most.
    got = planned_sessions({"day_support": 1010, "waking_night": 900}, {"day_support": "hour", "waking_night": "night"},
                           monday)
    assert [p.hundredths for p in got if p.service == "day_support"] == [200, 200, 200, 200, 210]
    assert [p.hundredths for p in got if p.service == "waking_night"] == [100] * 7
    assert sum(p.hundredths for p in planned_sessions({"x": 16000}, {}, monday)) == 16000
    assert max(p.hundredths for p in planned_sessions({"x": 16000}, {}, monday)) <= 2400


def test_a_broker_s_home_leads_to_their_people_with_this_week(api, book, bro):
    assert 'href="/people"' in bro.get("/").get_data(as_text=True)
    html = bro.get("/people").get_data(as_text=True)
    assert html.count("<h1") == 1 and "<title>People and their week – " in html
    words = text(html)
    assert "This week is 9 November 2026 to 15 November 2026." in words
    # Ana: 7 hours planned this week, nothing recorded yet; Bo likewise; their money left.
    left_bo = api.get(f"/api/v1/people/{book.bo}/balance?as_of={pages_book.TODAY}")["available"]
    assert (f"Siân Ó Briain Planned this week 7 hours Recorded this week 0 hours Saved hours 0 hours "
            f"Money left {pounds(book.left_now)} Questions to answer 0") in words
    assert f"Bo Planned this week 7 hours Recorded this week 0 hours Saved hours 0 hours Money left {pounds(left_bo)}" in words
    assert f'href="/people/{book.ana}/week"' in html and f'href="/people/{book.ana}/spend/new"' in html
    assert "2 people." in words
    assert re.findall(r'id="person-(\d+)"', bro.get("/people?name=si%C3%A2n").get_data(as_text=True)) == [str(book.ana)]


def test_the_people_page_reads_in_a_handful_of_queries_whatever_the_number_of_funds(api, book, bro):
    bro.get("/people")
    with counted(api.app) as seen:
        assert bro.get("/people").status_code == 200
    few = len(seen)
    for i in range(30):
        pid = api.person(f"Person {i:02d}")
        api.plan(pid)
        api.receipt(pid, "100.00")
    with counted(api.app) as seen:
        html = bro.get("/people").get_data(as_text=True)
    assert "32 people." in text(html)
    assert len(seen) == few <= 12, seen  # 12 on SQLite, 11 on PostgreSQL


def test_a_week_reads_in_a_handful_of_queries_whatever_the_history(api, book, bro):
    path = f"/people/{book.ana}/week?week=2026-W45"
    bro.get(path)
    with counted(api.app) as seen:
        assert bro.get(path).status_code == 200
    few = len(seen)
    for day in range(1, 29):  # four more weeks of September's support, some of it saved for later
        api.post(f"/api/v1/people/{book.ana}/deliveries", {
            "date": f"2026-09-{day:02d}", "start_time": "10:00", "service": "day_support", "quantity": "1.00",
            "status": "banked" if day % 7 == 0 else "delivered", "notice_given_at": "2026-08-01T09:00",
            "domain": "health"})
        api.person(f"Person {day:02d}")
    with counted(api.app) as seen:
        assert bro.get(path).status_code == 200
    assert len(seen) == few <= 14, seen


def test_a_broker_records_a_week_in_one_submit_and_a_double_submit_writes_once(api, book, bro):
    path = f"/people/{book.ana}/week?week=2026-W45"
    html = bro.get(path).get_data(as_text=True)
    words = text(html)
    assert "Week of 2 November 2026" in words and html.count("<h1") == 1
    assert "The plan says 7 hours of day support a week." in words
    # Tuesday's session was recorded already (1.75 h delivered): shown as recorded, not offered.
    assert "Recorded: Day support, 1 hour 45 minutes from 10:00. Delivered ." in words
    assert 'name="s1_status"' not in html
    assert 'name="s0_status"' in html and 'name="s4_status"' in html
    assert 'id="s0_quantity" name="s0_quantity" type="text" value="1.50"' in html
    fields = as_sent(html, path)
    assert fields["domain_0"] == "work_leisure_learning"  # as the sessions before were recorded
    assert fields["s0_status"] == "" and fields["s0_start"] == "09:00"
    before = count_rows(api, "deliveries", book.ana)
    left = api.balance(book.ana, pages_book.TODAY)["available"]
    post = {**fields, "domain_0": "work_leisure_learning",
            "s0_status": "delivered", "s0_start": "09:00", "s0_quantity": "1.50",
            "s2_status": "refused", "s2_start": "09:00", "s2_quantity": "1.50",
            "s3_status": "banked", "s3_start": "09:00", "s3_quantity": "1.25", "s3_notice": "2026-11-01T10:00",
            "s4_status": "provider_cancelled", "s4_start": "09:00", "s4_quantity": "1.25"}
    r1 = bro.post(path, data=post)
    r2 = bro.post(path, data=post)
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    assert count_rows(api, "deliveries", book.ana) == before + 4
    with api.app.app_context():  # through the import: one file of four rows, named for the page
        imports = db.session.execute(sa.text("SELECT filename, rows, written FROM delivery_imports")).all()
    assert [tuple(r) for r in imports] == [(f"week 2026-W45 of person {book.ana} (web page)", 4, 4)]
    got = {d["date"]: (d["status"], d["quantity"], d["charge"], d["domain"])
           for d in deliveries(api, book.ana, **{"from": "2026-11-02", "to": "2026-11-08"})}
    assert got == {"2026-11-02": ("delivered", "1.50", "30.00", "work_leisure_learning"),
                   "2026-11-03": ("delivered", "1.75", "35.00", "work_leisure_learning"),
                   "2026-11-04": ("refused", "1.50", "30.00", "work_leisure_learning"),
                   "2026-11-05": ("banked", "1.25", "0.00", "work_leisure_learning"),
                   "2026-11-06": ("provider_cancelled", "1.25", "0.00", "work_leisure_learning")}
    # £30.00 delivered and £30.00 refused are charged; the bank holds 1.25 h.
    after = api.balance(book.ana, pages_book.TODAY)
    assert after["available"] == f"{float(left) - 60:.2f}" and after["bank_hours"] == "1.25"
    done = bro.get(r1.headers["Location"]).get_data(as_text=True)
    assert "4 sessions are recorded." in text(done) and 'name="s0_status"' not in done
    # This week: the saved hours can be drawn, with Monday's session marked in the same submit.
    path = f"/people/{book.ana}/week"
    html = bro.get(path).get_data(as_text=True)
    assert "Day support: 1 hour 15 minutes saved" in text(html)
    assert 'name="s2_status"' not in html  # Wednesday is after today
    assert "Planned: Day support, 1 hour 30 minutes. You can record it on the day." in text(html)
    r = bro.post(path, data={**as_sent(html, path), "s0_status": "unplanned", "s0_quantity": "1.50",
                             "u0_date": "2026-11-10", "u0_start": "14:00", "u0_quantity": "1.00"})
    assert r.status_code == 303, text(r.get_data(as_text=True))
    got = [(d["date"], d["status"], d["quantity"], d["charge"])
           for d in deliveries(api, book.ana, **{"from": "2026-11-09", "to": "2026-11-15"})]
    assert got == [("2026-11-09", "unplanned", "1.50", "30.00"), ("2026-11-10", "bank_used", "1.00", "20.00")]
    assert api.balance(book.ana, pages_book.TODAY)["bank_hours"] == "0.25"
    # The people page counts this week's hours: 1.50 not used and 1.00 from the bank.
    assert "Recorded this week 2 hours 30 minutes Saved hours 15 minutes" in text(bro.get("/people").get_data(as_text=True))


def test_a_bad_week_is_refused_beside_each_field_keeps_what_was_typed_and_writes_nothing(api, book, bro):
    path = f"/people/{book.ana}/week?week=2026-W45"
    fields = week_form(bro, path)
    before = count_rows(api, "deliveries", book.ana)
    r = bro.post(path, data={**fields, "s0_status": "delivered", "s0_quantity": "lots",
                             "s2_status": "banked", "s2_start": "09:00", "s2_notice": "2026-11-04T08:00",
                             "s3_status": "delivered", "s3_start": "25:00"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "There is a problem" in html and "<title>Error: " in html
    assert 'href="#s0_quantity"' in html and 'id="s0_quantity-error"' in html and 'value="lots"' in html
    assert "Enter the hours as a number, for example 1.50" in text(html)
    assert 'id="s2_notice-error"' in html and 'value="2026-11-04T08:00"' in html
    assert "Only 1 h 00 m of notice before the session; banking needs 48 h, so choose “Not used, without notice”" in text(html)
    assert 'id="s3_start-error"' in html and 'value="25:00"' in html
    assert 'value="banked" checked' in html
    # Saved for later without any notice, and saved hours the bank does not hold.
    r = bro.post(path, data={**fields, "s0_status": "banked"})
    assert 'id="s0_notice-error"' in r.get_data(as_text=True)
    # Nothing marked at all.
    r = bro.post(path, data=fields)
    assert 'id="s0_status-error"' in r.get_data(as_text=True)
    assert count_rows(api, "deliveries", book.ana) == before


def test_a_broker_records_spend_with_a_photo_of_the_receipt(api, book, bro):
    start = bro.get(f"/people/{book.ana}/spend/new")
    assert start.status_code == 303
    step = start.headers["Location"]
    assert step == f"/people/{book.ana}/spend/new/what"
    answers = [("what", {"description": "Swimming, Ω lane", "category": "leisure"}),
               ("amount", {"amount": "12.50"}), ("date", {"date": "2026-11-09"}),
               ("payee", {"payee": "Northshire Leisure"}), ("domain", {"domain": "health"})]
    for name, given in answers:
        html = bro.get(step).get_data(as_text=True)
        assert html.count("<h1") == 1 and 'name="csrf_token"' in html
        r = bro.post(step, data={**form_fields(html, step), **given})
        assert r.status_code == 303, text(r.get_data(as_text=True))
        step = r.headers["Location"]
    assert step == f"/people/{book.ana}/spend/new/receipt"
    html = bro.get(step).get_data(as_text=True)
    assert 'accept="image/*,application/pdf"' in html and 'capture="environment"' in html
    assert 'enctype="multipart/form-data"' in html
    r = bro.post(step, data={**form_fields(html, step), "file": (io.BytesIO(PNG), "till receipt.png")},
                 content_type="multipart/form-data")
    assert r.status_code == 303
    check = r.headers["Location"]
    html = bro.get(check).get_data(as_text=True)
    words = text(html)
    left = api.balance(book.ana, pages_book.TODAY)["available"]
    assert "Check the spend before it is recorded" in words
    assert '<span id="amount">£12.50</span>' in html and '<span id="what">Swimming, Ω lane</span>' in html
    assert "Part of the plan Health" in words and "Photo added: till receipt.png" in words
    assert f'<span id="left">{pounds(f"{float(left) - 12.5:.2f}")}</span>' in html
    assert f'href="/people/{book.ana}/spend/new/amount?change=1"' in html
    before = count_rows(api, "spend", book.ana)
    confirm = form_fields(html, check)
    r1, r2 = bro.post(check, data=confirm), bro.post(check, data=confirm)
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    assert count_rows(api, "spend", book.ana) == before + 1
    got = api.get(f"/api/v1/people/{book.ana}/spend")[-1]
    assert (got["amount"], got["payee"], got["category"], got["domain"], got["description"], got["date"]) == (
        "12.50", "Northshire Leisure", "leisure", "health", "Swimming, Ω lane", "2026-11-09")
    assert got["receipt_file"]["media_type"] == "image/png" and got["receipt_file"]["name"] == "till receipt.png"
    assert api.balance(book.ana, pages_book.TODAY)["available"] == f"{float(left) - 12.5:.2f}"
    assert "The spend for Siân Ó Briain is recorded." in text(bro.get(r1.headers["Location"]).get_data(as_text=True))
    # The draft is gone: the check page starts again.
    assert bro.get(check).status_code == 303


def test_a_bad_answer_is_refused_on_its_own_page_keeps_what_was_typed_and_writes_nothing(api, book, bro):
    bro.get(f"/people/{book.ana}/spend/new")
    step = f"/people/{book.ana}/spend/new/amount"
    fields = form_fields(bro.get(step).get_data(as_text=True), step)
    r = bro.post(step, data={**fields, "amount": "twelve"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "<title>Error: " in html and 'id="amount-error"' in html and 'value="twelve"' in html
    assert "Enter how much it was in pounds and pence, for example 12.50" in text(html)
    for typed, kept in (("£8", "8"), ("£ 1,250.5", "1250.5"), ("1,250.00", "1250.00")):  # as a receipt writes it
        assert bro.post(step, data={**fields, "amount": typed}).status_code == 303
        assert f'value="{kept}"' in bro.get(step).get_data(as_text=True)
    for typed in ("£8.5.0", "12,34", "-£8"):
        assert 'id="amount-error"' in bro.post(step, data={**fields, "amount": typed}).get_data(as_text=True)
    step = f"/people/{book.ana}/spend/new/date"
    dated = form_fields(bro.get(step).get_data(as_text=True), step)
    html = bro.post(step, data={**dated, "date": "2026-11-11"}).get_data(as_text=True)
    assert 'id="date-error"' in html and "2026-11-11 is after today (2026-11-10)" in text(html)
    html = bro.post(step, data={**dated, "date": "11/09/2026"}).get_data(as_text=True)
    assert 'id="date-error"' in html and 'value="11/09/2026"' in html
    step = f"/people/{book.ana}/spend/new/amount"
    r = bro.post(step, data={**fields, "amount": ""})
    assert "Enter how much it was in pounds and pence, for example 12.50" in text(r.get_data(as_text=True))
    step = f"/people/{book.ana}/spend/new/receipt"
    fields = form_fields(bro.get(step).get_data(as_text=True), step)
    r = bro.post(step, data={**fields, "file": (io.BytesIO(b"not a photo"), "receipt.jpg")},
                 content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="file-error"' in html and "is not an image" in html
    # More than the fund holds: refused on the check page, nothing written.
    for name, given in (("what", {"description": "A holiday", "category": "holidays"}),
                        ("amount", {"amount": "99999.00"}), ("date", {"date": "2026-11-09"}),
                        ("payee", {"payee": "Sunny Travel"}), ("domain", {"domain": "work_leisure_learning"})):
        path = f"/people/{book.ana}/spend/new/{name}"
        assert bro.post(path, data={**form_fields(bro.get(path).get_data(as_text=True), path), **given}).status_code == 303
    check = f"/people/{book.ana}/spend/new/check"
    before = count_rows(api, "spend", book.ana)
    r = bro.post(check, data=form_fields(bro.get(check).get_data(as_text=True), check))
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and "There is a problem" in html and "<title>Error: " in html
    assert count_rows(api, "spend", book.ana) == before


def test_people_and_reviewers_may_not_use_the_broker_pages(api, book):
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    client = sign_in(api.app.test_client(), "ana")
    for path in ("/people", f"/people/{book.ana}/week", f"/people/{book.ana}/spend/new",
                 f"/people/{book.ana}/spend/new/what", f"/people/{book.ana}/spend/new/check"):
        assert client.get(path).status_code == 403, path
    pages_book.user(api, "fin2", "--role", "finance")
    fin = sign_in(api.app.test_client(), "fin2")
    assert fin.get("/people").status_code == 200 and fin.get(f"/people/{book.ana}/week").status_code == 200
    assert fin.get(f"/people/{book.ana}/spend/new/nonsense").status_code == 404
    for week in ("9999-W52", "0001-W01", "2025-W53", "x", "2026-W-1", "٢٠٢٦-W01"):  # this week instead
        assert "Week of 9 November 2026" in text(fin.get(f"/people/{book.ana}/week?week={week}").get_data(as_text=True))


def test_long_answers_never_grow_the_session_cookie_past_what_a_browser_keeps(api, book, bro, monkeypatch):
    import random

    from isf_ledger.pages import broker
    rng = random.Random(7)
    wide = lambda n: "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(n))  # noqa: E731 - 3 bytes each
    bro.get(f"/people/{book.ana}/spend/new")
    answers = (("what", {"description": wide(500), "category": "leisure"}),
               ("payee", {"payee": wide(200), "invoice_reference": wide(100)}))
    for name, given in answers:
        path = f"/people/{book.ana}/spend/new/{name}"
        r = bro.post(path, data={**form_fields(bro.get(path).get_data(as_text=True), path), **given})
        assert r.status_code == 303 and len(r.headers.get("Set-Cookie", "")) < 4096  # taken: on to the next step
    # Where the cookie would outgrow its room, the answer is refused beside its field and not kept.
    monkeypatch.setattr(broker, "COOKIE_ROOM", 600)
    path = f"/people/{book.ana}/spend/new/what"
    r = bro.post(path, data={**form_fields(bro.get(path).get_data(as_text=True), path),
                             "description": "A much longer answer " * 20, "category": "leisure"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="description-error"' in html
    assert "This is too long to keep: write it in fewer words" in text(html)
    assert bro.get("/people").status_code == 200  # still signed in


def test_a_session_reversed_by_finance_is_recorded_again_from_the_week(api, book, bro):
    """Issue 25: the week page sends its rows as a deliveries file, and imports skip a file seen
    before; a session recorded, reversed (entered for the wrong day, say) and recorded again the
    same way made the same file, so nothing was written and the page said it was recorded before."""
    path = f"/people/{book.ana}/week?week=2026-W45"
    mark = {"s0_status": "delivered", "s0_start": "09:00", "s0_quantity": "1.50"}
    first = bro.post(path, data={**week_form(bro, path), **mark})
    assert first.status_code == 303 and "recorded=1" in first.headers["Location"]
    monday = [d for d in deliveries(api, book.ana, **{"from": "2026-11-02", "to": "2026-11-02"})]
    assert [d["status"] for d in monday] == ["delivered"]
    api.post(f"/api/v1/deliveries/{monday[0]['id']}/reverse", {"reason": "Recorded twice by mistake"})
    html = bro.get(path).get_data(as_text=True)
    assert 'name="s0_status"' in html  # offered again: the reversed session is not recorded any more
    before = count_rows(api, "deliveries", book.ana)
    again = bro.post(path, data={**as_sent(html, path), **mark})
    assert again.status_code == 303 and "recorded=1" in again.headers["Location"], again.headers["Location"]
    assert count_rows(api, "deliveries", book.ana) == before + 1
    assert "1 session is recorded." in text(bro.get(again.headers["Location"]).get_data(as_text=True))
    monday = deliveries(api, book.ana, **{"from": "2026-11-02", "to": "2026-11-02"})
    assert [(d["status"], d["quantity"], d["reversed"]) for d in monday] == [("delivered", "1.50", True),
                                                                             ("delivered", "1.50", False)]
    assert monday[0]["external_id"] != monday[1]["external_id"]  # each a visit of its own submission
