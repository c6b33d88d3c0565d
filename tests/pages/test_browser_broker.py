"""A broker on a phone (a 375 px viewport) in a real browser (Debian's Chromium through
Playwright): from their home to their people, a person's week recorded in one submit after a
refusal that keeps what was marked, and a spend with a photo of its receipt, one question a page,
checked, then recorded. axe-core finds nothing on any page in any state, at 375 px, 320 px and
200% zoom (screenshots in test-artifacts/screenshots/broker-*)."""
from __future__ import annotations

from playwright.sync_api import expect

import pages_book
from browser import browser_context_args, browser_type_launch_args, check_page, live, watch  # noqa: F401
from pages_book import PNG
from test_browser_person import sign_in


def test_a_broker_on_a_phone_records_a_week_and_a_spend_with_a_photo(api, monkeypatch, tmp_path, live, browser):
    book = pages_book.build(api, monkeypatch, tmp_path)
    pages_book.user(api, "bro", "--role", "broker")
    phone = browser.new_context(viewport={"width": 375, "height": 740}, locale="en-GB", has_touch=True, is_mobile=True)
    page = phone.new_page()
    errors = watch(page)
    sign_in(page, live, "bro")
    check_page(page, "broker-home", errors)
    page.get_by_role("navigation", name="Your pages").get_by_role("link", name="People and their week").click()
    expect(page.locator("h1")).to_have_text("People and their week")
    check_page(page, "broker-people", errors)

    # The week: Monday and Tuesday can be recorded; the rest of the week is still to come.
    page.get_by_role("link", name="Record the week for Siân Ó Briain").click()
    expect(page.locator("h1")).to_have_text("Week of 9 November 2026")
    check_page(page, "broker-week", errors)
    page.get_by_role("button", name="Record the week").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    expect(page.locator("#s0_status-error")).to_be_visible()
    check_page(page, "broker-week-nothing-marked", errors)
    monday = page.get_by_role("group", name="Day support: 1 hour 30 minutes planned. What happened?").first
    monday.get_by_label("Delivered").check()
    page.locator("#s1_status-4").check()  # Tuesday: not used, without notice
    page.locator("#s1_quantity").fill("an hour")
    page.get_by_role("button", name="Record the week").click()
    expect(page.locator("#s1_quantity-error")).to_be_visible()
    assert page.locator("#s1_quantity").input_value() == "an hour" and page.locator("#s0_status-2").is_checked()
    check_page(page, "broker-week-refused", errors)
    page.locator("#s1_quantity").fill("1.00")
    page.get_by_role("button", name="Record the week").click()
    assert "2 sessions are recorded." in page.locator(".govuk-notification-banner").inner_text()
    got = [(d["date"], d["status"], d["quantity"], d["charge"])
           for d in api.get(f"/api/v1/people/{book.ana}/deliveries?from=2026-11-09&to=2026-11-15")]
    assert got == [("2026-11-09", "delivered", "1.50", "30.00"), ("2026-11-10", "unplanned", "1.00", "20.00")]
    check_page(page, "broker-week-recorded", errors)

    # Spend: one question a page, a photo of the receipt, the answers checked, then recorded.
    page.get_by_role("link", name="Back to everyone").click()
    page.get_by_role("link", name="Record spend for Siân Ó Briain").click()
    expect(page.locator("h1")).to_have_text("What was bought?")
    check_page(page, "broker-spend-what", errors)
    page.get_by_label("What was bought, in a few words").fill("Cinema ticket")
    page.get_by_label("Leisure").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("How much was it?").fill("eight pounds")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#amount-error")).to_be_visible()
    expect(page.get_by_label("How much was it?")).to_have_value("eight pounds")
    check_page(page, "broker-spend-amount-refused", errors)
    page.get_by_label("How much was it?").fill("8.40")
    page.get_by_role("button", name="Continue").click()
    check_page(page, "broker-spend-date", errors)
    page.get_by_role("button", name="Continue").click()  # today, as offered
    page.get_by_label("The shop, company or person paid").fill("Northshire Picturehouse")
    check_page(page, "broker-spend-payee", errors)
    page.get_by_role("button", name="Continue").click()
    check_page(page, "broker-spend-domain", errors)
    page.get_by_label("Work, leisure and learning").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_have_text("Add a photo of the receipt")
    file_input = page.locator("#file")
    assert file_input.get_attribute("accept") == "image/*,application/pdf" and file_input.get_attribute("capture")
    check_page(page, "broker-spend-receipt", errors)
    file_input.set_input_files({"name": "ticket.png", "mimeType": "image/png", "buffer": PNG})
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_have_text("Check the spend before it is recorded")
    assert page.locator("#amount").inner_text() == "£8.40" and "ticket.png" in page.locator("#receipt").inner_text()
    check_page(page, "broker-spend-check", errors)
    page.get_by_role("button", name="Record the spend").click()
    assert "The spend for Siân Ó Briain is recorded." in page.locator(".govuk-notification-banner").inner_text()
    check_page(page, "broker-people-spent", errors)
    spent = api.get(f"/api/v1/people/{book.ana}/spend")[-1]
    assert (spent["amount"], spent["payee"], spent["date"], spent["domain"]) == (
        "8.40", "Northshire Picturehouse", "2026-11-10", "work_leisure_learning")
    assert spent["receipt_file"]["media_type"] == "image/png"
    # The same pages on a desktop's width.
    page.set_viewport_size({"width": 1280, "height": 800})
    check_page(page, "broker-people-wide", errors)
    page.goto(f"{live}/people/{book.ana}/week?week=2026-W45")
    check_page(page, "broker-week-wide", errors)
    page.goto(f"{live}/people/{book.ana}/spend/new")
    check_page(page, "broker-spend-what-wide", errors)
    phone.close()
