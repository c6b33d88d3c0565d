"""Any name, reason or reference reaches every PDF as it is written (issue 21 item 1): the font is
embedded and Unicode, and a character it lacks never fails a document."""
from __future__ import annotations

import io
from datetime import date

import pikepdf
import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from isf_ledger import clock
from isf_ledger.db import db
from isf_ledger.reports.pdfdoc import PLACEHOLDER
from pdfs import elements, pdf_text  # noqa: F401 (others import them from here too)


@pytest.fixture
def today(monkeypatch):
    box = {"day": date(2026, 11, 20)}
    monkeypatch.setattr(clock, "today", lambda: box["day"])
    return box


def statement_pdf(api, pid, month, **query):
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    r = api.call("GET", f"/api/v1/people/{pid}/statements/{month}?format=pdf{extra}")
    assert r.status_code == 200, r.get_json()
    return r.data


def person_with_october(api, name):
    pid = api.person(name)
    api.plan(pid, effective_from="2026-10-01")
    api.receipt(pid, "2000.00", "2026-10-01")
    return pid


@pytest.mark.slow
def test_month_end_of_60_people_with_lukasz_issues_all_60_pdfs_with_his_name(app, api):
    """As found: `isf-ledger statements issue --workers 2` exited 1 with no statement for anyone
    (BrokenProcessPool) once one person was named "Łukasz Nowak"."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--people", "61", "--months", "2", "--seed", "5"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        first = db.session.scalar(sa.text("SELECT min(id) FROM people"))
        open_funds = db.session.scalar(sa.text("SELECT count(*) FROM funds WHERE closed_on IS NULL"))
        db.session.rollback()
    assert open_funds == 60  # the demo closes one fund in 61
    api.call("PATCH", f"/api/v1/people/{first}", {"name": "Łukasz Nowak"})
    assert api.get(f"/api/v1/people/{first}")["name"] == "Łukasz Nowak"
    today = clock.today()
    first_day = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    month = first_day.strftime("%Y-%m")
    result = runner.invoke(args=["statements", "issue", month, "--workers", "2"])
    assert result.exit_code == 0, result.output
    # The one already issued is the closed fund's final statement.
    assert f"{month}: 60 statement(s) issued now, 1 already issued" in result.output
    texts = {}
    with app.app_context():
        people = db.session.execute(sa.text(
            "SELECT s.person_id FROM statements s JOIN funds f ON f.person_id = s.person_id "
            "WHERE s.month = :m AND s.version = 1 AND f.closed_on IS NULL"),
                                    {"m": first_day}).scalars().all()
        db.session.rollback()
    assert len(people) == 60
    for pid in people:
        name = api.get(f"/api/v1/people/{pid}")["name"]
        texts[pid] = pdf_text(statement_pdf(api, pid, month))
        assert f"This is for {name}." in texts[pid], pid
    assert "This is for Łukasz Nowak." in texts[first]
    assert "Łukasz Nowak" in pdf_text(statement_pdf(api, first, month, large_print="true"))


NAMES = {"Polish": "Łukasz Żółkiewski", "Welsh": "Siân Llŷr ap Dafydd", "Turkish": "Ayşe Yıldırım Güneş",
         "Vietnamese": "Nguyễn Thị Hương", "Greek": "Σοφία Παπαδοπούλου", "Russian": "Дмитрий Иванов",
         "Punctuation": "Mary O’Brien Smith–Jones €"}


def test_a_name_in_each_language_is_written_in_the_statement(api, today):
    people = {lang: person_with_october(api, name) for lang, name in NAMES.items()}
    today["day"] = date(2026, 11, 3)
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    for lang, pid in people.items():
        data = statement_pdf(api, pid, "2026-10")
        text = pdf_text(data)
        assert f"This is for {NAMES[lang]}. It is statement number" in text, lang
        assert PdfReader(io.BytesIO(data)).metadata.title == f"Money statement for October 2026: {NAMES[lang]}"
        with pikepdf.open(io.BytesIO(data)) as pdf:  # every font embedded, and none is a core font
            fonts = [f for page in pdf.pages for f in page.Resources.Font.values()]
            assert fonts and all(f.DescendantFonts[0].FontDescriptor.get("/FontFile2") is not None for f in fonts)


def test_a_name_the_font_cannot_draw_still_makes_the_statement_and_is_kept_as_actual_text(api, today):
    name = "李小龍 Lee 🦜"
    pid = person_with_october(api, name)
    today["day"] = date(2026, 11, 3)
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    data = statement_pdf(api, pid, "2026-10")
    text = pdf_text(data)
    assert f"This is for {chr(PLACEHOLDER) * 3} Lee {chr(PLACEHOLDER)}." in text
    with pikepdf.open(io.BytesIO(data)) as pdf:
        actual = [str(e.ActualText) for e in elements(pdf.Root.StructTreeRoot) if "/ActualText" in e]
    assert any(a.startswith(f"This is for {name}.") for a in actual), actual


def test_a_correction_a_close_and_a_surplus_letter_with_unicode_text_answer(api, today):
    pid = person_with_october(api, "Łukasz Nowak")
    today["day"] = date(2026, 11, 3)
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    fixed = api.post(f"/api/v1/people/{pid}/statements/2026-10/corrections", {"reason": "Zażółć gęślą jaźń"})
    assert fixed["reason"] == "Zażółć gęślą jaźń"
    assert "We changed it because: Zażółć gęślą jaźń." in pdf_text(statement_pdf(api, pid, "2026-10"))

    today["day"] = date(2026, 11, 20)
    r = api.call("GET", f"/api/v1/people/{pid}/surplus-notice")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "This letter is for Łukasz Nowak." in pdf_text(r.data)

    done = api.post(f"/api/v1/people/{pid}/close", {"date": "2026-11-15", "destination": "transfer",
                                                     "reference": "Nová Péče"})
    text = pdf_text(statement_pdf(api, pid, "2026-11"))
    assert done["final_statement_month"] == "2026-11"
    assert "(reference Nová Péče)" in text and "This is for Łukasz Nowak." in text
