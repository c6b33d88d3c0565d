"""Monthly statements: figures, issuing once, closed months, corrections, documents and roles."""
from __future__ import annotations

import io
import re
import threading
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa
import textstat
from pypdf import PdfReader

from isf_ledger import clock
from isf_ledger.ledger.post import Entry, lock_funds, person_accounts, post, provider_accounts
from isf_ledger.models import Account
from isf_ledger.db import db
from isf_ledger.reports import statements as st
from isf_ledger.reports.render_pdf import text_of
from isf_ledger.reports.figures import HEADINGS, OUTGOING
from isf_ledger.reports.render_xlsx import LABELS


@pytest.fixture
def today(monkeypatch):
    """Month end runs on the provider's today: set it."""
    box = {"day": date(2026, 11, 3)}
    monkeypatch.setattr(clock, "today", lambda: box["day"])
    return box


def _post(api, pid, kind, pence, day, extra):
    """A charge straight through the engine, as deliveries and shared support post them."""
    with api.app.app_context():
        funds = lock_funds(db.session, [pid])
        acc, prov = person_accounts(db.session, pid), provider_accounts(db.session)
        if extra == "shared_arrangement":  # an arrangement's own account, as shared_support opens one
            prov[extra] = db.session.scalar(sa.select(Account).where(Account.code == "arrangement:test"))
            if prov[extra] is None:
                prov[extra] = Account(code="arrangement:test", kind=extra, name="A test sleep-in")
                db.session.add(prov[extra])
                db.session.flush()
        post(db.session, [Entry(kind=kind, date=day, person_id=pid, description=f"{kind} test",
                                legs=[(acc["available"], -pence), (prov[extra], pence),
                                      (prov["client_money"], pence), (prov["provider_bank"], -pence)])], funds)
        db.session.commit()


def support(api, pid, pence, day):
    _post(api, pid, "delivery", pence, day, "support_income")


def shared(api, pid, pence, day):
    _post(api, pid, "shared_charge", pence, day, "shared_arrangement")


def ana_october(api):
    ana = api.person("Ana")
    api.plan(ana, effective_from="2026-10-01")
    api.receipt(ana, "2000.00", "2026-10-01")
    support(api, ana, 30525, date(2026, 10, 20))  # 185.00 + 37.00 + 27.75 + 55.50
    shared(api, ana, 64480, date(2026, 10, 31))
    return ana


def issue(api, month="2026-10", expect=200, **kw):
    return api.post(f"/api/v1/statements/{month}/issue", {}, expect=expect, **kw)


def test_worked_example_through_the_api(api, today):
    ana = ana_october(api)
    done = issue(api)
    assert (done["issued"], done["already_issued"]) == (1, 0)
    assert done["statements"] == [{"person_id": ana, "number": 1}]
    s = api.get(f"/api/v1/people/{ana}/statements/2026-10")
    assert {k: s[k] for k in ("person_id", "month", "number", "replaces", "opening_balance", "receipts_total",
                              "management_fee_total", "support_charged_total", "shared_support_total",
                              "spend_total", "clawback_total", "closing_balance", "surplus_above_threshold")} == {
        "person_id": ana, "month": "2026-10", "number": 1, "replaces": None, "opening_balance": "0.00",
        "receipts_total": "2000.00", "management_fee_total": "200.00", "support_charged_total": "305.25",
        "shared_support_total": "644.80", "spend_total": "0.00", "clawback_total": "0.00",
        "closing_balance": "849.95", "surplus_above_threshold": "0.00"}
    assert s["issued_at"]
    assert s["contingency"] == {"set_aside": "0.00", "drawn": "0.00", "remaining": "0.00"}
    # 7 hours a week for all 31 days of October: 31.00; the rest come with the hours branch.
    assert s["hours"] == {"planned": "31.00", "delivered": "0.00", "refused": "0.00", "unplanned": "0.00",
                          "banked": "0.00", "bank_used": "0.00", "provider_cancelled": "0.00",
                          "bank_balance": "0.00", "used": "0.00"}
    # 26,000 a year four-weekly: 2,000 due on 1 and 29 October; only the first came.
    assert s["arrears"]["council"] == {"due": "4000.00", "received": "2000.00", "arrears": "2000.00"}
    assert s["arrears"]["person"]["arrears"] == "0.00"
    assert s["next_instalment"] == {"date": "2026-11-26", "amount": "2000.00", "council": "2000.00",
                                    "person": "0.00"}
    assert s["surplus"]["threshold"] == "2000.00" and not s["overdrawn"]
    # Forecast: 849.95 + 11 instalments to come in the plan year less their fee (11 x 1,800.00)
    # - October's use without the fee (950.05 in 31 days) over the 334 days to 2027-09-30.
    fc = s["forecast"]
    assert fc["plan_year_end"] == "2027-09-30" and fc["instalments_to_come"] == "19800.00"
    assert fc["balance"] == "10413.93"  # 849.95 + 19800.00 - round(95005 / 31 * 334) pence
    assert s["plan_year"]["months"] == [{"month": "2026-10", "used": "1150.05", "planned": "2166.67"}]
    with api.app.app_context():
        assert db.session.scalar(sa.text(f"SELECT issued_through FROM funds WHERE person_id = {ana}")) in (
            date(2026, 10, 1), "2026-10-01")


