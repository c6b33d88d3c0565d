"""The council reviewer's pages and the person's "I don't recognise this" page, through the app's
own client (the browser tests drive the same pages in Chromium)."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest

import review_book

PASSWORD = review_book.PASSWORD


def _token(html: str) -> str:
    return re.findall(r'<input type="hidden" name="csrf_token" value="([^"]+)">', html)[0]


def sign_in(api, name, role, *extra):
    result = api.runner.invoke(args=["users", "create", "--name", name, "--role", role, *extra,
                                     "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    client = api.app.test_client()
    r = client.post("/login", data={"csrf_token": _token(client.get("/login").get_data(as_text=True)),
                                    "name": name, "password": PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def text(r) -> str:
    """The page's words, tags stripped and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", r.get_data(as_text=True)).split())


@pytest.fixture
def book(api, monkeypatch):
    return review_book.build(api, monkeypatch)


def test_an_auditor_finds_their_person_and_reads_the_review(api, book):
    auditor = sign_in(api, "reviewer", "auditor", "--council", "Northshire")
    home = text(auditor.get("/"))
    assert "Northshire’s people" in home and "Łukasz Nowak" in home and "Cy Jones" in home and "Bo " not in home
    found = auditor.get("/?q=ns-0042")
    assert "1 person matches" in text(found) and "Cy Jones" not in text(found)
    assert f'href="/people/{book["ana"]}"' in found.get_data(as_text=True)
    assert "1 person matches" in text(auditor.get("/?q=nowak"))
    page = auditor.get(f"/people/{book['ana']}")
    assert page.status_code == 200
    words = text(page)
    assert "Review of Łukasz Nowak’s fund" in words
    # Planned 7.00 a week: week 41 used 5.00, week 42 used 7.50, in the table and the chart's words.
    assert "2026-W41: 5.00 hours used of 7.00 planned" in words and "2026-W42: 7.50 hours used of 7.00 planned" in words
    assert "Extra support after a fall Dr Okafor" in words
    assert "Taxi Co Taxi to drama" in words
    # Fee 200.00 + support 231.25 to the provider, 12.50 elsewhere, of 443.75.
    assert "The provider in all £431.25 97.18%" in words and "Paid elsewhere (spend to others) £12.50 2.82%" in words
    # The bars' scale is the most hours in a week (7.50): 5.00 is 67% of it, 7.00 planned 93%.
    assert ('<div class="isf-bar__fill isf-w-67"></div><div class="isf-bar__marker isf-left-93"></div>'
            in page.get_data(as_text=True))
    assert "<form" not in page.get_data(as_text=True).split('id="main-content"')[1].split("</main>")[0]
    pack = auditor.get(f"/people/{book['ana']}/review-pack.xlsx")
    assert pack.status_code == 200 and pack.mimetype.endswith("spreadsheetml.sheet")
    assert openpyxl.load_workbook(io.BytesIO(pack.data))["Summary"]["A1"].value == "Review pack: Łukasz Nowak"
    # Another council's person, by URL: refused, and so is an id that does not exist.
    for path in (f"/people/{book['bo']}", f"/people/{book['bo']}/review", f"/people/{book['bo']}/review-pack.xlsx",
                 f"/people/{book['bo']}/queries", "/people/999999"):
        assert auditor.get(path).status_code == 403, path


def test_a_person_raises_a_query_from_a_line_and_later_sees_its_answer(api, book):
    ana = sign_in(api, "lukasz", "person", "--person", str(book["ana"]))
    page = ana.get(f"/people/{book['ana']}/queries?spend_id={book['spend']}")
    html = page.get_data(as_text=True)
    assert "Your question is about: Taxi Co: Taxi to drama on 9 October 2026" in text(page)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    form = {"csrf_token": _token(html), "idempotency_key": key, "spend_id": str(book["spend"]),
            "message": "I did not go to drama that day"}
    # Empty: refused beside the field and at the top, with the item kept.
    refused = ana.post(f"/people/{book['ana']}/queries", data={**form, "message": " "})
    assert refused.status_code == 422 and "There is a problem" in text(refused)
    assert text(refused).count("Enter your question") == 2 and "Taxi Co: Taxi to drama" in text(refused)
    for _ in range(2):  # a double submit writes once
        sent = ana.post(f"/people/{book['ana']}/queries", data=form)
        assert sent.status_code == 303
    mine = api.get(f"/api/v1/people/{book['ana']}/queries")
    assert len(mine) == 1 and mine[0]["spend_id"] == book["spend"] and mine[0]["status"] == "open"
    words = text(ana.get(sent.headers["Location"]))
    assert "I did not go to drama that day" in words and "Open" in words and "We will answer by" in words
    api.post(f"/api/v1/queries/{mine[0]['id']}/answers", {"message": "It was the class on Friday 9th; we checked."})
    words = text(ana.get(f"/people/{book['ana']}/queries"))
    assert "Answered" in words and "It was the class on Friday 9th; we checked." in words
    # Someone else's line is not taken as the item, and someone else's page is refused.
    api.receipt(book["bo"], "10.00", "2026-10-01")
    other = api.post(f"/api/v1/people/{book['bo']}/spend", {"date": "2026-10-09", "amount": "1.00", "payee": "X",
                                                            "category": "other", "domain": "health",
                                                            "description": "Bo's"})["id"]
    assert "Your question is about" not in text(ana.get(f"/people/{book['ana']}/queries?spend_id={other}"))
    assert ana.get(f"/people/{book['bo']}/queries").status_code == 403
    # The auditor reads the question and its answer on the review page, and gets no form.
    auditor = sign_in(api, "reviewer", "auditor", "--council", "Northshire")
    review = auditor.get(f"/people/{book['ana']}")
    assert "It was the class on Friday 9th; we checked." in text(review)
    page = auditor.get(f"/people/{book['ana']}/queries")
    assert "Send my question" not in text(page)
    r = auditor.post(f"/people/{book['ana']}/queries", data={"csrf_token": _token(page.get_data(as_text=True)),
                                                             "message": "An auditor never writes"})
    assert r.status_code == 403 and len(api.get(f"/api/v1/people/{book['ana']}/queries")) == 1
    # The review page is for reviewers and staff, not the person (their pages say it in their words).
    assert ana.get(f"/people/{book['ana']}/review").status_code == 403


