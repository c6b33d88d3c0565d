"""Finance's imports page, month end's long half and its delivery log, and admins' audit log,
through the Flask client, on both engines: a file with one bad row names that row and writes
nothing, a good one says what it wrote (the API's figures), a large one runs in the background
with its progress; a month with many people is issued in the background; the delivery log shows
how each statement went, a row that needs a check is resolved from the page, the print batch is
downloaded; the audit log is paged and filtered, its CSV formula-safe; each read in a handful of
queries whatever the number of rows."""
from __future__ import annotations

import io
from html import unescape
import re
import time
from datetime import date, timedelta

import sqlalchemy as sa

import pages_book
from isf_ledger import clock
from isf_ledger.db import db, utcnow
from isf_ledger.pages import jobs
from isf_ledger.reports import sending as dl
from test_pages_finance import book, fin, form_fields  # noqa: F401 - the fixtures
from pages_book import counted, sign_in, text
GOOD = "{p},2026-11-03,10:00,day_support,2.00,delivered,,personal_care,V-{n}"
HEADER = "person,date,start_time,service,quantity,status,notice_given_at,domain,external_id"


def csv_file(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def upload(client, data: bytes, name="visits.csv", fields=None):
    fields = fields or form_fields(client.get("/imports").get_data(as_text=True), "/imports")
    return client.post("/imports", data={**fields, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def finished(api, job_id: int, seconds: float = 60) -> str:
    """The job's state once it has finished (a background job runs in a thread)."""
    end = time.monotonic() + seconds
    while True:
        with api.app.app_context():
            state = db.session.scalar(sa.select(jobs.PageJob.state).where(jobs.PageJob.id == job_id))
        if state in jobs.FINISHED or time.monotonic() > end:
            return state
        time.sleep(0.1)


def job_id(location: str) -> int:
    return int(re.fullmatch(r"/jobs/(\d+)", location).group(1))


def deliveries(api, pid: int) -> int:
    with api.app.app_context():
        return db.session.scalar(sa.text("SELECT count(*) FROM deliveries WHERE person_id = :p"), {"p": pid})


# --- Imports ---------------------------------------------------------------------------------------

def test_a_file_with_one_bad_row_names_it_and_writes_nothing_then_a_good_file_says_what_it_wrote(api, book, fin):
    assert 'href="/imports"' in fin.get("/").get_data(as_text=True)
    page = fin.get("/imports").get_data(as_text=True)
    assert page.count("<h1") == 1 and 'enctype="multipart/form-data"' in page
    before, bo_before = deliveries(api, book.ana), deliveries(api, book.bo)
    bad = csv_file(GOOD.format(p=book.ana, n=1), f"{book.ana},2026-11-04,10:00,gardening,1.00,delivered,,personal_care,V-2",
                   GOOD.format(p=book.bo, n=3))
    # The API's own answer for the same file (refused: nothing written either way).
    r = api.client.post("/api/v1/imports/deliveries", data={"file": (io.BytesIO(bad), "visits.csv")},
                        headers={"Authorization": f"Bearer {api.token}", "Idempotency-Key": "api-bad"},
                        content_type="multipart/form-data")
    assert r.status_code == 422
    [want] = r.get_json()["error"]["details"]["errors"]
    assert (want["row"], want["column"]) == (3, "service")

    sent = upload(fin, bad)
    assert sent.status_code == 303
    html = fin.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Refresh" not in fin.get(sent.headers["Location"]).headers  # finished: it no longer updates itself
    assert "<title>Error: The file was not imported" in html and "govuk-error-summary" in html
    assert "1 problem in the file: nothing was imported." in text(html)
    rows = re.findall(r"<tr class=\"govuk-table__row\">\s*<td[^>]*>(\d+)</td>\s*<td[^>]*>([^<]*)</td>\s*<td[^>]*>([^<]*)</td>",
                      html)
    assert [(n, c, unescape(r)) for n, c, r in rows] == [("3", "service", want["reason"])]
    assert deliveries(api, book.ana) == before and deliveries(api, book.bo) == bo_before

    good = csv_file(GOOD.format(p=book.ana, n=1), GOOD.format(p=book.ana, n=2).replace("2026-11-03", "2026-11-04"),
                    GOOD.format(p=book.bo, n=3))
    fields = form_fields(fin.get("/imports").get_data(as_text=True), "/imports")
    r1, r2 = upload(fin, good, fields=fields), upload(fin, good, fields=fields)  # a double submit
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    words = text(fin.get(r1.headers["Location"]).get_data(as_text=True))
    # Three rows of 2 hours at £20.00 an hour: £120.00, for two people.
    assert "Imported 3 deliveries written" in words
    assert ("Rows in the file 3 Deliveries written 3 Visits skipped (imported before) 0 People 2 "
            "Charged to their funds £120.00") in words
    assert deliveries(api, book.ana) == before + 2 and deliveries(api, book.bo) == bo_before + 1
    listed = text(fin.get("/imports").get_data(as_text=True))
    assert "visits.csv" in listed and "Finished" in listed and "Nothing was written" in listed


def test_an_upload_without_a_file_is_refused_beside_the_field(api, book, fin):
    fields = form_fields(fin.get("/imports").get_data(as_text=True), "/imports")
    html = fin.post("/imports", data=fields, content_type="multipart/form-data").get_data(as_text=True)
    assert 'id="file-error"' in html and "Choose a CSV or XLSX file to upload" in html
    with api.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(jobs.PageJob)) == 0


def test_a_large_file_runs_in_the_background_and_its_page_updates_itself_until_it_is_done(api, book, fin):
    api.app.config["PAGE_IMPORT_INLINE_BYTES"] = 0  # every file is "large"
    data = csv_file(*(GOOD.format(p=book.ana, n=n).replace("2026-11-03", f"2026-11-{n:02d}") for n in range(1, 10)))
    sent = upload(fin, data, "big.csv")
    jid = job_id(sent.headers["Location"])
    assert finished(api, jid) == jobs.DONE
    words = text(fin.get(f"/jobs/{jid}").get_data(as_text=True))
    assert "Rows in the file 9 Deliveries written 9" in words and "Charged to their funds £360.00" in words

    # A job on its way: the bar and the same figure in words; the page asks to be loaded again
    # (the HTTP Refresh header, no script) unless the reader stopped it.
    with api.app.app_context():
        db.session.execute(sa.update(jobs.PageJob).where(jobs.PageJob.id == jid)
                           .values(state=jobs.RUNNING, done=2500, total=10000, updated_at=utcnow()))
        db.session.commit()
    running = fin.get(f"/jobs/{jid}")
    html = running.get_data(as_text=True)
    assert running.headers["Refresh"] == "3"
    assert '<progress id="progress-bar"' in html and 'max="10000" value="2500"' in html
    assert "2,500 of 5,000 rows checked, 0 written (25%)." in text(html)
    still = fin.get(f"/jobs/{jid}?still=1")
    assert "Refresh" not in still.headers and "does not update itself now" in still.get_data(as_text=True)
    # No word from its server for longer than STALE_AFTER: it stopped, and nothing of it was written.
    with api.app.app_context():
        db.session.execute(sa.update(jobs.PageJob).where(jobs.PageJob.id == jid)
                           .values(updated_at=utcnow() - jobs.STALE_AFTER - timedelta(seconds=1)))
        db.session.commit()
    stopped = fin.get(f"/jobs/{jid}")
    assert "Refresh" not in stopped.headers and "The import stopped" in stopped.get_data(as_text=True)
    assert fin.get("/jobs/999999").status_code == 404


def test_a_broker_may_not_import_from_the_page(api, book):
    pages_book.user(api, "bro", "--role", "broker")
    assert sign_in(api.app.test_client(), "bro").get("/imports").status_code == 403


# --- Month end: in the background, the delivery log, the print batch -------------------------------

def test_a_month_with_many_people_is_issued_in_the_background(api, book, fin, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 10))  # November has ended
    api.app.config["MONTH_END_INLINE_PEOPLE"] = 0
    fields = form_fields(fin.get("/month-end").get_data(as_text=True), "/month-end")
    # Out of order is refused on the form, as in the request, before any job: October is issued.
    refused = fin.post("/month-end", data={**fields, "month": "2026-09"})
    assert 'id="month-error"' in refused.get_data(as_text=True)
    sent = fin.post("/month-end", data={**fields, "month": "2026-11"})
    assert sent.status_code == 303
    jid = job_id(sent.headers["Location"])
    assert finished(api, jid) == jobs.DONE
    words = text(fin.get(f"/jobs/{jid}").get_data(as_text=True))
    assert "Statements issued 2 issued for 2026-11 (0 were already issued)" in words
    with api.app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM statements WHERE month = '2026-11-01'")) == 2
        job = db.session.get(jobs.PageJob, jid)
        assert (job.done, job.total, job.label) == (2, 2, "November 2026")
    assert 'href="/month-end/2026-11/deliveries"' in fin.get(f"/jobs/{jid}").get_data(as_text=True)


def _deliveries_planned(api, book) -> tuple[int, int]:
    """Ana's October statement goes by post (printed), Bo's by e-mail, left `sending` by a sender
    that stopped an hour ago: it needs a check."""
    api.post(f"/api/v1/people/{book.ana}/statement-delivery",
             {"method": "post", "address_lines": ["1 High Street", "Northtown", "NT1 1AA"]})
    api.post(f"/api/v1/people/{book.bo}/statement-delivery", {"method": "email", "email": "bo@example.org"})
    with api.app.app_context():
        first = date(2026, 10, 1)
        dl.plan_month(db.session, first, "statements@example.org")
        dl.build_print_batch(db.session, first)
        rows = dict(db.session.execute(sa.text("SELECT method, id FROM statement_deliveries")).all())
        db.session.execute(sa.text("UPDATE statement_deliveries SET status = 'sending', attempts = 1, "
                                   "claimed_at = :t WHERE id = :i"), {"t": utcnow() - timedelta(hours=1),
                                                                     "i": rows["email"]})
        db.session.commit()
    return rows["post"], rows["email"]


def test_the_delivery_log_shows_each_statement_and_a_row_that_needs_a_check_is_resolved(api, book, fin):
    post, email = _deliveries_planned(api, book)
    assert 'href="/month-end/2026-10/deliveries"' in fin.get("/month-end").get_data(as_text=True)
    html = fin.get("/month-end/2026-10/deliveries").get_data(as_text=True)
    words = text(html)
    assert html.count("<h1") == 1 and "Delivery log for October 2026" in words
    assert "Statements sent 1 Not sent yet 0 Being sent 0 Failed 0 Need checking 1" in words
    assert f'id="check-{email}"' in html and "bo@example.org" in words
    log = api.get("/api/v1/statements/2026-10/deliveries")["deliveries"]
    for r in log:
        assert f"{r['number']} " in words
    assert "1 Siân Ó Briain Post Siân Ó Briain, 1 High Street, Northtown, NT1 1AA Sent" in words and "Needs checking" in words
    pdf = fin.get("/month-end/2026-10/print-batch.pdf")
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-" and pdf.mimetype == "application/pdf"
    assert "Download the letters to post (PDF, 1 letter)" in words

    fields = form_fields(html, f"/month-end/deliveries/{email}/resolve")
    r1 = fin.post(f"/month-end/deliveries/{email}/resolve", data={**fields, "outcome": "sent"})
    r2 = fin.post(f"/month-end/deliveries/{email}/resolve", data={**fields, "outcome": "sent"})  # a double submit
    assert r1.status_code == r2.status_code == 303
    done = text(fin.get(r1.headers["Location"]).get_data(as_text=True))
    assert "It is marked as sent." in done and "Statements sent 2 Not sent yet 0 Being sent 0" in done
    assert [r["status"] for r in api.get("/api/v1/statements/2026-10/deliveries")["deliveries"]] == ["sent", "sent"]
    # Again from a fresh form: the API's 409, shown on the page; nothing changes.
    again = fin.post(f"/month-end/deliveries/{email}/resolve", data={**fields, "idempotency_key": "new", "outcome": "resend"})
    assert again.status_code == 409 and "govuk-error-summary" in again.get_data(as_text=True)
    assert "not waiting for a check" in again.get_data(as_text=True)
    bad = fin.post(f"/month-end/deliveries/{post}/resolve", data={**fields, "idempotency_key": "x", "outcome": "maybe"})
    assert bad.status_code == 422 and 'Choose what happened: press' in unescape(bad.get_data(as_text=True))
    assert fin.post("/month-end/deliveries/999999/resolve", data={**fields, "outcome": "sent"}).status_code == 404
    assert fin.get("/month-end/2026-09/print-batch.pdf").status_code == 404
    assert fin.get("/month-end/nonsense/deliveries").status_code == 404


def test_the_log_pages_read_in_a_handful_of_queries_whatever_the_number_of_rows(api, book, fin):
    pages_book.user(api, "root", "--role", "admin")
    admin = sign_in(api.app.test_client(), "root")
    _deliveries_planned(api, book)

    def counts():
        out = []
        for client, path in ((fin, "/month-end/2026-10/deliveries"), (admin, "/admin/audit-log"),
                             (admin, f"/admin/audit-log?person_id={book.ana}&action=POST"), (fin, "/imports")):
            client.get(path)
            with counted(api.app) as seen:
                assert client.get(path).status_code == 200, path
            out.append(len(seen))
        return out

    before = counts()
    for i in range(6):  # more October statements and delivery rows, more audit entries
        pid = api.person(f"More {i}", opened_on="2026-10-01")
        api.receipt(pid, "500.00", date="2026-10-01")
        if i % 2:
            api.post(f"/api/v1/people/{pid}/statement-delivery", {"method": "email", "email": f"m{i}@example.org"})
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    with api.app.app_context():
        dl.plan_month(db.session, date(2026, 10, 1), "statements@example.org")
    assert len(api.get("/api/v1/statements/2026-10/deliveries")["deliveries"]) == 8
    after = counts()
    assert after == before, (before, after)
    assert max(after) <= 20, after


# --- The audit log ------------------------------------------------------------------------------------

def test_the_audit_log_is_paged_filtered_and_downloaded_formula_safe(api, book):
    pages_book.user(api, "root", "--role", "admin")
    pages_book.user(api, "=HYPERLINK(\"http://x\")", "--role", "finance")
    admin = sign_in(api.app.test_client(), "root")
    odd = sign_in(api.app.test_client(), "=HYPERLINK(\"http://x\")")
    fields = form_fields(odd.get(f"/people/{book.ana}/receipts/new").get_data(as_text=True),
                         f"/people/{book.ana}/receipts/new")
    odd.post(f"/people/{book.ana}/receipts/new", data={**fields, "step": "check", "amount": "nothing"})
    with api.app.app_context():
        for i in range(60):  # reads by a council's auditor, one a day: more than a page
            db.session.execute(sa.text("INSERT INTO audit_log (at, request_id, user_name, role, method, path, status) "
                                       "VALUES (:at, :r, 'reviewer', 'auditor', 'GET', :p, 200)"),
                               {"at": utcnow() - timedelta(days=100 + i), "r": f"old-{i}", "p": f"/people/{book.bo}"})
        db.session.commit()
        total = db.session.scalar(sa.text("SELECT count(*) FROM audit_log"))
        odd_id = db.session.scalar(sa.text("SELECT id FROM users WHERE role = 'finance' AND name LIKE '=%'"))
        ana_rows = db.session.scalar(sa.text("SELECT count(*) FROM audit_log WHERE path LIKE :a OR path LIKE :b "
                                             "OR path LIKE :c"),
                                     {"a": f"%/people/{book.ana}", "b": f"%/people/{book.ana}/%",
                                      "c": f"%/people/{book.ana}?%"})
    html = admin.get("/admin/audit-log").get_data(as_text=True)
    assert html.count("<h1") == 1 and 'href="/admin/audit-log"' in html  # in the admin's navigation
    assert f"{total} entries shown, page 1 of 2." in text(html) and 'rel="next"' in html
    newest = re.findall(r'id="entry-(\d+)"', html)
    assert len(newest) == 50 and newest == sorted(newest, key=int, reverse=True)
    second = admin.get(f"/admin/audit-log?page=2").get_data(as_text=True)
    assert len(re.findall(r'id="entry-(\d+)"', second)) == total - 50 and f"page 2 of 2." in text(second)
    older = admin.get("/admin/audit-log?action=GET&until=" + str(utcnow().date() - timedelta(days=100)))
    assert "60 entries shown, page 1 of 2." in text(older.get_data(as_text=True))

    mine = admin.get(f"/admin/audit-log?user_id={odd_id}&action=POST").get_data(as_text=True)
    assert "2 entries shown." in text(mine)  # signing in, then the receipt's check (refused: 422)
    assert f"POST /people/{book.ana}/receipts/new 422" in text(mine) and "POST /login 302" in text(mine)
    person = admin.get(f"/admin/audit-log?person_id={book.ana}").get_data(as_text=True)
    assert f"{ana_rows} entr" in text(person) and ana_rows >= 1
    today = utcnow().astimezone(clock.UK).date()  # the log's moments are real ones
    assert f"{total - 60} entries shown." in text(admin.get(f"/admin/audit-log?since={today}&until={today}")
                                                  .get_data(as_text=True))
    assert "0 entries shown." in text(admin.get("/admin/audit-log?until=2020-01-01").get_data(as_text=True))
    assert admin.get("/admin/audit-log?person_id=ana").status_code == 422  # a filter refused, as a form is
    refused = admin.get("/admin/audit-log?person_id=ana&since=2026-13-01").get_data(as_text=True)
    assert 'id="person_id-error"' in refused and 'id="since-error"' in refused and 'value="ana"' in refused
    assert "<title>Error: Audit log" in refused

    csv = admin.get(f"/admin/audit-log.csv?user_id={odd_id}")
    assert csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0] == "id,at,request_id,user_id,user_name,role,method,path,status"
    assert len(lines) == 3 and lines[1].endswith(",POST,/login,302") and lines[2].endswith(",422")
    assert all(',"\'=HYPERLINK(""http://x"")",finance,' in line for line in lines[1:])  # text, never a formula
    assert sign_in(api.app.test_client(), "=HYPERLINK(\"http://x\")").get("/admin/audit-log").status_code == 403


def test_a_disabled_user_is_signed_out_of_pages_and_their_token_stops(api, book):
    pages_book.user(api, "root", "--role", "admin")
    token = api.user("finance", name="leaving")  # an API user, by token
    admin = sign_in(api.app.test_client(), "root")
    pages_book.user(api, "gone", "--role", "finance")
    gone = sign_in(api.app.test_client(), "gone")
    assert gone.get("/dashboard").status_code == 200
    with api.app.app_context():
        gone_id = db.session.scalar(sa.text("SELECT id FROM users WHERE name = 'gone'"))
        leaving_id = db.session.scalar(sa.text("SELECT id FROM users WHERE name = 'leaving'"))
    for uid in (gone_id, leaving_id):
        path = f"/admin/users/{uid}/disable"
        r = admin.post(path, data=form_fields(admin.get(path).get_data(as_text=True), path))
        assert r.status_code == 303
    assert gone.get("/dashboard").status_code == 302  # to the sign-in form
    assert api.call("GET", "/api/v1/dashboard", token=token).status_code == 401
