"""The person's and their family's pages, read through the Flask client: the right figures, the
same words as the statement's PDF, nobody else's money, errors as pages, a handful of queries
whatever the history; and the foundation under every page (the served CSS, forms over the API's
schemas with the error summary and a double submit that writes once, text size kept)."""
from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g, render_template_string, request, url_for

import pages_book
from isf_ledger.auth import access
from isf_ledger.accounts.receipts import record_receipt
from isf_ledger.accounts.schemas.receipts import ReceiptIn
from isf_ledger.db import db
from isf_ledger.pages.forms import PageForm
from isf_ledger.pages.views import signed_in
from isf_ledger.reports.render_pdf import letter
from pages_book import counted, pounds, sign_in, text

STATIC = Path(__file__).resolve().parents[2] / "isf_ledger" / "pages" / "static"


@pytest.fixture
def book(api, monkeypatch, tmp_path):
    return pages_book.build(api, monkeypatch, tmp_path)


def test_a_person_reads_what_is_left_the_pace_and_the_hours(api, book):
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    client = sign_in(api.app.test_client(), "ana")
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert html.count("<h1") == 1 and "<title>Your money – " in html
    assert f'<p class="isf-big-figure" id="left-now">{pounds(book.left_now)}</p>' in html
    words = text(html)
    # Plan year from 1 April 2026: by 10 November 224 of 365 days have gone (61%); the money used
    # (the fee on both receipts, 3.5 h and 1.75 h delivered and 2 h refused at £20, the bus pass)
    # is well behind.
    used = Decimal("200") + 100 + 70 + 35 + 40 + Decimal("45.60")
    assert f"£{used:,.2f} has been used so far. That is 2 pounds in every 100." in words
    assert "61 out of every 100 days of it have gone" in words
    assert f"You have {pounds(book.left_now)} left. That is more than planned for November. Money is building up." in words
    assert "Money building up" in words
    # November: 7 hours a week for 30 days = 30 hours planned; 1.75 hours used.
    assert "Your plan gives you 30 hours of help in November. You have used 1 hour 45 minutes so far." in words
    assert "£500.00 is kept" not in words  # nothing set aside
    assert "Bo" not in words and "9,000" not in words and "8,100" not in words
    # Every page a person may use is linked from home.
    for path in (f"/people/{book.ana}/this-month", f"/people/{book.ana}/statements", f"/people/{book.ana}/spend"):
        assert f'href="{path}"' in html
        assert client.get(path).status_code == 200


def test_this_month_says_what_came_in_what_it_paid_for_and_the_hours(api, book):
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    words = text(sign_in(api.app.test_client(), "ana").get(f"/people/{book.ana}/this-month").get_data(as_text=True))
    assert "Your own part £1,000.00" in words
    assert "From the council" not in words  # October's money came in last month
    assert "Your support £35.00" in words and "Our fee £100.00" in words
    assert "Hours you used 1 hour 45 minutes" in words and "Hours in your plan 30 hours" in words


def test_this_month_s_hours_used_are_the_home_page_s_and_the_statement_s(api, book):
    # Hours used are delivered and used from the bank (README "One meaning"): "This month" said
    # only the delivered ones under "Hours you used", so it disagreed with the home page.
    for day, qty, status, notice in (("2026-11-04", "2.00", "banked", "2026-11-01T09:00"),
                                     ("2026-11-06", "1.50", "bank_used", None)):
        api.post(f"/api/v1/people/{book.ana}/deliveries", {
            "date": day, "start_time": "10:00", "service": "day_support", "quantity": qty, "status": status,
            "domain": "work_leisure_learning", **({"notice_given_at": notice} if notice else {})})
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    client = sign_in(api.app.test_client(), "ana")
    home = text(client.get("/").get_data(as_text=True))
    month = text(client.get(f"/people/{book.ana}/this-month").get_data(as_text=True))
    assert "You have used 3 hours 15 minutes so far." in home  # 1.75 delivered and 1.5 from the bank
    assert "Hours you used 3 hours 15 minutes" in month and "Of these, saved hours 1 hour 30 minutes" in month
    assert "Hours saved for later 2 hours" in month


