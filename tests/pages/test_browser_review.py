"""The council reviewer and the person's questions in a real browser (Debian's Chromium through
Playwright): an auditor finds their person, reads the hours per week, downloads the review pack
and cannot open another council's person by URL; a person asks about a line they do not
recognise and later reads the answer. axe-core finds nothing on any page they visit, in each
state, at 320 px and at 200% zoom."""
from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
from playwright.sync_api import expect

import review_book
from browser import browser_context_args, browser_type_launch_args, check_page, live, watch  # noqa: F401
from review_book import PASSWORD


def user(api, name, *extra):
    result = api.runner.invoke(args=["users", "create", "--name", name, *extra, "--password", PASSWORD])
    assert result.exit_code == 0, result.output


def sign_in(page, base, name):
    page.goto(f"{base}/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_auditor_finds_their_person_reads_hours_per_week_and_downloads_the_review_pack(
        api, monkeypatch, live, page):
    book = review_book.build(api, monkeypatch)
    user(api, "reviewer", "--role", "auditor", "--council", "Northshire")
    errors = watch(page)
    sign_in(page, live, "reviewer")
    expect(page.locator("h1")).to_have_text("Northshire’s people")
    expect(page.locator("#people tbody tr")).to_have_count(2)
    check_page(page, "reviewer-home", errors)

    page.get_by_label("Find a person by name or council reference").fill("NS-0042")
    page.get_by_role("button", name="Search").click()
    assert page.locator("#search-result").inner_text().startswith("1 person matches")
    check_page(page, "reviewer-search", errors)
    page.get_by_role("link", name="Łukasz Nowak").click()
    assert page.url == f"{live}/people/{book['ana']}"
    expect(page.locator("h1")).to_have_text("Review of Łukasz Nowak’s fund")
    weeks = page.locator("#weeks tbody tr")
    assert [weeks.nth(i).locator("th, td").all_inner_texts()[:3] for i in range(weeks.count())][1:3] == \
        [["2026-W41", "7.00", "5.00"], ["2026-W42", "7.00", "7.50"]]
    assert "2026-W42: 7.50 hours used of 7.00 planned" in page.locator("#weeks-chart").inner_text()
    check_page(page, "reviewer-person", errors)

    with page.expect_download() as got:
        page.get_by_role("link", name="Download the review pack (XLSX spreadsheet)").click()
    workbook = openpyxl.load_workbook(io.BytesIO(Path(got.value.path()).read_bytes()))
    assert workbook["Summary"]["A1"].value == "Review pack: Łukasz Nowak"
    assert "Hours by week" in workbook.sheetnames

    response = page.goto(f"{live}/people/{book['bo']}")
    assert response.status == 403
    assert "Bo" not in page.locator("main").inner_text()
    check_page(page, "reviewer-other-council-403")


def test_a_person_asks_about_a_line_and_later_sees_the_answer(api, monkeypatch, live, page):
    book = review_book.build(api, monkeypatch)
    user(api, "lukasz", "--role", "person", "--person", str(book["ana"]))
    errors = watch(page)
    sign_in(page, live, "lukasz")
    page.get_by_role("navigation", name="Your pages").get_by_role("link", name="Your questions").click()
    expect(page.locator("h1")).to_have_text("Questions about your money")
    check_page(page, "person-questions-empty", errors)

    page.get_by_role("navigation", name="Your pages").get_by_role("link", name="What was spent on you").click()
    page.get_by_role("link", name=re.compile(r"^I don’t recognise this\s*: Taxi to drama$")).click()
    assert page.url == f"{live}/people/{book['ana']}/queries?spend_id={book['spend']}"
    assert "Taxi Co: Taxi to drama" in page.locator("#about").inner_text()
    page.get_by_role("button", name="Send my question").click()  # nothing typed
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert page.title().startswith("Error: ")
    check_page(page, "person-questions-error")  # a 422 is logged as a failed load: no console check
    page.get_by_label("Your question").fill("I did not go to drama on the 9th")
    page.get_by_role("button", name="Send my question").click()
    asked = page.locator("#query-list li").first
    assert "Open" in asked.inner_text() and "I did not go to drama on the 9th" in asked.inner_text()
    check_page(page, "person-questions-open", errors)

    [query] = api.get(f"/api/v1/people/{book['ana']}/queries")
    assert query["spend_id"] == book["spend"]
    api.post(f"/api/v1/queries/{query['id']}/answers", {"message": "The class moved to Friday that week."})
    page.reload()
    answered = page.locator("#query-list li").first
    assert "Answered" in answered.inner_text() and "The class moved to Friday that week." in answered.inner_text()
    check_page(page, "person-questions-answered", errors)
