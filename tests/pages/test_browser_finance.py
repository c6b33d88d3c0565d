"""Finance in a real browser (Debian's Chromium through Playwright): the dashboard, a fund's page,
recording a receipt and seeing its fee before it is recorded, reversing it with a reason, and a
refused form that keeps what was typed. axe-core finds nothing on any page in any state, at
1280 px, 320 px and 200% zoom (screenshots in test-artifacts/screenshots/finance-*)."""
from __future__ import annotations

from playwright.sync_api import expect

import pages_book
from browser import browser_context_args, browser_type_launch_args, check_page, live, watch  # noqa: F401
from test_browser_person import sign_in


def test_finance_records_a_receipt_sees_the_fee_and_reverses_it_with_a_reason(api, monkeypatch, tmp_path, live, page):
    book = pages_book.build(api, monkeypatch, tmp_path)
    pages_book.user(api, "fin", "--role", "finance")
    errors = watch(page)
    sign_in(page, live, "fin")
    check_page(page, "finance-home", errors)
    page.get_by_role("navigation", name="Your pages").get_by_role("link", name="Dashboard").click()
    expect(page.locator("h1")).to_have_text("Dashboard")
    check_page(page, "finance-dashboard", errors)
    page.locator("#funds thead a", has_text="Balance").click()
    assert page.url.endswith("/dashboard?sort=balance")
    check_page(page, "finance-dashboard-sorted", errors)

    page.goto(f"{live}/people/{book.ana}")
    check_page(page, "finance-fund", errors)
    page.get_by_role("link", name="Record a receipt").click()
    check_page(page, "finance-receipt", errors)
    page.get_by_label("Amount").fill("12 pounds")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert page.locator("#amount").input_value() == "12 pounds"
    check_page(page, "finance-receipt-refused", errors)
    page.get_by_label("Amount").fill("1250.00")
    page.get_by_label("Reference (optional)").fill("Invoice Ω-7")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_have_text("Check the receipt before it is recorded")
    fee = page.locator("#fee").inner_text()
    assert fee.startswith("£")
    check_page(page, "finance-receipt-check", errors)
    page.get_by_role("button", name="Record the receipt").click()
    assert "The receipt is recorded." in page.content()
    got = api.get(f"/api/v1/people/{book.ana}/receipts")[-1]
    assert got["amount"] == "1250.00" and got["reference"] == "Invoice Ω-7"
    assert fee == pages_book.pounds(got["fee"])
    check_page(page, "finance-fund-recorded", errors)

    page.locator(f"#line-{got['transaction_id']}").get_by_role("link", name="Reverse").click()
    check_page(page, "finance-reverse", errors)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#reason-error")).to_be_visible()
    check_page(page, "finance-reverse-refused", errors)
    page.get_by_label("Why is it being reversed?").fill("Paid into the wrong fund")
    page.get_by_role("button", name="Continue").click()
    check_page(page, "finance-reverse-check", errors)
    page.get_by_role("button", name="Reverse the line").click()
    assert "The line is reversed." in page.content()
    after = api.get(f"/api/v1/people/{book.ana}/receipts")[-1]
    assert after["reversed_by_transaction_id"] is not None
    assert api.get(f"/api/v1/transactions/{after['reversed_by_transaction_id']}")["reason"] == "Paid into the wrong fund"
    check_page(page, "finance-fund-reversed", errors)


def test_an_admin_creates_a_user_and_disables_another_who_is_signed_out(api, monkeypatch, tmp_path, live, page, browser):
    book = pages_book.build(api, monkeypatch, tmp_path)
    pages_book.user(api, "root", "--role", "admin")
    pages_book.user(api, "leaver", "--role", "broker")
    other = browser.new_context(viewport={"width": 375, "height": 700})
    leaver = other.new_page()
    sign_in(leaver, live, "leaver")
    assert leaver.url == f"{live}/"
    errors = watch(page)
    sign_in(page, live, "root")
    page.get_by_role("navigation", name="Your pages").get_by_role("link", name="Users").click()
    check_page(page, "admin-users", errors)
    page.get_by_label("Name", exact=True).fill("Zoë Ng")
    page.get_by_label("Person", exact=True).check()
    page.get_by_label("Person's id (a person's user)").fill(str(book.ana))
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Create the user").click()
    expect(page.locator("#password-error")).to_be_visible()
    assert page.get_by_label("Name", exact=True).input_value() == "Zoë Ng"
    check_page(page, "admin-users-refused", errors)
    page.get_by_label("Password", exact=True).fill(pages_book.PASSWORD)
    page.get_by_role("button", name="Create the user").click()
    expect(page.locator("#new-token")).to_be_visible()
    check_page(page, "admin-users-created", errors)
    page.get_by_role("link", name="Disable leaver").click()
    expect(page.locator("h1")).to_have_text("Disable leaver?")
    assert "They will be signed out at once." in page.locator("#what-happens").inner_text()
    check_page(page, "admin-users-disable-check", errors)
    leaver.reload()
    assert leaver.url == f"{live}/"  # the check page disables nobody
    page.get_by_role("button", name="Yes, disable leaver").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("leaver is disabled and signed out.")
    check_page(page, "admin-users-disabled", errors)
    leaver.reload()
    assert "/login" in leaver.url
    other.close()


def test_month_end_refuses_a_month_out_of_order_in_plain_words_beside_the_field(api, monkeypatch, tmp_path, live,
                                                                              page):
    pages_book.build(api, monkeypatch, tmp_path)  # October issued, September not (made before the rule)
    pages_book.user(api, "fin", "--role", "finance")
    errors = watch(page)
    sign_in(page, live, "fin")
    page.get_by_role("navigation", name="Your pages").get_by_role("link", name="Month end").click()
    check_page(page, "finance-month-end", errors)  # at 320 px its table scrolls in its own box
    page.get_by_label("September 2026: 2 to issue").check()
    page.get_by_role("button", name="Issue the statements").click()
    said = ("September 2026 comes before October 2026, which is already issued: months are issued in order. "
            "The next month to issue is November 2026.")
    assert said in page.locator("#month-error").inner_text()
    assert said in page.locator(".govuk-error-summary").inner_text()
    assert page.title().startswith("Error: Month end")
    check_page(page, "finance-month-end-refused", errors)
