"""Statements, large print, the surplus letter, final statements and the print batch are tagged
PDFs a screen reader can read (issue 23 item 1): pdfua (the machine-checkable PDF/UA-1 subset)
finds nothing, the structure tree reads in the order of the page, the chart says its figures."""
from __future__ import annotations

import io
from datetime import date

import pdfua
import pikepdf
import pytest

from isf_ledger import clock
from isf_ledger.db import db
from isf_ledger.reports import sending as dl
from pdfs import elements, pdf_text


@pytest.fixture
def today(monkeypatch):
    box = {"day": date(2026, 11, 3)}
    monkeypatch.setattr(clock, "today", lambda: box["day"])
    return box


def documents(api, today) -> dict[str, bytes]:
    """One of each kind, for a person named outside Latin-1."""
    api.call("PATCH", "/api/v1/provider", {"name": "Brightwater Support", "address_lines": ["1 Mill Lane"],
                                           "phone": "01632 960 123", "email": "q@brightwater.example.org",
                                           "contact_name": "Siân Owens"})
    pid = api.person("Łukasz Nowak")
    api.plan(pid, effective_from="2026-10-01")
    api.receipt(pid, "5000.00", "2026-10-01")
    api.post(f"/api/v1/people/{pid}/statement-delivery", {"method": "post", "address_lines": ["Flat 2", "Łódź Road"]})
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    with api.app.app_context():
        dl.send_month(db.session, date(2026, 10, 1), dl.SmtpSettings.from_app(api.app))
    path = f"/api/v1/people/{pid}/statements/2026-10?format=pdf"
    docs = {"statement": api.call("GET", path).data, "large print": api.call("GET", path + "&large_print=true").data,
            "print batch": api.call("GET", "/api/v1/statements/2026-10/print-batch").data}
    today["day"] = date(2026, 11, 20)
    docs["surplus letter"] = api.call("GET", f"/api/v1/people/{pid}/surplus-notice").data
    done = api.post(f"/api/v1/people/{pid}/close", {"date": "2026-11-15", "destination": "council", "reference": "R-1"})
    docs["final statement"] = api.call("GET", f"/api/v1/people/{pid}/statements/{done['final_statement_month']}"
                                              "?format=pdf").data
    return docs


def content_items(pdf, node):
    """(page index, MCID) of each content item in reading order."""
    pages = {p.obj.objgen: i for i, p in enumerate(pdf.pages)}
    out = []
    for e in [node, *elements(node)]:
        for k in e.K:
            if isinstance(k, pikepdf.Dictionary) and k.get("/Type") == "/MCR":
                out.append((pages[k.Pg.objgen], int(k.MCID)))
    return out


def test_every_kind_of_document_passes_pdfua_with_nothing_found(api, today, tmp_path):
    for kind, data in documents(api, today).items():
        path = tmp_path / f"{kind}.pdf"
        path.write_bytes(data)
        report = pdfua.validate(str(path))
        assert [(f.rule_id, f.message) for f in report.findings] == [], kind
        assert report.exit_code == 0, kind
        with pikepdf.open(io.BytesIO(data)) as pdf:
            root = pdf.Root
            assert (str(root.Lang), bool(root.MarkInfo.Marked), bool(root.ViewerPreferences.DisplayDocTitle)) == (
                "en-GB", True, True), kind
            xmp = root.Metadata.read_bytes().decode()
            assert "<pdfuaid:part>1</pdfuaid:part>" in xmp, kind
            for page in pdf.pages:  # every font embedded
                for font in page.Resources.Font.values():
                    assert font.DescendantFonts[0].FontDescriptor.FontFile2 is not None, kind
            # Content items in the order they are drawn: the tree reads as the pages do.
            items = content_items(pdf, root.StructTreeRoot.K[0])
            assert items == sorted(items) and len(items) == len(set(items)), kind
        assert "Łukasz Nowak" in pdf_text(data), kind


def test_the_statement_reads_in_order_with_headings_a_table_a_list_and_the_chart_in_words(api, today):
    data = documents(api, today)["statement"]
    with pikepdf.open(io.BytesIO(data)) as pdf:
        tree = list(elements(pdf.Root.StructTreeRoot))
        roles = [str(e.S) for e in tree]
        assert roles[:3] == ["/Document", "/H1", "/P"]
        assert roles.count("/H1") == 1 and roles.count("/Table") == 1 and roles.count("/L") == 2
        table = next(e for e in tree if e.S == "/Table")
        rows = [[(str(c.S), str(c.A.Scope) if "/A" in c else None) for c in tr.K] for tr in table.K]
        assert rows[0] == [("/TH", "/Column"), ("/TH", "/Column")]
        assert all(r == [("/TH", "/Row"), ("/TD", None)] for r in rows[1:]) and len(rows) == 5
        paid_in, reach = [e.K for e in tree if e.S == "/L"]  # who paid in; how to reach us
        assert [[str(k.S) for k in li.K] for li in paid_in] == [["/Lbl", "/LBody"]]
        assert [[str(k.S) for k in li.K] for li in reach] == [["/Lbl", "/LBody"]] * 3
        [figure] = [e for e in tree if e.S == "/Figure"]
        assert str(figure.Alt) == (
            "A bar chart of your plan year. Your plan gives £26,000.00 a year, £2,166.67 a month. "
            "October 2026: £500.00 used. £500.00 was used by the end of this month.")
    text = pdf_text(data)
    headings = ["Your money for October 2026", "At the start", "What came in", "What it paid for", "Hours",
                "What is left", "Your money this month in short", "What Amount At the start £0.00 Came in £5,000.00 "
                "Our fee minus £500.00 At the end £4,500.00",
                "Your plan year so far", "What happens next", "Questions", "Who we are"]
    at = [text.find(h) for h in headings]
    assert -1 not in at and at == sorted(at), (list(zip(headings, at)), text)
