"""Imports, month end's delivery log and the audit log in a real browser (Debian's Chromium through
Playwright): finance imports a file with one bad row and sees that row, then a good file and its
summary; a file in the background shows its progress and the page loads itself again without
JavaScript; finance runs month end for a past month and opens the delivery log, resolving a row
that needs a check; an admin filters the audit log. axe-core finds nothing on any page in any
state, at 1280 px, 320 px and 200% zoom (screenshots in test-artifacts/screenshots/ops-*)."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from playwright.sync_api import expect

import pages_book
from browser import browser_context_args, browser_type_launch_args, check_page, live, watch  # noqa: F401
from isf_ledger import clock
from isf_ledger.db import db, utcnow
from isf_ledger.pages import jobs
from test_browser_person import sign_in
from test_pages_ops import GOOD, _deliveries_planned, csv_file, finished


def _upload(page, data: bytes, name: str) -> None:
    page.set_input_files("#file", files=[{"name": name, "mimeType": "text/csv", "buffer": data}])
    page.get_by_role("button", name="Upload and import").click()


def test_finance_imports_a_file_with_one_bad_row_then_a_good_file(api, monkeypatch, tmp_path, live, page):
    book = pages_book.build(api, monkeypatch, tmp_path)
    pages_book.user(api, "fin", "--role", "finance")
    errors = watch(page)
    sign_in(page, live, "fin")
    page.get_by_role("navigation", name="Your pages").get_by_role("link", name="Imports").click()
    expect(page.locator("h1")).to_have_text("Import deliveries")
    check_page(page, "ops-imports", errors)
    page.get_by_role("button", name="Upload and import").click()  # no file chosen
    expect(page.locator("#file-error")).to_be_visible()
    check_page(page, "ops-imports-refused", errors)

    bad = csv_file(GOOD.format(p=book.ana, n=1),
                   f"{book.ana},2026-11-04,10:00,gardening,1.00,delivered,,personal_care,V-2")
    _upload(page, bad, "visits with a mistake.csv")
    expect(page.locator("h1")).to_have_text("The file was not imported")
    cells = page.locator("#bad-rows tbody tr").first.locator("td").all_inner_texts()
    assert cells[:2] == ["3", "service"] and cells[2].startswith("no rate for gardening on 2026-11-04")
    expect(page.locator("#bad-rows tbody tr")).to_have_count(1)
    check_page(page, "ops-import-bad-row", errors)

    page.get_by_role("link", name="Upload the file again").click()
    good = csv_file(GOOD.format(p=book.ana, n=1), GOOD.format(p=book.bo, n=2))
    _upload(page, good, "visits.csv")
    expect(page.locator("h1")).to_have_text("The file is imported")
    assert page.locator("#written").inner_text() == "2"
    assert "Charged to their funds\t£80.00" in page.locator("#summary").inner_text()
    check_page(page, "ops-import-done", errors)
    page.get_by_role("link", name="Import another file").click()
    expect(page.locator("#recent tbody tr")).to_have_count(2)
    check_page(page, "ops-imports-recent", errors)


def test_a_job_on_its_way_shows_its_progress_and_the_page_loads_itself_again(api, monkeypatch, tmp_path, live, page):
    pages_book.build(api, monkeypatch, tmp_path)
    pages_book.user(api, "fin", "--role", "finance")
    with api.app.app_context():
        uid = db.session.scalar(sa.text("SELECT id FROM users WHERE name = 'fin'"))
        job = jobs.PageJob(kind="import", user_id=uid, label="a big file.csv", state=jobs.RUNNING, done=5200,
                           total=10000, updated_at=utcnow())
        db.session.add(job)
        db.session.commit()
        jid = job.id
    errors = watch(page)
    sign_in(page, live, "fin")
    page.goto(f"{live}/jobs/{jid}?still=1")
    assert page.locator("#progress-words").inner_text() == "5,000 of 5,000 rows checked, 200 written (52%)."
    assert page.locator("progress").evaluate("p => [p.value, p.max]") == [5200, 10000]
    check_page(page, "ops-job-running", errors)
    page.get_by_role("link", name="Update it again every 3 seconds").click()
    with page.expect_navigation(timeout=10_000):  # the Refresh header: the browser loads it again
        pass
    with api.app.app_context():
        db.session.execute(sa.update(jobs.PageJob).where(jobs.PageJob.id == jid)
                           .values(state=jobs.DONE, result={"rows": 10000, "written": 10000, "skipped": 0,
                                                            "people": 40, "charged": 1234500,
                                                            "already_imported": False}))
        db.session.commit()
    page.wait_for_selector("#written", timeout=10_000)
    assert page.locator("#written").inner_text() == "10000"
    check_page(page, "ops-job-finished", errors)


def test_finance_runs_month_end_for_a_past_month_and_opens_the_delivery_log(api, monkeypatch, tmp_path, live, page):
    book = pages_book.build(api, monkeypatch, tmp_path)
    pages_book.user(api, "fin", "--role", "finance")
    _deliveries_planned(api, book)  # October's: Ana's printed, Bo's e-mail needing a check
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 10))  # November has ended
    api.app.config["MONTH_END_INLINE_PEOPLE"] = 0  # issued in the background, with its progress
    errors = watch(page)
    sign_in(page, live, "fin")
    page.get_by_role("navigation", name="Your pages").get_by_role("link", name="Month end").click()
    check_page(page, "ops-month-end", errors)
    page.get_by_label("November 2026: 2 to issue").check()
    page.get_by_role("button", name="Issue the statements").click()
    jid = int(page.url.rsplit("/", 1)[1].split("?")[0])
    assert finished(api, jid) == jobs.DONE
    page.wait_for_selector("#issued", timeout=15_000)  # the page loads itself again until it is done
    assert page.locator("#issued").inner_text() == "2"
    check_page(page, "ops-month-end-issued", errors)
    page.get_by_role("link", name="See how each statement for 2026-11 was sent").click()
    expect(page.locator("h1")).to_have_text("Delivery log for November 2026")
    check_page(page, "ops-deliveries-november", errors)

    page.goto(f"{live}/month-end")
    page.get_by_role("link", name="Delivery log for October 2026").click()
    expect(page.locator(".govuk-summary-card")).to_have_count(1)  # Bo's e-mail needs a check
    check_page(page, "ops-deliveries-check", errors)
    with page.expect_download() as got:
        page.get_by_role("link", name="Download the letters to post (PDF, 1 letter)").click()
    assert got.value.suggested_filename == "print-batch-2026-10.pdf"
    page.get_by_role("button", name="Send it again").click()
    assert "It will be sent again on the next run." in page.content()
    expect(page.locator(".govuk-summary-card")).to_have_count(0)
    check_page(page, "ops-deliveries-resolved", errors)


def test_an_admin_filters_the_audit_log_and_a_bad_filter_is_refused_beside_its_field(api, monkeypatch, tmp_path, live,
                                                                                   page):
    book = pages_book.build(api, monkeypatch, tmp_path)
    pages_book.user(api, "root", "--role", "admin")
    errors = watch(page)
    sign_in(page, live, "root")
    page.goto(f"{live}/people/{book.ana}")
    page.get_by_role("navigation", name="Your pages").get_by_role("link", name="Audit log").click()
    check_page(page, "ops-audit-log", errors)
    page.get_by_label("Person’s id").fill("ana")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#person_id-error")).to_be_visible()
    expect(page.get_by_label("Person’s id")).to_have_value("ana")
    check_page(page, "ops-audit-log-refused", errors)
    page.get_by_label("Person’s id").fill("")
    page.get_by_label("Action").select_option("POST")
    page.get_by_role("button", name="Show").click()
    assert page.locator("#entries tbody tr").count() >= 1
    assert all(m == "POST" for m in page.locator("#entries tbody tr td:nth-child(3)").all_inner_texts())
    check_page(page, "ops-audit-log-filtered", errors)