def test_re_running_month_end_issues_nothing_new(api, today):
    ana = ana_october(api)
    bo = api.person("Bo")
    first = issue(api)
    again = issue(api)
    assert (again["issued"], again["already_issued"]) == (0, 2)
    assert again["statements"] == first["statements"]
    assert sorted(s["number"] for s in again["statements"]) == [1, 2]
    assert api.get(f"/api/v1/people/{bo}/statements/2026-10")["closing_balance"] == "0.00"
    assert api.get(f"/api/v1/people/{ana}/statements/2026-10")["number"] in (1, 2)


def test_a_month_not_yet_ended_is_refused(api, today):
    ana_october(api)
    today["day"] = date(2026, 10, 31)
    r = api.call("POST", "/api/v1/statements/2026-10/issue", {})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "month_not_ended"
    assert api.call("POST", "/api/v1/statements/2026-13/issue", {}).status_code == 422
    with api.app.app_context():
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM statements")) == 0


def test_a_late_item_goes_to_the_open_month_and_a_correction_lists_it(api, today):
    ana = ana_october(api)
    issue(api)
    before = api.get(f"/api/v1/people/{ana}/statements/2026-10")
    support(api, ana, 1850, date(2026, 10, 25))  # recorded late: October is closed
    assert api.get(f"/api/v1/people/{ana}/statements/2026-10") == before
    with api.app.app_context():
        row = db.session.execute(sa.text(
            f"SELECT date, service_date FROM transactions WHERE person_id = {ana} ORDER BY id DESC LIMIT 1")).one()
        assert [str(x) for x in row] == ["2026-11-01", "2026-10-25"]
    today["day"] = date(2026, 12, 2)
    issue(api, "2026-11")
    nov = api.get(f"/api/v1/people/{ana}/statements/2026-11")
    assert nov["opening_balance"] == "849.95" and nov["support_charged_total"] == "18.50"
    assert nov["closing_balance"] == "831.45"

    with api.app.app_context():  # what a correction is for: the name was misspelt
        db.session.execute(sa.text(f"UPDATE people SET name = 'Ana Lopez' WHERE id = {ana}"))
        db.session.commit()
    fixed = api.post(f"/api/v1/people/{ana}/statements/2026-10/corrections", {"reason": "a late visit"})
    assert fixed["number"] == 3 and fixed["replaces"] == 1 and fixed["reason"] == "a late visit"
    assert (before["name"], fixed["name"]) == ("Ana", "Ana Lopez")
    for k in ("opening_balance", "support_charged_total", "closing_balance", "arrears", "hours"):
        assert fixed[k] == before[k]
    [late] = fixed["late_items"]
    assert (late["service_date"], late["date"], late["amount"], late["counted_in"]) == (
        "2026-10-25", "2026-11-01", "-18.50", "2026-11")
    assert api.get(f"/api/v1/people/{ana}/statements/2026-10") == fixed
    pdf = PdfReader(io.BytesIO(api.client.get(
        f"/api/v1/people/{ana}/statements/2026-10?format=pdf",
        headers={"Authorization": f"Bearer {api.token}"}).data))
    text = " ".join(" ".join(p.extract_text() for p in pdf.pages).split())
    assert "statement number 1" in text and "counted in November 2026" in text
    with api.app.app_context():  # the first is kept
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM statements WHERE month = '2026-10-01'")) == 2


