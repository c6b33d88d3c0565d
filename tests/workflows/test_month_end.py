"""Month end in order, one unit of work, and what cannot be issued (domain.md "Month end in
order"): months run without a gap, `--through`, closing's missing months, a document or a
shared charge that fails stops nobody else, and the idempotency key's lock holds to the end."""
from __future__ import annotations

import os
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import psycopg
import pytest
import sqlalchemy as sa

from isf_ledger import clock
from isf_ledger.db import db
from isf_ledger.errors import Conflict
from isf_ledger.reports import render_pdf as renderer
from isf_ledger.reports import statements as st
from isf_ledger.shared_support import charges


@pytest.fixture
def today(monkeypatch):
    box = {"day": date(2027, 1, 5)}
    monkeypatch.setattr(clock, "today", lambda: box["day"])
    return box


def issue(api, month, expect=200, **kw):
    return api.post(f"/api/v1/statements/{month}/issue", {}, expect=expect, **kw)


def rows(api, sql, **params):
    with api.app.app_context():
        out = [tuple(r) for r in db.session.execute(sa.text(sql), params)]
        db.session.rollback()
    return out


def numbered(api):
    """Every statement as (number, person, YYYY-MM), in number order."""
    return [(n, p, str(m)[:7]) for n, p, m in rows(api, "SELECT number, person_id, month FROM statements ORDER BY number")]


def person(api, name, opened_on, receipt_on=None):
    pid = api.person(name, opened_on=opened_on)
    if receipt_on:
        api.receipt(pid, "1000.00", receipt_on)  # 900.00 after the fee
    return pid


# --- in order ---------------------------------------------------------------------------------

def test_a_month_before_one_issued_or_after_a_gap_is_refused_and_writes_nothing(api, today):
    ana = person(api, "Ana", "2026-09-01", "2026-10-02")
    bo = person(api, "Bo", "2026-09-01")
    assert [s["number"] for s in issue(api, "2026-10")["statements"]] == [1, 2]
    # December would leave November out: refused, naming the first person and the month to issue first.
    r = api.call("POST", "/api/v1/statements/2026-12/issue", {})
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "months_out_of_order"
    assert err["details"] == {"person_id": ana, "month": "2026-11", "issued_through": "2026-10", "people": 2}
    assert f"person {ana}" in err["message"] and "November 2026 must be issued first" in err["message"]
    assert issue(api, "2026-11")["issued"] == 2
    # The issue's case: after October and November, September would come before them.
    r = api.call("POST", "/api/v1/statements/2026-09/issue", {})
    assert r.status_code == 409 and r.get_json()["error"]["details"] == {
        "person_id": ana, "month": "2026-12", "issued_through": "2026-11", "people": 2}
    assert "September 2026 would come before November 2026, already issued" in r.get_json()["error"]["message"]
    out = api.runner.invoke(args=["statements", "issue", "2026-09"])
    assert out.exit_code == 1 and f"out of order: person {ana}'s statements run to 2026-11" in out.output
    assert numbered(api) == [(1, ana, "2026-10"), (2, bo, "2026-10"), (3, ana, "2026-11"), (4, bo, "2026-11")]
    # An issued month again issues nothing new; a newcomer's first statement may be any ended month.
    cy = person(api, "Cy", "2025-01-01")
    again = issue(api, "2026-11")
    assert (again["issued"], again["already_issued"], again["not_issued"]) == (1, 2, [])
    assert issue(api, "2026-12")["issued"] == 3
    assert numbered(api)[4:] == [(5, cy, "2026-11"), (6, ana, "2026-12"), (7, bo, "2026-12"), (8, cy, "2026-12")]
    dec = api.get(f"/api/v1/people/{ana}/statements/2026-12")
    nov = api.get(f"/api/v1/people/{ana}/statements/2026-11")
    assert nov["opening_balance"] == "900.00" and dec["opening_balance"] == nov["closing_balance"] == "900.00"