def test_the_reviewers_pages_read_in_the_same_queries_whatever_the_history(api, book):
    from pages_book import counted
    auditor = sign_in(api, "reviewer", "auditor", "--council", "Northshire")
    person = sign_in(api, "lukasz", "person", "--person", str(book["ana"]))
    pages = [(auditor, "/"), (auditor, "/?q=nowak"), (auditor, f"/people/{book['ana']}"),
             (person, f"/people/{book['ana']}/queries")]

    def counts():
        out = []
        for client, path in pages:
            client.get(path)  # the first read of a session keeps the user's text size in it
            with counted(api.app) as seen:
                assert client.get(path).status_code == 200, path
            out.append(len(seen))
        return out

    first = api.post(f"/api/v1/people/{book['ana']}/queries", {"message": "The first question"})
    api.post(f"/api/v1/queries/{first['id']}/answers", {"message": "The first answer"})
    before = counts()
    for i in range(6):  # more history: money, support, spend, a draw and a question every few days
        day = f"2026-10-{2 + 4 * i:02d}"
        api.receipt(book["ana"], "100.00", date=day)
        api.post(f"/api/v1/people/{book['ana']}/deliveries", {**review_book.DAY, "date": day, "quantity": "1.00",
                                                             "status": "delivered"})
        api.post(f"/api/v1/people/{book['ana']}/spend", {"date": day, "amount": "5.00", "payee": f"Shop {i}",
                                                        "category": "leisure", "domain": "health", "description": "Tea"})
        api.post(f"/api/v1/people/{book['ana']}/contingency/draws", {"date": day, "amount": "1.00", "reason": "More",
                                                                    "authorised_by": "Dr Okafor"})
        q = api.post(f"/api/v1/people/{book['ana']}/queries", {"message": f"Question {i}"})
        api.post(f"/api/v1/queries/{q['id']}/answers", {"message": "Answered"})
    after = counts()
    assert after == before, (before, after)
    # The review page: the review pack's reads (about 30), the forecast's and the statements' list.
    assert max(after) <= 55, after


def test_a_reviewer_may_open_an_earlier_plan_year_and_its_review_pack(api, book, monkeypatch):
    """A year on (5 October 2027) the plan year in force has only just begun: the page says so and
    links to the one before, whose review (October 2026 to September 2027) has the hours and the
    draw, and whose pack is that year's."""
    from datetime import date

    from isf_ledger import clock
    monkeypatch.setattr(clock, "today", lambda: date(2027, 10, 5))
    auditor = sign_in(api, "reviewer", "auditor", "--council", "Northshire")
    now = auditor.get(f"/people/{book['ana']}")
    words = text(now)
    assert "From 1 October 2027 to 31 October 2027: the plan year so far, in whole months." in words
    assert "Plan years: 1 October 2027 to 30 September 2028 (this plan year) 1 October 2026 to 30 September 2027" in words
    assert "2026-W41" not in words
    html = now.get_data(as_text=True)
    assert f'href="/people/{book["ana"]}?year=2026-10-01"' in html
    earlier = auditor.get(f"/people/{book['ana']}?year=2026-10-01")
    words = text(earlier)
    assert "From 1 October 2026 to 30 September 2027: an earlier plan year, in whole months." in words
    assert "Where the fund stands at 30 September 2027" in words
    assert "2026-W41: 5.00 hours used of 7.00 planned" in words and "Extra support after a fall Dr Okafor" in words
    assert f'href="/people/{book["ana"]}/review-pack.xlsx?year=2026-10-01"' in earlier.get_data(as_text=True)
    pack = auditor.get(f"/people/{book['ana']}/review-pack.xlsx?year=2026-10-01")
    assert pack.status_code == 200
    assert f"review-pack-{book['ana']}-2026-10-to-2027-09.xlsx" in pack.headers["Content-Disposition"]
    # A year that is not one of the person's plan years shows the one in force, as with none.
    assert "the plan year so far" in text(auditor.get(f"/people/{book['ana']}?year=1999-01-01"))
    assert "the plan year so far" in text(auditor.get(f"/people/{book['ana']}?year=%00"))