def test_an_overdrawn_month_is_said_plainly(api, today):
    ana = api.person("Ana")
    support(api, ana, 1250, date(2026, 10, 2))
    issue(api)
    s = api.get(f"/api/v1/people/{ana}/statements/2026-10")
    assert s["closing_balance"] == "-12.50" and s["overdrawn"] and s["provider_makes_good"] == "12.50"
    text = text_of(s)
    assert "£12.50 below zero" in text and "will make good" in text and "You do not need to do anything" in text


def test_opening_equals_the_last_closing_across_a_plan_year(api, today):
    ana = api.person("Ana")
    api.plan(ana, effective_from="2026-01-01", annual_budget="13000.00")
    today["day"] = date(2027, 2, 2)  # money is never dated after today
    api.receipt(ana, "1000.00", "2026-12-10")
    support(api, ana, 40000, date(2026, 12, 20))
    api.receipt(ana, "1000.00", "2027-01-07")
    support(api, ana, 30000, date(2027, 1, 15))
    issue(api, "2026-12")
    issue(api, "2027-01")
    dec = api.get(f"/api/v1/people/{ana}/statements/2026-12")
    jan = api.get(f"/api/v1/people/{ana}/statements/2027-01")
    assert dec["closing_balance"] == "500.00" and jan["opening_balance"] == dec["closing_balance"]
    assert jan["closing_balance"] == "1100.00"
    assert dec["plan_year"]["start"] == "2026-01-01" and jan["plan_year"]["start"] == "2027-01-01"
    assert len(dec["plan_year"]["months"]) == 12 and len(jan["plan_year"]["months"]) == 1


@pytest.fixture
def offline_syllables(monkeypatch):
    """textstat counts syllables from NLTK's CMU dictionary, a download at first use; tests run
    offline, so it counts them from pyphen's hyphenation dictionary, which ships with it."""
    from textstat.backend.counts import _count_syllables
    monkeypatch.setattr(_count_syllables, "get_cmudict", lambda lang: None)


def test_the_pdf_holds_the_figures_and_reads_at_grade_six(api, today, offline_syllables):
    ana = ana_october(api)
    issue(api)
    for large in ("false", "true"):
        r = api.client.get(f"/api/v1/people/{ana}/statements/2026-10?format=pdf&large_print={large}",
                           headers={"Authorization": f"Bearer {api.token}"})
        assert r.status_code == 200 and r.mimetype == "application/pdf"
        reader = PdfReader(io.BytesIO(r.data))
        text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
        for figure in ("£2,000.00", "£200.00", "£305.25", "£644.80", "£849.95", "31 hours", "26 November 2026"):
            assert figure in text, figure
        assert reader.metadata.title == "Money statement for October 2026: Ana"
        assert reader.trailer["/Root"]["/Lang"] == "en-GB"
    s = api.get(f"/api/v1/people/{ana}/statements/2026-10")
    # Amounts and dates read as one word each: their full stops would count as sentence ends.
    words = re.sub(r"£[0-9,]+\.[0-9]{2}|[0-9]+\.[0-9]{2}", "money", text_of(s))
    grade = textstat.flesch_kincaid_grade(words)
    print(f"reading grade (Flesch-Kincaid): {grade}")
    assert grade <= 6, grade
    assert textstat.flesch_kincaid_grade(re.sub(r"£[0-9,]+\.[0-9]{2}", "money", text)) <= 6


