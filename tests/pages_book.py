"""A small book for the pages' tests: Ana, with a plan from April 2026, money in, support, a spend
with its receipt, and October's statement issued; Bo, someone else, with money of his own. Today
is 10 November 2026. The figures the pages must show are worked out here from what was posted,
so a test compares a page with the ledger, never with a number typed twice."""
from __future__ import annotations

import re
from contextlib import contextmanager
from html import unescape

import sqlalchemy as sa

from isf_ledger.db import db

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from isf_ledger import clock

TODAY = date(2026, 11, 10)
PASSWORD = "correct horse battery staple"
# The smallest PNG there is: a receipt's photo.
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


@dataclass
class Book:
    ana: int
    bo: int
    spend_id: int
    left_now: str  # Ana's available balance today, as the API says it
    october_closing: str


def user(api, name: str, *extra: str) -> None:
    result = api.runner.invoke(args=["users", "create", "--name", name, *extra, "--password", PASSWORD])
    assert result.exit_code == 0, result.output


def build(api, monkeypatch, tmp_path) -> Book:
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    api.app.config["RECEIPT_FILES_DIR"] = str(tmp_path / "receipt-files")
    ana, bo = api.person("Siân Ó Briain"), api.person("Bo")
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "20.00",
                               "effective_from": "2026-01-01"})
    for pid in (ana, bo):
        api.plan(pid, planned_weekly_hours={"day_support": "7.00"}, contingency_amount="500.00")
    api.receipt(ana, "2000.00", date="2026-10-01")
    api.receipt(ana, "1000.00", date="2026-11-02", source="client_contribution")
    api.receipt(bo, "9000.00", date="2026-10-01")
    for day, qty, status in (("2026-10-05", "3.50", "delivered"), ("2026-10-12", "2.00", "refused"),
                             ("2026-11-03", "1.75", "delivered")):
        api.post(f"/api/v1/people/{ana}/deliveries", {"date": day, "start_time": "10:00", "service": "day_support",
                                                      "quantity": qty, "status": status,
                                                      "domain": "work_leisure_learning"})
    spend = api.post(f"/api/v1/people/{ana}/spend", {
        "date": "2026-10-20", "amount": "45.60", "payee": "Northshire Buses", "category": "transport",
        "domain": "work_leisure_learning", "description": "Bus pass for college"})
    r = api.client.post(f"/api/v1/spend/{spend['id']}/receipt-file",
                        data={"file": (__import__("io").BytesIO(PNG), "bus pass.png")},
                        headers={"Authorization": f"Bearer {api.token}", "Idempotency-Key": "receipt-1"},
                        content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    october = api.get(f"/api/v1/people/{ana}/statements/2026-10")
    left = api.get(f"/api/v1/people/{ana}/balance?as_of={TODAY}")["available"]
    return Book(ana=ana, bo=bo, spend_id=spend["id"], left_now=left, october_closing=october["closing_balance"])


def pounds(text: str) -> str:
    return f"£{Decimal(text):,.2f}"


# Reading pages in the Flask client: signed in, as words, and counting their queries.
def sign_in(client, name):
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post("/login", data={"csrf_token": token, "name": name, "password": PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def text(html: str) -> str:
    """The page's words, tags gone and spaces collapsed, as a reader hears them."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


@contextmanager
def counted(app):
    seen = []

    def count(conn, cursor, statement, *a):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE")):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
