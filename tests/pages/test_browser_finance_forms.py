"""Finance's forms in a real browser (Debian's Chromium through Playwright): a new person, a
delivery, spend with a photo of its receipt, the contingency, a name correction, a fee refund, a
clawback and closing a fund, each refused once (the error beside the field, what was typed kept)
and then filled in properly. axe-core finds nothing on any page in any state, at 1280 px, 320 px
and 200% zoom (screenshots in test-artifacts/screenshots/forms-*)."""
from __future__ import annotations

from playwright.sync_api import expect

import pages_book
from browser import browser_context_args, browser_type_launch_args, check_page, live, watch  # noqa: F401
from test_browser_person import sign_in


def banner(page) -> str:
    """The success banner's words, once the page it was sent to has loaded."""
    page.wait_for_load_state()
    return page.locator(".govuk-notification-banner").inner_text()


def test_finance_fills_in_the_forms_for_a_fund(api, monkeypatch, tmp_path, live, page):
    book = pages_book.build(api, monkeypatch, tmp_path)
    pages_book.user(api, "fin", "--role", "finance")
    errors = watch(page)
    sign_in(page, live, "fin")

    # 1. A new person, from the dashboard.
    page.goto(f"{live}/dashboard")
    page.get_by_role("link", name="Add a new person").click()
    check_page(page, "forms-person", errors)
    page.get_by_label("Council", exact=True).fill("Northshire")
    page.get_by_role("button", name="Add the person").click()
    expect(page.locator("#name-error")).to_be_visible()
    assert page.get_by_label("Council", exact=True).input_value() == "Northshire"
    check_page(page, "forms-person-refused", errors)
    page.get_by_label("Full name").fill("Zoë Ní Bhriain")
    page.get_by_role("button", name="Add the person").click()
    assert "The person and their fund are created." in banner(page)
    expect(page.locator("h1")).to_have_text("Zoë Ní Bhriain")
    check_page(page, "forms-person-created", errors)

    # 2. A delivery, from Ana's page.
    page.goto(f"{live}/people/{book.ana}")
    page.get_by_role("link", name="Record a delivery").click()
    check_page(page, "forms-delivery", errors)
    page.get_by_label("Hours", exact=True).fill("lots")
    page.get_by_role("button", name="Record the delivery").click()
    expect(page.locator("#quantity-error")).to_be_visible()
    expect(page.get_by_label("Hours", exact=True)).to_have_value("lots")
    check_page(page, "forms-delivery-refused", errors)
    page.get_by_label("Hours", exact=True).fill("2.25")
    page.get_by_label("Day support").check()
    page.get_by_label("Personal care").check()
    page.get_by_role("button", name="Record the delivery").click()
    assert "The delivery is recorded." in banner(page)
    got = api.get(f"/api/v1/people/{book.ana}/deliveries?from={pages_book.TODAY}")
    assert [(d["quantity"], d["charge"]) for d in got] == [("2.25", "45.00")]
    check_page(page, "forms-delivery-recorded", errors)

    # 3. Spend with a photo of its receipt.
    page.get_by_role("link", name="Record spend and its receipt").click()
    check_page(page, "forms-spend", errors)
    photo = tmp_path / "receipt photo.png"
    photo.write_bytes(pages_book.PNG)
    page.get_by_label("Amount", exact=True).fill("12.34")
    page.get_by_label("Who was paid").fill("Café Ümit")
    page.get_by_role("button", name="Record the spend").click()
    expect(page.locator("#description-error")).to_be_visible()
    assert page.get_by_label("Who was paid").input_value() == "Café Ümit"
    check_page(page, "forms-spend-refused", errors)
    page.get_by_label("What it was for").fill("Lunch out with a friend")
    page.get_by_label("What kind of spend").fill("leisure")
    page.get_by_label("Work, leisure and learning").check()
    page.get_by_label("The receipt (optional)").set_input_files(str(photo))
    page.get_by_role("button", name="Record the spend").click()
    assert "The spend is recorded." in banner(page)
    s = api.get(f"/api/v1/people/{book.ana}/spend?from={pages_book.TODAY}")
    assert [(x["amount"], x["receipt_file"]["media_type"]) for x in s] == [("12.34", "image/png")]

    # 9. A plan version: filled in from the plan in force, refused, then added.
    page.goto(f"{live}/people/{book.ana}")
    page.get_by_role("link", name="Add a plan version").click()
    check_page(page, "forms-plan", errors)
    page.get_by_label("Planned hours a week").fill("lots")
    page.locator("#line-0-outcome").fill("Stays well at home")
    page.get_by_role("button", name="Add the plan version").click()
    expect(page.locator("#hours-day_support-error")).to_be_visible()
    expect(page.locator("#line-0-domain-error")).to_be_visible()
    assert page.locator("#line-0-outcome").input_value() == "Stays well at home"
    check_page(page, "forms-plan-refused", errors)
    page.get_by_label("Planned hours a week").fill("8.00")
    page.locator("#line-0-domain").select_option("personal_care")
    page.locator("#line-0-annual_amount").fill("5000.00")
    page.get_by_role("button", name="Add the plan version").click()
    assert "The new plan version is added." in banner(page)
    assert api.get(f"/api/v1/people/{book.ana}/plans")[-1]["planned_weekly_hours"] == {"day_support": "8.00"}

    # 4 to 7: the contingency, a name correction, a fee refund, a clawback (each refused, then done).
    for link, name, bad, good, button, said in (
            ("Set money aside in the contingency", "forms-set-aside", {"Amount to set aside": "600.00"},
             {"Amount to set aside": "100.00"}, "Set the money aside", "The money is set aside"),
            ("Draw on the contingency", "forms-draw", {"Amount to draw": "10.00"},
             {"What the money is for": "A taxi to the hospital", "Who agreed it": "Jo Bloggs"}, "Record the draw",
             "The draw on the contingency is recorded"),
            ("Correct the name", "forms-name", {"Their name, as it should be": ""},
             {"Their name, as it should be": "Siân O'Brien"}, "Correct the name", "The name is corrected"),
            ("Refund management fee", "forms-fee-refund", {"Amount to refund": "5.00"},
             {"Why it is refunded": "Charged twice"}, "Refund the fee", "The fee refund is recorded"),
            ("Record a clawback of surplus", "forms-clawback", {"Amount": "100.00"},
             {"Date the person was told (the notice letter's date)": "2026-10-13"}, "Record the clawback",
             "The clawback is recorded")):
        page.get_by_role("link", name=link).click()
        check_page(page, name, errors)
        for label, value in bad.items():
            page.get_by_label(label, exact=True).fill(value)
        page.get_by_role("button", name=button).click()
        expect(page.locator(".govuk-error-summary")).to_be_visible()
        for label, value in bad.items():
            assert page.get_by_label(label, exact=True).input_value() == value, name
        check_page(page, f"{name}-refused", errors)
        for label, value in good.items():
            page.get_by_label(label, exact=True).fill(value)
        page.get_by_role("button", name=button).click()
        assert said in banner(page), name
    assert api.get(f"/api/v1/people/{book.ana}")["name"] == "Siân O'Brien"
    assert api.get(f"/api/v1/people/{book.ana}/contingency")["held"] == "90.00"

    # 10. A council's rules, from the dashboard: refused, then saved, with their history.
    page.goto(f"{live}/dashboard")
    page.get_by_role("link", name="Councils and their rules").click()
    check_page(page, "forms-councils", errors)
    page.get_by_role("link", name="Northshire").click()
    check_page(page, "forms-council", errors)
    page.get_by_label("Days of notice before a surplus is taken back").fill("400")
    page.get_by_role("button", name="Save the rules").click()
    expect(page.locator("#surplus_notice_days-error")).to_be_visible()
    check_page(page, "forms-council-refused", errors)
    page.get_by_label("Days of notice before a surplus is taken back").fill("14")
    page.get_by_role("button", name="Save the rules").click()
    assert "The council's rules are saved." in banner(page)
    expect(page.locator("#history tbody tr")).to_have_count(1)
    check_page(page, "forms-council-saved", errors)

    # 11. The rate card: refused, then a rate added.
    page.goto(f"{live}/dashboard")
    page.get_by_role("link", name="The rate card").click()
    check_page(page, "forms-rates", errors)
    page.get_by_label("Service", exact=True).fill("waking_night")
    page.get_by_label("Rate", exact=True).fill("lots")
    page.get_by_role("button", name="Add the rate").click()
    expect(page.locator("#rate-error")).to_be_visible()
    expect(page.get_by_label("Service", exact=True)).to_have_value("waking_night")
    check_page(page, "forms-rates-refused", errors)
    page.get_by_label("Night").check()
    page.get_by_label("Rate", exact=True).fill("110.00")
    page.get_by_role("button", name="Add the rate").click()
    assert "The rate is added to the rate card." in banner(page)
    check_page(page, "forms-rates-added", errors)

    # 12. Shared support: an arrangement (refused, then set up), a member, October charged with its working.
    page.goto(f"{live}/dashboard")
    page.get_by_role("link", name="Shared support").click()
    check_page(page, "forms-shared", errors)
    page.get_by_role("link", name="Set up a shared arrangement").click()
    check_page(page, "forms-shared-new", errors)
    page.get_by_label("Name", exact=True).fill("Sleep-in, 12 Rowan Close")
    page.get_by_label("Number of places").fill("3")
    page.get_by_role("button", name="Set it up").click()
    expect(page.locator("#per_night-error")).to_be_visible()
    check_page(page, "forms-shared-new-refused", errors)
    page.get_by_label("Cost a night (or leave empty and give a weekly cost)").fill("62.40")
    page.get_by_label("From", exact=True).fill("2026-10-01")
    page.get_by_role("button", name="Set it up").click()
    assert "The arrangement is set up." in banner(page)
    check_page(page, "forms-shared-one", errors)
    page.get_by_role("link", name="Add a member").click()
    page.get_by_label("The person's id").fill(str(book.ana))
    page.get_by_label("Joins on").fill("2026-10-01")
    page.get_by_role("button", name="Add the member").click()
    expect(page.locator("#recorded_by-error")).to_be_visible()
    check_page(page, "forms-shared-member-refused", errors)
    page.get_by_label("Who recorded their agreement").fill("Sam Broker")
    page.get_by_role("button", name="Add the member").click()
    assert "The member is added." in banner(page)
    page.get_by_label("Month", exact=True).fill("2026-10")
    page.get_by_role("button", name="See the month").click()
    check_page(page, "forms-shared-month", errors)
    page.get_by_role("button", name="Charge October 2026").click()
    assert page.locator("#cost").inner_text() == "£1,934.40"
    check_page(page, "forms-shared-month-charged", errors)

    # 8. Closing Bo's fund: refused, checked, closed.
    page.goto(f"{live}/people/{book.bo}")
    page.get_by_role("link", name="Close the fund").click()
    check_page(page, "forms-close", errors)
    page.get_by_label("Reference", exact=True).fill("NS-END-1")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#destination-error")).to_be_visible()
    expect(page.get_by_label("Reference", exact=True)).to_have_value("NS-END-1")
    check_page(page, "forms-close-refused", errors)
    page.get_by_label("Back to the council").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_have_text("Check before the fund closes")
    assert page.locator("#paid-out-total").inner_text() == "£8,100.00"
    check_page(page, "forms-close-check", errors)
    page.get_by_role("button", name="Close the fund").click()
    assert "The fund is closed and its final statement issued." in banner(page)
    assert api.get(f"/api/v1/people/{book.bo}")["fund"]["closed_on"] == str(pages_book.TODAY)
    check_page(page, "forms-closed", errors)