def test_the_stored_pdf_matches_its_hash_and_statements_cannot_change(api, today):
    import hashlib
    ana = ana_october(api)
    issue(api)
    r = api.client.get(f"/api/v1/people/{ana}/statements/2026-10?format=pdf",
                       headers={"Authorization": f"Bearer {api.token}"})
    with api.app.app_context():
        assert db.session.scalar(sa.text("SELECT pdf_sha256 FROM statements")) == hashlib.sha256(r.data).hexdigest()
        for sql in ("UPDATE statements SET figures = '{}'", "DELETE FROM statements",
                    "UPDATE statement_documents SET pdf = X'00'", "DELETE FROM statement_documents",
                    "UPDATE funds SET issued_through = NULL WHERE 1 = 0"):
            try:
                db.session.execute(sa.text(sql))
                db.session.commit()
                assert sql.startswith("UPDATE funds"), f"{sql} was allowed"
            except sa.exc.DBAPIError:
                db.session.rollback()


def test_the_workbook_formulas_total_the_lines(api, today):
    ana = ana_october(api)
    wrong = api.receipt(ana, "100.00", "2026-10-05")
    api.post(f"/api/v1/transactions/{wrong['transaction_id']}/reverse", {"reason": "not Ana's"})
    issue(api)
    r = api.client.get(f"/api/v1/people/{ana}/statements/2026-10?format=xlsx",
                       headers={"Authorization": f"Bearer {api.token}"})
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    lines, sheet = wb["Lines"], wb["Statement"]
    by_heading: dict[str, float] = {}
    for row in lines.iter_rows(min_row=2, values_only=True):
        by_heading[row[5]] = by_heading.get(row[5], 0) + row[6]
    s = api.get(f"/api/v1/people/{ana}/statements/2026-10")
    checked = 0
    for row in sheet.iter_rows(min_row=7):
        formula = row[2].value
        if isinstance(formula, str) and "SUMIF" in formula:
            heading = formula.split('"')[1]  # the heading in words, as the Lines sheet shows it
            sign = -1 if {v: k for k, v in LABELS.items()}[heading] in OUTGOING else 1
            assert round(sign * by_heading.get(heading, 0), 2) == float(row[1].value), heading
            assert row[3].value.startswith("=B")
            checked += 1
    assert checked == len(set(HEADINGS.values()))
    assert round(sum(by_heading.values()), 2) == float(s["closing_balance"]) - float(s["opening_balance"])


def test_who_may_read_and_who_may_issue(api, today):
    ana = ana_october(api)
    bo = api.person("Bo", council="Southvale")
    issue(api)
    own = api.user("person", "--person", str(ana))
    other = api.user("person", "--person", str(bo))
    auditor = api.user("auditor", "--council", "Northshire")
    broker = api.user("broker")
    path = f"/api/v1/people/{ana}/statements/2026-10"
    assert api.get(path, token=own)["closing_balance"] == "849.95"
    assert api.get(path, token=auditor)["number"] == 1 and api.get(path, token=broker)["number"] == 1
    api.get(path, token=other, expect=403)
    api.get(f"/api/v1/people/{bo}/statements/2026-10", token=auditor, expect=403)
    api.post("/api/v1/statements/2026-10/issue", {}, token=broker, expect=403)
    api.post(f"{path}/corrections", {"reason": "x"}, token=own, expect=403)
    api.post(f"{path}/corrections", {}, expect=422)
    api.get(f"/api/v1/people/{ana}/statements/2026-09", expect=404)
    api.get(f"/api/v1/people/{ana}/statements/2026-10?format=doc", expect=422)


def test_the_command_line_issues_with_a_summary(api, today):
    ana_october(api)
    api.person("Bo")
    out = api.runner.invoke(args=["statements", "issue", "2026-10"])
    assert out.exit_code == 0, out.output
    assert "2 statement(s) issued now, 0 already issued; numbers 1 to 2" in out.output
    again = api.runner.invoke(args=["statements", "issue", "2026-10"])
    assert "0 statement(s) issued now, 2 already issued" in again.output
    today["day"] = date(2026, 11, 30)
    assert api.runner.invoke(args=["statements", "issue", "2026-11"]).exit_code == 1


