"""Finance reconciles the client bank account in a real browser (Debian's Chromium through
Playwright): uploads the bank's statement, matches a line the matcher only guessed, records the
bank's interest from its line, and completes the reconciliation once it agrees (refused before), each page checked by axe at
1280 px, 320 px and 200% zoom (screenshots in test-artifacts/screenshots/bank-*)."""
from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

import pages_book
from browser import (browser_context_args, browser_type_launch_args, check_page, live, tab_to,  # noqa: F401
                     watch)
from isf_ledger import clock
from test_browser_person import sign_in

STATEMENT = ("Date,Description,Amount,Balance\n01/10/2026,NORTHSHIRE NCC-1,2000.00,2000.00\n"
             "02/10/2026,CHEQUES,600.00,2600.00\n03/11/2026,INTEREST,2.60,2602.60\n")


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 5))


def test_finance_uploads_matches_records_interest_and_reconciles(api, live, page):
    ana = api.person("Siobhán O’Neill", opened_on="2026-09-01")
    api.receipt(ana, amount="2000.00", date="2026-10-01", reference="NCC-1", fee_exempt=True)
    api.receipt(ana, amount="250.00", date="2026-10-01", fee_exempt=True)
    api.receipt(ana, amount="350.00", date="2026-10-02", fee_exempt=True)
    pages_book.user(api, "fin", "--role", "finance")
    errors = watch(page)
    sign_in(page, live, "fin")
    page.get_by_role("navigation", name="Your pages").get_by_role("link", name="Bank").click()
    expect(page.locator("h1")).to_have_text("The client bank account")
    check_page(page, "bank-home", errors)

    page.get_by_role("button", name="Upload and match").click()
    expect(page.locator("#file-error")).to_be_visible()
    check_page(page, "bank-upload-refused", errors)
    page.set_input_files("#file", files=[{"name": "october.csv", "mimeType": "text/csv",
                                          "buffer": STATEMENT.encode()}])
    page.get_by_role("button", name="Upload and match").click()
    expect(page.locator("h1")).to_have_text("Bank statement 1")
    assert "2 not matched yet" in page.locator("main").inner_text()
    check_page(page, "bank-statement", errors)

    page.get_by_role("link", name="Match line 2").click()
    expect(page.locator("h1")).to_have_text("Match a bank line")
    guess = page.get_by_label("Transaction numbers").input_value()
    assert len(guess.split(", ")) == 2  # the two receipts that sum to it, offered for finance to confirm
    check_page(page, "bank-match", errors)
    page.get_by_label("Transaction numbers").fill(guess.split(", ")[0])
    page.get_by_role("button", name="Match the line").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert page.get_by_label("Transaction numbers").input_value() == guess.split(", ")[0]
    check_page(page, "bank-match-refused", errors)
    page.get_by_label("Transaction numbers").fill(guess)
    page.get_by_role("button", name="Match the line").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("The line is matched.")

    page.get_by_role("link", name="record it as interest (line 3)").click()
    expect(page.locator("h1")).to_have_text("Record interest from the bank")
    page.get_by_label("For the period from").fill("2026-10-01")
    page.get_by_label("To (the last day)").fill("2026-10-31")
    check_page(page, "bank-interest", errors)
    page.get_by_role("button", name="Record the interest").click()
    expect(page.locator("h1")).to_have_text("Interest paid on 3 November 2026")
    assert "£2.60" in page.locator("#shares").inner_text() and "Siobhán O’Neill" in page.locator("#shares").inner_text()
    check_page(page, "bank-interest-paid", errors)
    assert api.balance(ana)["available"] == "2602.60"

    page.goto(f"{live}/bank/reconcile")
    check_page(page, "bank-reconcile", errors)
    page.get_by_label("Reconcile as at").fill("2026-11-02")  # before the interest reached the bank
    page.get_by_role("button", name="Complete the reconciliation").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("No bank statement closes on or before 2026-11-02")
    assert "Not known: no bank statement closes by then" in page.locator("#facts").inner_text()
    check_page(page, "bank-reconcile-refused", errors)
    page.get_by_label("Reconcile as at").fill("2026-11-03")  # every line matched: the bank agrees
    page.get_by_role("button", name="Complete the reconciliation").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("The reconciliation is completed.")
    # The row's key and value, whatever the layout puts between them (a tab, or a new line when narrow).
    expect(page.locator("#position .govuk-summary-list__row", has_text="Last reconciled with the bank")
           .locator(".govuk-summary-list__value")).to_have_text("3 Nov 2026")
    check_page(page, "bank-reconciled", errors)


def test_the_bank_by_keyboard_only_with_the_focus_always_visible(api, live, page):
    ana = api.person("Ana", opened_on="2026-09-01")
    api.receipt(ana, amount="250.00", date="2026-10-01", fee_exempt=True)
    api.receipt(ana, amount="350.00", date="2026-10-02", fee_exempt=True)
    pages_book.user(api, "fin", "--role", "finance")
    sign_in(page, live, "fin")
    page.goto(f"{live}/bank")
    page.set_input_files("#file", files=[{"name": "october.csv", "mimeType": "text/csv",
                                          "buffer": b"Date,Description,Amount\n02/10/2026,CHEQUES,600.00\n"}])

    tab_to(page, "Upload and match")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/bank/statements/\d+\?done=uploaded$"))
    tab_to(page, "Match line 1")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/lines/\d+/match$"))
    tab_to(page, "Match the line")  # the guess is typed in already: Enter confirms it
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*\?done=matched$"))
    assert "Every line is matched." in page.locator("main").inner_text()