def test_through_issues_every_missing_month_in_order(api, today):
    ana = person(api, "Ana", "2026-09-15", "2026-09-20")
    bo = person(api, "Bo", "2026-10-10", "2026-11-02")
    out = api.runner.invoke(args=["statements", "issue", "--through", "2026-12"])
    assert out.exit_code == 0, out.output
    for line in ("2026-09: 1 statement(s) issued now, 0 already issued; numbers 1 to 1.",
                 "2026-10: 2 statement(s) issued now, 0 already issued; numbers 2 to 3.",
                 "2026-11: 2 statement(s) issued now, 0 already issued; numbers 4 to 5.",
                 "2026-12: 2 statement(s) issued now, 0 already issued; numbers 6 to 7."):
        assert line in out.output
    assert numbered(api) == [(1, ana, "2026-09"), (2, ana, "2026-10"), (3, bo, "2026-10"), (4, ana, "2026-11"),
                             (5, bo, "2026-11"), (6, ana, "2026-12"), (7, bo, "2026-12")]
    closing = [api.get(f"/api/v1/people/{bo}/statements/{m}")["closing_balance"] for m in ("2026-10", "2026-11")]
    assert closing == ["0.00", "900.00"]
    again = api.runner.invoke(args=["statements", "issue", "--through", "2026-12"])
    assert again.exit_code == 0 and "Nothing to issue" in again.output
    late = api.runner.invoke(args=["statements", "issue", "--through", "2027-01"])
    assert late.exit_code == 1 and "January 2027 has not ended yet" in late.output
    assert api.runner.invoke(args=["statements", "issue", "2026-12", "--through", "2026-12"]).exit_code == 2
    assert api.runner.invoke(args=["statements", "issue"]).exit_code == 2
    assert len(numbered(api)) == 7


def test_closing_issues_the_months_not_yet_issued_first(api, today):
    ana = person(api, "Ana", "2026-09-01", "2026-09-02")
    issue(api, "2026-09")
    api.receipt(ana, "100.00", "2026-11-03")
    done = api.post(f"/api/v1/people/{ana}/close", {"date": "2027-01-04", "destination": "council",
                                                     "reference": "R-1"})
    assert done["statements_issued"] == [{"month": "2026-10", "number": 2}, {"month": "2026-11", "number": 3},
                                         {"month": "2026-12", "number": 4}]
    assert (done["final_statement_month"], done["final_statement_number"]) == ("2027-01", 5)
    figures = [api.get(f"/api/v1/people/{ana}/statements/{m}") for m in ("2026-10", "2026-11", "2026-12", "2027-01")]
    assert [(s["opening_balance"], s["closing_balance"]) for s in figures] == [
        ("900.00", "900.00"), ("900.00", "990.00"), ("990.00", "990.00"), ("990.00", "0.00")]
    assert issue(api, "2026-12")["already_issued"] == 1


