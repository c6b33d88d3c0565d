"""The person and their family in a real browser (Debian's Chromium through Playwright): signing in
and reading what is left, October's statement and its PDF, a family member seeing the same and
not another person's fund, the empty pages, large text, and a keyboard-only journey with the
focus always visible. axe-core finds nothing on any page in any state, at 320 px and at 200%."""
from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

import pages_book
from browser import (browser_context_args, browser_type_launch_args, check_page, focus_is_visible, live,  # noqa: F401
                     tab_to, watch)
from pages_book import PASSWORD, pounds


def sign_in(page, base, name, password=PASSWORD):
    page.goto(f"{base}/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_person_reads_what_is_left_and_downloads_october_s_pdf(api, monkeypatch, tmp_path, live, page):
    book = pages_book.build(api, monkeypatch, tmp_path)
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    errors = watch(page)
    page.goto(f"{live}/login")
    check_page(page, "login", errors)
    sign_in(page, live, "ana", "not the password")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert page.title().startswith("Error: Sign in")
    check_page(page, "login-error", errors)

    sign_in(page, live, "ana")
    assert page.url == f"{live}/"
    expect(page.locator("h1")).to_have_text("Your money")
    assert page.locator("#left-now").inner_text() == pounds(book.left_now)
    assert "Money is building up." in page.locator("#pace-sentence").inner_text()
    check_page(page, "person-home", errors)

    page.get_by_role("link", name="Your statements").click()
    check_page(page, "person-statements", errors)
    page.get_by_role("link", name="October 2026").click()
    assert page.url == f"{live}/people/{book.ana}/statements/2026-10"
    expect(page.locator("h1")).to_have_text("Your money for October 2026")
    assert f"You have {pounds(book.october_closing)} at the end of October." in page.content()
    check_page(page, "person-statement-october", errors)
    with page.expect_download() as got:
        page.get_by_role("link", name="Statement for October 2026 (PDF)").click()
    pdf = Path(got.value.path()).read_bytes()
    assert pdf == api.call("GET", f"/api/v1/people/{book.ana}/statements/2026-10?format=pdf").data

    for link, name in (("This month", "person-this-month"), ("What was spent on you", "person-spend")):
        page.get_by_role("navigation", name="Your pages").get_by_role("link", name=link).click()
        check_page(page, name, errors)
    with page.expect_download() as got:
        page.get_by_role("link", name="See the receipt for Bus pass for college").click()
    assert Path(got.value.path()).read_bytes() == pages_book.PNG

    page.get_by_role("button", name="Make the text larger").click()
    assert "isf-text-large" in page.locator("html").get_attribute("class")
    check_page(page, "person-spend-large-text", errors)


def test_a_family_member_sees_the_same_and_not_another_person_s_fund(api, monkeypatch, tmp_path, live, page,
                                                                     browser):
    book = pages_book.build(api, monkeypatch, tmp_path)
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    pages_book.user(api, "ana-dad", "--role", "person", "--person", str(book.ana))
    errors = watch(page)
    sign_in(page, live, "ana-dad")
    assert page.locator("#left-now").inner_text() == pounds(book.left_now)
    seen = page.locator("main").inner_text()
    page.goto(f"{live}/people/{book.ana}/statements/2026-10")
    statement = page.locator("main").inner_text()
    other = browser.new_context()
    try:
        ana = other.new_page()
        sign_in(ana, live, "ana")
        assert ana.locator("main").inner_text() == seen
        ana.goto(f"{live}/people/{book.ana}/statements/2026-10")
        assert ana.locator("main").inner_text() == statement
    finally:
        other.close()
    for path in (f"/people/{book.bo}", f"/people/{book.bo}/statements/2026-10", f"/people/{book.bo}/spend"):
        response = page.goto(f"{live}{path}")
        assert response.status == 403, path
        assert "9,000" not in page.content() and "Bo" not in page.locator("main").inner_text()
    expect(page.locator("h1")).to_have_text("You cannot see this page")
    errors.clear()  # the browser logs each 403 it was sent; the page itself is checked below
    check_page(page, "error-403", errors)


def test_empty_pages_for_someone_with_nothing_yet(api, monkeypatch, tmp_path, live, page):
    pages_book.build(api, monkeypatch, tmp_path)
    cai = api.person("Cai")
    pages_book.user(api, "cai", "--role", "person", "--person", str(cai))
    errors = watch(page)
    sign_in(page, live, "cai")
    assert "You do not have a support plan yet." in page.locator("main").inner_text()
    check_page(page, "empty-home", errors)
    for link, name in (("Statements", "empty-statements"), ("What was spent on you", "empty-spend"),
                       ("This month", "empty-this-month")):
        page.get_by_role("navigation", name="Your pages").get_by_role("link", name=link).click()
        check_page(page, name, errors)


def test_keyboard_only_with_the_focus_always_visible(api, monkeypatch, tmp_path, live, page):
    book = pages_book.build(api, monkeypatch, tmp_path)
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    page.goto(f"{live}/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to the main content"
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    for _ in range(10):  # on to the name field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "name":
            break
    assert focus_is_visible(page)
    page.keyboard.type("ana")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password" and focus_is_visible(page)
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live}/")

    tab_to(page, "Your statements")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/statements$"))
    tab_to(page, "October 2026")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/statements/2026-10$"))
    with page.expect_download() as got:
        tab_to(page, "Statement for October 2026 (PDF)")
        page.keyboard.press("Enter")
    assert Path(got.value.path()).read_bytes()[:5] == b"%PDF-"
    tab_to(page, "Sign out")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/login$"))


def test_the_provider_s_contact_on_every_page_and_nothing_scrolls_sideways_at_320_px(api, monkeypatch, tmp_path,
                                                                                     live, page):
    """The demo provider's contact (a long e-mail address) in the foot of every page and in the
    statement's own words: at 320 px the page still does not scroll sideways (check_page)."""
    from isf_ledger.demo.load import DEMO_PROVIDER
    r = api.call("PATCH", "/api/v1/provider", DEMO_PROVIDER)
    assert r.status_code == 200, r.get_json()
    book = pages_book.build(api, monkeypatch, tmp_path)
    pages_book.user(api, "ana", "--role", "person", "--person", str(book.ana))
    errors = watch(page)
    page.goto(f"{live}/login")
    assert "questions@brightwater.example.org" in page.locator("footer").inner_text()
    sign_in(page, live, "ana")
    for path, name in (("/", "contact-home"), (f"/people/{book.ana}/this-month", "contact-this-month"),
                       (f"/people/{book.ana}/statements", "contact-statements"),
                       (f"/people/{book.ana}/statements/2026-10", "contact-statement-october"),
                       (f"/people/{book.ana}/spend", "contact-spend"), (f"/people/{book.ana}/queries", "contact-queries")):
        page.goto(f"{live}{path}")
        foot = page.locator("footer").inner_text()
        assert "Sam Patel answers questions." in foot and "01632 960 123" in foot, path
        assert "questions@brightwater.example.org" in foot, path
        check_page(page, name, errors)
    page.goto(f"{live}/people/{book.bo}")  # another person's: a 403 page, with the contact too
    assert "questions@brightwater.example.org" in page.locator("footer").inner_text()