def test_two_month_ends_at_once_issue_each_statement_once(api, today, backend):
    people = [api.person(f"P{i}") for i in range(12)]
    for pid in people[:4]:
        api.receipt(pid, "100.00", "2026-10-02")
    errors = []

    def run():
        try:
            with api.app.app_context():
                st.issue_month(db.session, date(2026, 10, 1), batch=5)
                db.session.commit()  # the caller's one unit of work
                db.session.remove()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with api.app.app_context():
        rows = db.session.execute(sa.text("SELECT person_id, number FROM statements ORDER BY number")).all()
    assert sorted(p for p, _ in rows) == sorted(people)
    assert [n for _, n in rows] == list(range(1, 13))


def test_the_surplus_threshold_is_the_councils_at_the_statement_month(api, today):
    """A council's threshold changed from November: October's statement, issued after the change,
    keeps the old threshold; November's takes the new one (domain.md "Councils": rules at the
    item's date)."""
    council = api.post("/api/v1/councils", {"name": "Northshire", "surplus_threshold_weeks": 3,
                                             "surplus_notice_days": 21})["id"]
    ana = api.person("Ana")
    api.plan(ana, effective_from="2026-10-01")  # 26,000.00 a year: 500.00 a week
    api.receipt(ana, "2000.00", "2026-10-01")  # 1,800.00 after the fee, all month and all November
    today["day"] = date(2026, 12, 2)
    r = api.call("PATCH", f"/api/v1/councils/{council}", {"surplus_threshold_weeks": 1, "surplus_notice_days": 14,
                                                          "effective_from": "2026-11-01"})
    assert r.status_code == 200, r.get_json()
    issue(api, "2026-10")
    issue(api, "2026-11")
    october = api.get(f"/api/v1/people/{ana}/statements/2026-10")
    november = api.get(f"/api/v1/people/{ana}/statements/2026-11")
    assert october["closing_balance"] == november["closing_balance"] == "1800.00"
    # 3 weeks: 1,800.00 - 1,500.00; 1 week: 1,800.00 - 500.00.
    assert october["surplus_above_threshold"] == "300.00"
    assert (october["surplus"]["threshold_weeks"], october["surplus"]["threshold"],
            october["surplus"]["notice_days"]) == (3, "1500.00", 21)
    assert november["surplus_above_threshold"] == "1300.00"
    assert (november["surplus"]["threshold_weeks"], november["surplus"]["threshold"],
            november["surplus"]["notice_days"]) == (1, "500.00", 14)


def test_slices_drawn_by_a_pool_keep_each_statement_with_its_own_figures_and_pdf(api, today):
    """Month end reads figures a slice at a time while a pool draws the slice before: every
    statement still gets its own number, figures and PDF (the stored hash is of its own document)."""
    from concurrent.futures import ThreadPoolExecutor
    from isf_ledger.reports.render_pdf import render_pdf
    people = [api.person(f"P{i}") for i in range(7)]
    for i, pid in enumerate(people):
        api.receipt(pid, f"{100 + i}.00", "2026-10-02")
    with api.app.app_context(), ThreadPoolExecutor(2) as pool:
        expected = st.statement_figures(db.session, people, date(2026, 10, 1))
        done = st.issue_month(db.session, date(2026, 10, 1), batch=5, slice_=2, pool=pool)
        db.session.commit()
        assert done.issued == 7 and [s["person_id"] for s in done.statements] == people
        for pid, n in ((s["person_id"], s["number"]) for s in done.statements):
            stmt = st.latest(db.session, pid, date(2026, 10, 1))
            assert stmt.number == n and stmt.figures == expected[pid]
            assert st.stored_pdf(db.session, stmt) == render_pdf(st.as_json(db.session, stmt))