def test_a_closing_whose_statement_cannot_be_made_is_refused_whole(api, today, monkeypatch):
    ana = person(api, "Ana", "2026-11-01", "2026-11-02")
    real = renderer.render_pdf

    def unmakeable(doc, **kw):
        if doc["month"] == "2026-11":
            raise DocumentError(0, "Ł", "helvetica")
        return real(doc, **kw)

    monkeypatch.setattr(renderer, "render_pdf", unmakeable)
    r = api.call("POST", f"/api/v1/people/{ana}/close", {"date": "2026-12-03", "destination": "council",
                                                         "reference": "R-1"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "document_not_made"
    assert r.get_json()["error"]["details"] == {"person_id": ana, "month": "2026-11"}
    assert rows(api, "SELECT COUNT(*) FROM statements") == [(0,)]
    assert rows(api, "SELECT closed_on FROM funds WHERE person_id = :p", p=ana) == [(None,)]
    assert api.balance(ana)["available"] == "900.00"


# --- one document that cannot be made --------------------------------------------------------

class DocumentError(Exception):
    """Like fpdf2's FPDFUnicodeEncodingException, which broke the pool: it cannot be unpickled
    (its __init__ takes three arguments, its args hold one)."""

    def __init__(self, index, char, font):
        super().__init__(f"character {char!r} at {index} is outside {font}")


def fail_for(monkeypatch, who: set[int], how="raise"):
    """The renderer fails for these people: it raises an exception that does not unpickle (as fpdf2's did:
    from a worker it broke the pool), or a worker process dies drawing them."""
    real, parent = renderer.render_pdf, os.getpid()

    def render(doc, **kw):
        if doc["person_id"] in who:
            if how == "raise":
                raise DocumentError(0, "Ł", "helvetica")
            if os.getpid() != parent:
                os._exit(1)
        return real(doc, **kw)

    monkeypatch.setattr(renderer, "render_pdf", render)


def check_documents(api):
    """Every stored PDF is its own statement's, drawn with its number."""
    with api.app.app_context():
        for stmt in db.session.scalars(sa.select(st.Statement)):
            assert st.stored_pdf(db.session, stmt) == renderer.render_pdf(st.as_json(db.session, stmt))
        db.session.rollback()


@pytest.mark.parametrize("workers", [0, 2])
def test_one_document_that_cannot_be_made_never_stops_the_others(api, today, monkeypatch, workers):
    people = [person(api, f"P{i}", "2026-10-01", "2026-10-02") for i in range(5)]
    bad = people[2]
    fail_for(monkeypatch, {bad})
    out = api.runner.invoke(args=["statements", "issue", "2026-10", "--workers", str(workers)])
    assert out.exit_code == 1, out.output
    assert "2026-10: 4 statement(s) issued now, 0 already issued; numbers 1 to 4." in out.output
    assert f"NOT ISSUED person {bad}: its PDF could not be made (DocumentError" in out.output
    # The last person took the freed number 3, drawn with it: numbers run without a gap.
    assert numbered(api) == [(1, people[0], "2026-10"), (2, people[1], "2026-10"), (3, people[4], "2026-10"),
                             (4, people[3], "2026-10")]
    assert rows(api, "SELECT issued_through FROM funds WHERE person_id = :p", p=bad) == [(None,)]
    monkeypatch.undo()
    monkeypatch.setattr(clock, "today", lambda: today["day"])
    again = api.runner.invoke(args=["statements", "issue", "2026-10", "--workers", str(workers)])
    assert again.exit_code == 0, again.output
    assert "2026-10: 1 statement(s) issued now, 4 already issued; numbers 1 to 5." in again.output
    assert numbered(api)[-1] == (5, bad, "2026-10")
    assert api.get(f"/api/v1/people/{bad}/statements/2026-10")["closing_balance"] == "900.00"
    check_documents(api)


def test_the_api_names_who_was_not_issued_and_a_run_again_finishes_them(api, today, monkeypatch):
    people = [person(api, f"P{i}", "2026-09-01") for i in range(4)]
    assert issue(api, "2026-09")["issued"] == 4
    fail_for(monkeypatch, {people[0], people[3]})
    first = issue(api, "2026-10")
    assert (first["issued"], first["already_issued"]) == (2, 0)
    assert [r["person_id"] for r in first["not_issued"]] == [people[0], people[3]]
    assert all(r["reason"].startswith("its PDF could not be made (DocumentError")
               for r in first["not_issued"])
    # 5 and 8 were not made: the last made, 7, moved into 5, so the month's numbers run 5, 6.
    assert first["statements"] == [{"person_id": people[2], "number": 5}, {"person_id": people[1], "number": 6}]
    # November waits for them: it would leave a gap in their statements.
    r = api.call("POST", "/api/v1/statements/2026-11/issue", {})
    assert r.status_code == 409 and r.get_json()["error"]["details"] == {
        "person_id": people[0], "month": "2026-10", "issued_through": "2026-09", "people": 2}
    monkeypatch.undo()
    monkeypatch.setattr(clock, "today", lambda: today["day"])
    again = issue(api, "2026-10")
    assert (again["issued"], again["already_issued"], again["not_issued"]) == (2, 2, [])
    assert [s["number"] for s in again["statements"]] == [5, 6, 7, 8]
    assert issue(api, "2026-11")["issued"] == 4
    assert [n for n, _, _ in numbered(api)] == list(range(1, 13))
    check_documents(api)


def test_a_render_worker_that_dies_stops_nobody(api, today, monkeypatch):
    people = [person(api, f"P{i}", "2026-10-01", "2026-10-02") for i in range(6)]
    fail_for(monkeypatch, {people[1]}, how="die")
    with api.app.app_context(), ProcessPoolExecutor(2) as pool:
        done = st.issue_month(db.session, date(2026, 10, 1), pool=pool, batch=4, slice_=2)
        db.session.commit()
    assert (done.issued, done.not_issued) == (6, [])
    assert [n for n, _, _ in numbered(api)] == [1, 2, 3, 4, 5, 6]
    check_documents(api)


# --- the month's shared charges ------------------------------------------------------------------

def sleep_in(api, *members):
    arr = api.post("/api/v1/shared-arrangements", {"name": "Sleep-in", "capacity": len(members), "method": "equal",
                                                   "per_night": "10.00", "effective_from": "2026-10-01"})
    for pid in members:
        api.post(f"/api/v1/shared-arrangements/{arr['id']}/members",
                 {"person_id": pid, "weight": "1", "from": "2026-10-01", "agreed_on": "2026-09-01",
                  "recorded_by": "broker"})
    return arr["id"]


def test_a_member_whose_shared_charge_failed_gets_no_statement_until_it_is_posted(api, today, monkeypatch):
    ana, bo, cy = (person(api, n, "2026-10-01", "2026-10-02") for n in ("Ana", "Bo", "Cy"))
    arr = sleep_in(api, ana, bo)
    real = charges.charge_month

    def refused(session, ids, month, user_id=None):
        if arr in ids:
            raise Conflict(f"arrangement {arr} is under review", code="review_pending")
        return real(session, ids, month, user_id)

    monkeypatch.setattr(charges, "charge_month", refused)
    first = issue(api, "2026-10")
    assert first["not_charged"] == [{"arrangement_id": arr, "reason": f"arrangement {arr} is under review",
                                     "person_ids": [ana, bo]}]
    assert first["statements"] == [{"person_id": cy, "number": 1}]
    assert [r["person_id"] for r in first["not_issued"]] == [ana, bo]
    assert "shared support could not be charged" in first["not_issued"][0]["reason"]
    # Their October is still open: an item for it is dated in it.
    assert rows(api, "SELECT person_id FROM funds WHERE issued_through IS NOT NULL") == [(cy,)]
    late = api.receipt(ana, "10.00", "2026-10-20")
    assert rows(api, "SELECT date FROM transactions WHERE id = :t", t=late["transaction_id"])[0][0] in (
        date(2026, 10, 20), "2026-10-20")
    out = api.runner.invoke(args=["statements", "issue", "2026-10"])
    assert out.exit_code == 1
    assert f"NOT CHARGED arrangement {arr}: arrangement {arr} is under review" in out.output
    assert f"NOT ISSUED person {ana}: the month's shared support could not be charged" in out.output
    monkeypatch.setattr(charges, "charge_month", real)
    again = issue(api, "2026-10")
    assert (again["issued"], again["already_issued"], again["not_issued"], again["not_charged"]) == (2, 1, [], [])
    s = api.get(f"/api/v1/people/{ana}/statements/2026-10")
    assert (s["number"], s["receipts_total"], s["shared_support_total"], s["closing_balance"]) == (
        2, "1010.00", "155.00", "754.00")


def test_the_charge_command_prints_the_run_and_commits_it(api, today):
    ana = person(api, "Ana", "2026-10-01", "2026-10-02")
    sleep_in(api, ana)
    out = api.runner.invoke(args=["shared", "charge", "2026-10"])
    assert out.exit_code == 0 and "2026-10: 1 arrangement(s) charged, 0 already charged before" in out.output
    assert api.balance(ana)["available"] == "590.00"  # 900.00 - 31 nights x 10.00


# --- one unit of work -----------------------------------------------------------------------------

def test_month_end_is_one_unit_of_work_under_its_key(api, today, monkeypatch):
    """Nothing is committed until the answer is stored with the key: a failure after the
    statements are made leaves no charge and no statement behind."""
    ana = person(api, "Ana", "2026-10-01", "2026-10-02")
    sleep_in(api, ana)

    def broken(self):
        raise RuntimeError("the answer could not be built")

    monkeypatch.setattr(st.Issued, "answer", broken)
    with pytest.raises(RuntimeError, match="could not be built"):  # a 500 outside tests
        api.call("POST", "/api/v1/statements/2026-10/issue", {}, key="month-end-1")
    assert rows(api, "SELECT COUNT(*) FROM statements") == [(0,)]
    assert rows(api, "SELECT COUNT(*) FROM shared_charge_runs") == [(0,)]
    assert api.balance(ana)["available"] == "900.00"


def test_the_keys_lock_holds_until_the_answer_is_stored(api, today, monkeypatch, db_url, backend):
    """While month end draws its statements (after the charge run), another connection cannot
    take the key's lock (PostgreSQL) or the database's write lock (SQLite)."""
    ana = person(api, "Ana", "2026-10-01", "2026-10-02")
    sleep_in(api, ana)
    [(uid,)] = rows(api, "SELECT id FROM users WHERE name = 'finance-1'")
    seen = []
    real = st.statement_figures

    def probe(session, ids, month, **kw):
        if backend == "postgresql":
            with psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql")) as conn:
                seen.append(conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                                         (f"idempotency:{uid}:month-end-2",)).fetchone()[0])
        else:
            conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                seen.append(True)
                conn.execute("ROLLBACK")
            except sqlite3.OperationalError:
                seen.append(False)
            conn.close()
        return real(session, ids, month, **kw)

    monkeypatch.setattr(st, "statement_figures", probe)
    first = api.call("POST", "/api/v1/statements/2026-10/issue", {}, key="month-end-2")
    assert first.status_code == 200 and seen == [False]
    replay = api.call("POST", "/api/v1/statements/2026-10/issue", {}, key="month-end-2")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_json() == first.get_json()


def test_an_operation_that_commits_inside_a_keyed_write_is_caught(api, today, monkeypatch):
    ana = person(api, "Ana", "2026-10-01", "2026-10-02")
    real = st.issue_month

    def commits(session, month, **kw):
        done = real(session, month, **kw)
        session.commit()
        return done

    monkeypatch.setattr(st, "issue_month", commits)
    with pytest.raises(RuntimeError, match="an operation committed or rolled back inside its unit of work"):
        api.call("POST", "/api/v1/statements/2026-10/issue", {}, key="month-end-3")
    assert rows(api, "SELECT COUNT(*) FROM idempotency_keys WHERE key = 'month-end-3'") == [(0,)]
    assert rows(api, "SELECT person_id FROM statements") == [(ana,)]  # what it committed stays


def test_the_scheduler_is_refused_out_of_order_too(api, today):
    from isf_ledger import scheduler as schedule

    ana = person(api, "Ana", "2026-10-01", "2026-10-02")
    issue(api, "2026-10")
    with pytest.raises(Conflict) as refused:  # it runs December, the month just ended; November is missing
        schedule.run_month_end(api.app)
    assert refused.value.code == "months_out_of_order"
    assert refused.value.details == {"person_id": ana, "month": "2026-11", "issued_through": "2026-10", "people": 1}
    assert numbered(api) == [(1, ana, "2026-10")]


def test_month_end_reads_in_the_same_queries_for_3_people_as_for_30(api, today):
    """Ordering, the charge run's failures and the documents' add no query per person."""
    def queries_for(month):
        count = [0]

        def seen(*_):
            count[0] += 1

        with api.app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", seen)
        try:
            done = issue(api, month)
        finally:
            sa.event.remove(engine, "before_cursor_execute", seen)
        return done["issued"], count[0]

    for i in range(3):
        person(api, f"A{i}", "2026-09-01", "2026-09-02")
    small = queries_for("2026-09")
    for i in range(27):
        person(api, f"B{i}", "2026-09-01", "2026-10-02")
    large = queries_for("2026-10")
    assert (small[0], large[0]) == (3, 30)
    assert large[1] == small[1], (small, large)