def test_october_statement_page_has_the_pdf_s_words_and_its_documents(api, book):
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    client = sign_in(api.app.test_client(), "ana")
    listing = client.get(f"/people/{book.ana}/statements").get_data(as_text=True)
    assert f'href="/people/{book.ana}/statements/2026-10">October 2026</a>' in listing
    html = client.get(f"/people/{book.ana}/statements/2026-10").get_data(as_text=True)
    doc = api.get(f"/api/v1/people/{book.ana}/statements/2026-10")
    words = text(html)
    for style, said in letter(doc):
        assert unescape(said) in words, said
    assert f"You have {pounds(book.october_closing)} at the end of October." in words
    pdf = client.get(f"/people/{book.ana}/statements/2026-10/statement.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    same = api.call("GET", f"/api/v1/people/{book.ana}/statements/2026-10?format=pdf")
    assert pdf.data == same.data  # the PDF as issued
    large = client.get(f"/people/{book.ana}/statements/2026-10/large-print.pdf")
    assert large.mimetype == "application/pdf" and large.data != pdf.data
    xlsx = client.get(f"/people/{book.ana}/statements/2026-10/statement.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client.get(f"/people/{book.ana}/statements/2026-09").status_code == 404
    assert client.get(f"/people/{book.ana}/statements/2026-13").status_code == 404
    assert client.get(f"/people/{book.ana}/statements/2026-10/other.pdf").status_code == 404


def test_what_was_spent_names_payee_what_when_the_domain_and_the_receipt(api, book):
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    client = sign_in(api.app.test_client(), "ana")
    words = text(client.get(f"/people/{book.ana}/spend").get_data(as_text=True))
    assert ("Bus pass for college How much £45.60 Who was paid Northshire Buses When 20 October 2026 "
            "Part of your plan Work, leisure and learning Receipt See the receipt") in words
    with client.get(f"/people/{book.ana}/spend/{book.spend_id}/receipt") as receipt:
        assert receipt.status_code == 200 and receipt.data == pages_book.PNG
    assert client.get(f"/people/{book.bo}/spend/{book.spend_id}/receipt").status_code == 403


def test_a_family_member_sees_the_same_and_nothing_of_anyone_else(api, book):
    for name in ("ana", "ana-sister"):  # two users linked to one person, each with a password
        pages_book.user(api, name, "--role", "person", "--person", str(book.ana))
    pages_book.user(api, "bo", "--role", "person", "--person", str(book.bo))
    pages = ["/", f"/people/{book.ana}", f"/people/{book.ana}/this-month", f"/people/{book.ana}/statements",
             f"/people/{book.ana}/statements/2026-10", f"/people/{book.ana}/spend"]
    seen = {}
    for name in ("ana", "ana-sister"):
        client = sign_in(api.app.test_client(), name)
        seen[name] = [re.sub(r"signed in as <strong>[^<]+</strong>|value=\"[^\"]+\"", "", client.get(p).get_data(as_text=True))
                      for p in pages]
        for path in (f"/people/{book.bo}", f"/people/{book.bo}/statements/2026-10", f"/people/{book.bo}/spend",
                     f"/people/{book.bo}/statements/2026-10/statement.pdf", "/people/999999"):
            r = client.get(path)
            assert r.status_code == 403 and r.mimetype == "text/html", path
            assert "9,000" not in r.get_data(as_text=True) and "Bo" not in text(r.get_data(as_text=True))
    assert seen["ana"] == seen["ana-sister"]
    bo = sign_in(api.app.test_client(), "bo")
    assert "Siân" not in text(bo.get("/").get_data(as_text=True))
    assert bo.get(f"/people/{book.ana}").status_code == 403


def main_words(html: str, letter: bool = False) -> str:
    """The page's own words in its main part (the statement's letter, which speaks to the person,
    left out unless `letter`)."""
    main = re.search(r'<main[^>]*>(.*)</main>', html, re.S).group(1)
    if not letter:
        main = re.sub(r'<div class="govuk-grid-column-two-thirds">.*?</h1>|<p class="govuk-body isf-break-anywhere">.*?</p>'
                      r'|<h2 class="govuk-heading-m">(?!How|Siân)[^<]*</h2>|<li>[^<]*</li>', " ", main, flags=re.S)
    return text(main)


def test_staff_reading_a_person_s_pages_see_the_person_s_name_where_the_person_sees_you(api, book):
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    pages_book.user(api, "fin", "--role", "finance")
    pages_book.user(api, "bro", "--role", "broker")
    pages_book.user(api, "reviewer", "--role", "auditor", "--council", "Northshire")
    name = "Siân Ó Briain"
    said_to_staff = {  # path -> (what staff read, what the person reads), each on the page
        f"/people/{book.ana}/this-month": (f"Things bought for {name}", "Things bought for you"),
        f"/people/{book.ana}/statements": (f"{name}’s statements", "Your statements"),
        f"/people/{book.ana}/statements/2026-10": (f"{name}’s statement for October 2026", "Your money for October 2026"),
        f"/people/{book.ana}/spend": (f"What was spent on {name}", "What was spent on you"),
        f"/people/{book.ana}/queries": (f"Questions about {name}’s money", "Questions about your money"),
    }
    you = re.compile(r"\b(you|your|yours)\b", re.I)
    for reader in ("fin", "bro", "reviewer"):
        client = sign_in(api.app.test_client(), reader)
        for path, (theirs, _) in said_to_staff.items():
            html = client.get(path).get_data(as_text=True)
            words = main_words(html)
            assert theirs in text(html) and f"<title>{theirs}" in unescape(html) or theirs in words, (reader, path)
            # "Your question" is the asker's own, and the letter is said to be the person's; the rest names them.
            words = words.replace("Your question", "").replace("It speaks to them as “you”.", "")
            assert not you.findall(words), (reader, path, you.findall(words))
        month = text(client.get(f"/people/{book.ana}/this-month").get_data(as_text=True))
        assert f"{name} has {pounds(book.left_now)} now." in month and f"Hours {name} used" in month
        october = client.get(f"/people/{book.ana}/statements/2026-10").get_data(as_text=True)
        assert f"This is the statement as it was sent to {name}. It speaks to them as “you”." in text(october)
        assert f"All {name}’s statements" in text(october)
    ana = sign_in(api.app.test_client(), "ana")
    for path, (theirs, mine) in said_to_staff.items():
        words = text(ana.get(path).get_data(as_text=True))
        assert mine in words and theirs not in words, path
    assert f"You have {pounds(book.left_now)} now." in text(ana.get(f"/people/{book.ana}/this-month").get_data(as_text=True))


def test_finance_reads_a_fund_page_and_an_unknown_id_is_a_404_page(api, book):
    pages_book.user(api, "fin", "--role", "finance")
    client = sign_in(api.app.test_client(), "fin")
    html = client.get(f"/people/{book.ana}").get_data(as_text=True)
    assert "Siân Ó Briain" in unescape(html) and f"{pounds(book.left_now)}" in html
    r = client.get("/people/999999")
    assert r.status_code == 404 and r.mimetype == "text/html" and "Page not found" in r.get_data(as_text=True)


def test_errors_are_pages_with_the_provider_s_contact_and_the_api_keeps_json(api, app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    r = api.call("PATCH", "/api/v1/provider", {"name": "Castle Supported Living", "phone": "01234 567890",
                                               "email": "money@castle.example"})
    assert r.status_code == 200, r.get_json()
    r = api.client.get("/no-such-page")
    assert r.status_code == 404 and r.mimetype == "text/html"
    words = text(r.get_data(as_text=True))
    assert "Page not found" in words and "01234 567890" in words and "money@castle.example" in words
    assert api.client.get("/api/v1/no-such-thing").get_json()["error"]["code"] == "not_found"
    assert api.call("GET", "/api/v1/people/999999").get_json()["error"]["code"] == "not_found"
    app.config["PROPAGATE_EXCEPTIONS"] = False
    r = app.test_client().get("/boom")
    assert r.status_code == 500 and r.mimetype == "text/html"
    assert "Sorry, something went wrong on our side" in r.get_data(as_text=True)
    assert "01234 567890" in r.get_data(as_text=True) and "a bug" not in r.get_data(as_text=True)


def test_each_page_reads_in_a_handful_of_queries_whatever_the_history(api, book):
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    client = sign_in(api.app.test_client(), "ana")
    pages = ["/", f"/people/{book.ana}/this-month", f"/people/{book.ana}/statements",
             f"/people/{book.ana}/statements/2026-10", f"/people/{book.ana}/spend"]

    def counts():
        out = []
        for path in pages:
            client.get(path)  # the first read of a session keeps the user's text size in it
            with counted(api.app) as seen:
                assert client.get(path).status_code == 200
            out.append(len(seen))
        return out

    before = counts()
    for i in range(12):  # more history: a receipt, a session and a spend every few days
        day = f"2026-{4 + i // 3:02d}-{1 + (i % 3) * 9:02d}"
        api.receipt(book.ana, "100.00", date=day)
        api.post(f"/api/v1/people/{book.ana}/deliveries", {"date": day, "start_time": "09:00", "service": "day_support",
                                                          "quantity": "1.00", "status": "delivered", "domain": "health"})
        api.post(f"/api/v1/people/{book.ana}/spend", {"date": day, "amount": "5.00", "payee": f"Shop {i}",
                                                     "category": "leisure", "domain": "health", "description": "Tea"})
    after = counts()
    assert after == before, (before, after)
    # The month's figures are the statement's read-model (about 15 reads, one per kind of figure,
    # for any number of people); the user, the person, the provider and the audit log's row on top.
    # 23 since the open queries' count joined this month's page; 25 since the fund's share of the
    # bank's interest (one grouped read) and how the provider handles it joined the figures.
    assert max(after) <= 25, after


def test_the_served_css_names_no_gds_transport_and_loads_nothing_from_another_site(api):
    def fetch(path):
        with api.client.get(path) as r:
            assert r.status_code == 200, path
            return r.mimetype, r.get_data(as_text=True)

    mimetype, css = fetch("/assets/isf.css")
    assert mimetype == "text/css"
    assert "gds transport" not in css.lower() and "Atkinson Hyperlegible" in css and "govuk-crest" not in css
    assert re.findall(r"url\(([^)]*)\)", css) == ['"/assets/fonts/atkinson-hyperlegible-latin-400-normal.woff2"',
                                                  '"/assets/fonts/atkinson-hyperlegible-latin-700-normal.woff2"']
    with api.client.get("/assets/fonts/atkinson-hyperlegible-latin-400-normal.woff2") as font:
        assert font.status_code == 200 and font.data[:4] == b"wOF2"
    assert "gds transport" not in fetch("/assets/govuk-frontend.min.js")[1].lower()
    assert "://" not in fetch("/assets/init.js")[1]
    login = api.client.get("/login").get_data(as_text=True)
    assert "GOV.UK" not in login and "crown" not in login.lower()
    assert not re.search(r'(src|href)="(https?:)?//', login)  # nothing from another site


def _receipt_form(app):
    """A page over the API's receipt schema and operation, as finance's pages will have."""
    template = """{% extends "pages/base.html" %}{% import "pages/form.html" as f %}
{% set error_count = form.errors | length %}{% block title %}Record money in{% endblock %}
{% block content %}{{ f.error_summary(form) }}<h1 class="govuk-heading-l">Record money in</h1>
<form method="post" novalidate>{{ f.hidden_fields(form) }}{{ f.input(form, "date") }}{{ f.input(form, "amount") }}
{{ f.input(form, "source") }}<button class="govuk-button">Save</button></form>{% endblock %}"""

    @signed_in
    def receipt_page(person_id):
        form = PageForm(ReceiptIn(), labels={"date": "Date", "amount": "Amount", "source": "From"},
                        messages={"amount": "Enter the amount in pounds, like 12.50"})
        if request.method == "POST" and form.load():
            done = form.write(lambda: (record_receipt(db.session, person_id, user_id=g.user.id, **form.data),
                                       url_for("pages.person", person_id=person_id))[1])
            if done is not None:
                return done
        return render_template_string(template, form=form), 422 if form.errors else 200

    app.add_url_rule("/test/people/<int:person_id>/receipts", "receipt_page", receipt_page, methods=["GET", "POST"])
    access.ACCESS["receipt_page.get"] = access.ACCESS["receipt_page.post"] = ("finance",)


def test_a_form_refuses_beside_the_field_keeps_what_was_typed_and_writes_once(api, app, monkeypatch):
    _receipt_form(app)
    try:
        pid = api.person("Cai")
        pages_book.user(api, "fin", "--role", "finance")
        client = sign_in(app.test_client(), "fin")
        path = f"/test/people/{pid}/receipts"
        html = client.get(path).get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)

        def receipts():
            with app.app_context():
                return db.session.scalar(sa.text("SELECT count(*) FROM receipts WHERE person_id = :p"), {"p": pid})

        # One bad field: the summary at the top, the message beside the field, what was typed kept.
        bad = client.post(path, data={"csrf_token": csrf, "idempotency_key": key, "date": "2026-10-01",
                                      "amount": "twelve", "source": "council"})
        assert bad.status_code == 422
        page = bad.get_data(as_text=True)
        assert '<div class="govuk-error-summary"' in page and '<a href="#amount">Enter the amount in pounds, like 12.50</a>' in page
        assert re.search(r'<p id="amount-error" class="govuk-error-message">\s*<span class="govuk-visually-hidden">Error:</span> '
                         r'Enter the amount in pounds, like 12.50', page)
        assert 'value="twelve"' in page and 'value="2026-10-01"' in page
        assert "<title>Error: Record money in" in page
        # A refusal by the operation (a date after today) shows beside its field too; nothing written.
        future = client.post(path, data={"csrf_token": csrf, "idempotency_key": key, "date": "2999-01-01",
                                         "amount": "12.50", "source": "council"})
        assert future.status_code == 422 and 'href="#date"' in future.get_data(as_text=True)
        assert receipts() == 0
        good = {"csrf_token": csrf, "idempotency_key": key, "date": "2026-10-01", "amount": "12.50", "source": "council"}
        first, second = client.post(path, data=good), client.post(path, data=good)
        assert first.status_code == second.status_code == 303
        assert first.headers["Location"] == second.headers["Location"] == f"/people/{pid}"
        assert receipts() == 1
    finally:
        access.ACCESS.pop("receipt_page.get", None), access.ACCESS.pop("receipt_page.post", None)


def test_text_size_is_kept_for_the_user_across_sign_ins(api, book):
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    client = sign_in(api.app.test_client(), "ana")
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en-GB" class="govuk-template">' in html
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post("/text-size", data={"csrf_token": csrf, "size": "large", "next": f"/people/{book.ana}/spend"})
    assert r.status_code == 303 and r.headers["Location"] == f"/people/{book.ana}/spend"
    assert 'class="govuk-template isf-text-large"' in client.get("/").get_data(as_text=True)
    again = sign_in(api.app.test_client(), "ana")
    assert 'class="govuk-template isf-text-large"' in again.get("/").get_data(as_text=True)
    r = client.post("/text-size", data={"csrf_token": csrf, "size": "huge", "next": "//evil.example/"})
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert 'class="govuk-template isf-text-large"' in client.get("/").get_data(as_text=True)


def test_the_statement_page_says_how_the_share_of_shared_support_was_worked_out(api, book):
    """A sleep-in of 3 places at £62.40 a night, two tenants for all October: £1,934.40 for
    everyone, 31 of 93 shares each, so £644.80 (the worked example of test_shared_support.py)."""
    cai, dee = api.person("Cai"), api.person("Dee")
    for pid in (cai, dee):
        api.plan(pid, planned_weekly_hours={"day_support": "7.00"})
        api.receipt(pid, "2000.00", date="2026-10-01")
    arr = api.post("/api/v1/shared-arrangements", {"name": "Sleep-in, 12 Rowan Close", "capacity": 3,
                                                   "method": "equal", "per_night": "62.40",
                                                   "effective_from": "2026-10-01"})
    for pid in (cai, dee):
        api.post(f"/api/v1/shared-arrangements/{arr['id']}/members", {
            "person_id": pid, "weight": "1", "from": "2026-10-01", "agreed_on": "2026-09-01", "recorded_by": "Sam"})
    api.post(f"/api/v1/shared-arrangements/{arr['id']}/charges/2026-10", {})
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)  # Cai's and Dee's October
    pages_book.user(api, "cai", "--role", "person", "--person", str(cai))
    client = sign_in(api.app.test_client(), "cai")
    page = client.get(f"/people/{cai}/statements/2026-10")
    assert page.status_code == 200
    words = text(page.get_data(as_text=True))
    assert ("How your part of shared support was worked out Sleep-in, 12 Rowan Close, October 2026: this help "
            "cost £1,934.40 for everyone. You had it for 31 days. That is 31 of the 93 shares of the month. "
            "There are 3 places, and empty places have their shares too. So your part is £644.80.") in words
    assert "Each of your days counts as" not in words  # a weight of 1 goes without saying
    # November's charge is not made yet: this month's page has no working to show.
    assert "How your part of shared support" not in text(client.get(f"/people/{cai}/this-month").get_data(as_text=True))
    # Someone who shares nothing sees no such part.
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    ana = sign_in(api.app.test_client(), "ana")
    assert "How your part of shared support" not in text(ana.get(f"/people/{book.ana}/statements/2026-10")
                                                         .get_data(as_text=True))


def test_the_questions_page_reads_in_a_handful_of_queries_whatever_their_number(api, book):
    """Each question says what it is about (a ledger line, a spend, a session, a statement): the
    items are read a kind at a time, so 30 questions take the queries 3 do."""
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    client = sign_in(api.app.test_client(), "ana")
    path = f"/people/{book.ana}/queries"
    counts, abouts = [], []
    for n in (3, 30):  # each of the three kinds of item from the first
        while len(abouts) < n:
            i = len(abouts)
            day = f"2026-11-{1 + i % 10:02d}"
            words = f"{1 + i % 10} November 2026"
            if i % 5 == 0:
                item = {"transaction_id": api.receipt(book.ana, "10.00", date=day, reference=f"R{i}")["transaction_id"]}
                about = f"Received: council payment R{i} on {words}"
            elif i % 5 == 1:
                item = {"spend_id": api.post(f"/api/v1/people/{book.ana}/spend", {
                    "date": day, "amount": "1.00", "payee": f"Shop {i}", "category": "leisure", "domain": "health",
                    "description": "Tea"})["id"]}
                about = f"Shop {i}: Tea on {words}"
            elif i % 5 == 2:
                item = {"delivery_id": api.post(f"/api/v1/people/{book.ana}/deliveries", {
                    "date": day, "start_time": "09:00", "service": "day_support", "quantity": "1.00",
                    "status": "delivered", "domain": "health"})["id"]}
                about = f"day support on {words}"
            elif i % 5 == 3:
                item, about = {"statement_month": "2026-10"}, "the statement for October 2026"
            else:
                item, about = {}, None
            api.post(f"/api/v1/people/{book.ana}/queries", {"message": f"Question {i}", **item})
            abouts.append(about)
        client.get(path)  # the first read of a session keeps the user's text size in it
        with counted(api.app) as seen:
            r = client.get(path)
        assert r.status_code == 200
        counts.append(len(seen))
        shown = re.findall(r"About: ([^<]*)</p>", unescape(r.get_data(as_text=True)))
        assert shown == [a for a in reversed(abouts) if a is not None]  # newest first
    assert counts[0] == counts[1] <= 11, counts  # 11 on SQLite, 9 on PostgreSQL (30 questions took 26 and 24)
