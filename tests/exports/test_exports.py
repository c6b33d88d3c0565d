"""Exports (domain.md "Exports for accountants and finance systems"): the books in Beancount and
Ledger, accepted by bean-check and hledger and agreeing with ours to the penny; summary journals
for Xero, Sage 50 and Sage Accounting in their import layouts, mapped to nominal codes."""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from beancount import loader
from beancount.core import data as bdata
from beancount.core import realization

from isf_ledger import clock
from isf_ledger.ledger.post import balances
from isf_ledger.db import db
from isf_ledger.exports import journals as jn
from isf_ledger.exports.books import book_accounts
from isf_ledger.exports.plain_text import bean_string

LUKASZ = 'Łukasz "Łuki" Nowak'
REFERENCE = 'BACS; "Q3" 0042'
HLEDGER = shutil.which("hledger")
LEDGER = shutil.which("ledger")
needs_hledger = pytest.mark.skipif(HLEDGER is None, reason="hledger is not installed (Debian: apt-get install -y "
                                                            "hledger; .ci/run installs it): the hledger checks skipped")
needs_ledger = pytest.mark.skipif(LEDGER is None, reason="ledger-cli is not installed (Debian: apt-get install -y "
                                                          "ledger; .ci/run installs it): the ledger-cli check skipped")
DAY = {"service": "day_support", "start_time": "10:00", "domain": "personal_care"}


def small_books(api, council="Northshire"):
    """Ana: £2,000 in on 2026-10-01 (fee £200), 10 h of day support at £18.50 (£185.00);
    Łukasz: £1,000 in on 2026-10-02 with a reference full of `;` and quotes (fee £100), a £50
    taxi on 2026-10-10, £300 set aside on 2026-11-03: available £1,615.00 and £550.00."""
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50",
                               "effective_from": "2026-01-01"})
    ana = api.person("Ana", council=council)
    api.plan(ana)
    api.receipt(ana, "2000.00", "2026-10-01")
    api.post(f"/api/v1/people/{ana}/deliveries", {**DAY, "date": "2026-10-05", "quantity": "10.00",
                                                  "status": "delivered"})
    lukasz = api.person(LUKASZ, council=council)
    api.plan(lukasz, contingency_amount="500.00")
    api.receipt(lukasz, "1000.00", "2026-10-02", reference=REFERENCE)
    api.post(f"/api/v1/people/{lukasz}/spend", {"date": "2026-10-10", "amount": "50.00", "payee": "Castle Cabs",
                                               "category": "transport", "domain": "work_leisure_learning",
                                               "description": "Taxi to drama class"})
    api.post(f"/api/v1/people/{lukasz}/contingency/set-aside", {"date": "2026-11-03", "amount": "300.00"})
    return ana, lukasz


def export(api, fmt, query="", expect=200, token=None):
    r = api.call("GET", f"/api/v1/exports/{fmt}{query}", token=token)
    assert r.status_code == expect, (r.status_code, r.get_data(as_text=True)[:500])
    return r


def ours(app) -> dict[str, Decimal]:
    """Every account's balance as the tools sign it (debits positive), from the ledger itself."""
    with app.app_context():
        names = {a.id: a.name for a in book_accounts(db.session)}
        out = {names[a]: Decimal(-pence) / 100 for a, pence in balances(db.session).items() if pence}
        db.session.rollback()
    return out


def bean_balances(entries) -> dict[str, Decimal]:
    root = realization.realize(entries)
    out = {}
    for real in realization.iter_children(root):
        units = real.balance.get_currency_units("GBP").number
        if units:
            out[real.account] = units
    return out


def hledger(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HLEDGER, *args], capture_output=True, text=True, timeout=60)


def hledger_balances(path) -> dict[str, Decimal]:
    done = hledger("-f", str(path), "balance", "--flat", "--no-total", "-O", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))[1:]
    return {account: Decimal(amount.removesuffix(" GBP")) for account, amount in rows if amount != "0"}


# --- The accountants' books -------------------------------------------------------------------

def test_bean_check_accepts_the_books_and_its_balances_are_ours(app, api):
    result = app.test_cli_runner().invoke(args=["demo", "--people", "3", "--months", "2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    ana, lukasz = small_books(api)
    text = export(api, "beancount").get_data(as_text=True)
    entries, errors, _ = loader.load_string(text)
    assert errors == []
    # Every account's balance, as Beancount sums it, is the ledger's to the penny.
    assert bean_balances(entries) == ours(app)
    pot = f"Liabilities:Funds:P{lukasz:04d}:Available"
    assert bean_balances(entries)[pot] == Decimal("-550.00")
    assert api.balance(lukasz)["available"] == "550.00"
    assert bean_balances(entries)[f"Liabilities:Funds:P{lukasz:04d}:Contingency"] == Decimal("-300.00")
    assert bean_balances(entries)[f"Liabilities:Funds:P{ana:04d}:Available"] == Decimal("-1615.00")
    # The person is found by their fund's account; their name is kept exactly in its metadata.
    opened = {e.account: e for e in entries if isinstance(e, bdata.Open)}
    assert opened[pot].meta["person-name"] == LUKASZ
    assert opened[pot].meta["person-id"] == str(lukasz)
    # The receipt and its fee carry the kind and the reference, exactly.
    txns = [e for e in entries if isinstance(e, bdata.Transaction) and e.meta.get("person-id") == str(lukasz)]
    assert [(t.meta["kind"], t.meta.get("reference")) for t in txns] == [
        ("receipt", REFERENCE), ("fee", REFERENCE), ("spend", None), ("contingency_set_aside", None)]
    # A balance assertion for every fund pot and client money at each month end the books cover.
    checks = [e for e in entries if isinstance(e, bdata.Balance)]
    pots = [a for a in opened if a.startswith("Liabilities:Funds:")] + ["Assets:ClientMoney"]
    ends = sorted({e.date for e in checks})
    assert len(checks) == len(pots) * len(ends)
    nov = next(e for e in checks if e.account == pot and e.date == date(2026, 12, 1))
    assert nov.amount.number == Decimal("-550.00")
    # The assertions are real: one wrong figure and bean-check says so.
    bad = text.replace(f"2026-12-01 balance {pot}  -550.00 ~ 0.00 GBP", f"2026-12-01 balance {pot}  -550.01 ~ 0.00 GBP")
    assert bad != text and loader.load_string(bad)[1]


@needs_hledger
def test_hledger_checks_the_books_and_its_balances_are_ours(app, api, tmp_path):
    result = app.test_cli_runner().invoke(args=["demo", "--people", "3", "--months", "2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    ana, lukasz = small_books(api)
    path = tmp_path / "books.journal"
    done = app.test_cli_runner().invoke(args=["export", "--format", "ledger", "--output", str(path)])
    assert done.exit_code == 0, done.output
    assert path.read_bytes() == export(api, "ledger").get_data()  # the CLI and the API write the same
    check = hledger("-f", str(path), "check", "--strict")
    assert check.returncode == 0, check.stderr
    assert hledger_balances(path) == ours(app)
    pot = f"Liabilities:Funds:P{lukasz:04d}:Available"
    assert hledger_balances(path)[pot] == Decimal("-550.00")
    # The name and the reference survive exactly in the metadata (hledger reads them as tags).
    tags = hledger("-f", str(path), "tags", "person_name", "--values")
    assert LUKASZ in tags.stdout.splitlines()
    shown = hledger("-f", str(path), "print", f"tag:reference={REFERENCE[:4]}").stdout
    assert f"; reference: {REFERENCE}" in shown and "; kind: fee" in shown
    # A `;` would end hledger's description: written full-width there, exact in the metadata.
    assert 'Received: council payment BACS\uff1b "Q3" 0042' in shown
    assert f"; description: Received: council payment {REFERENCE}" in shown
    # One wrong month-end figure and hledger refuses the books.
    text = path.read_text()
    wrong = text.replace(f"    {pot}  0 GBP = -550.00 GBP", f"    {pot}  0 GBP = -550.01 GBP")
    assert wrong != text
    path.write_text(wrong)
    assert hledger("-f", str(path), "check").returncode != 0


@needs_ledger
def test_ledger_cli_reads_the_books_pedantically_and_its_balances_are_ours(app, api, tmp_path):
    ana, lukasz = small_books(api)
    path = tmp_path / "books.journal"
    path.write_bytes(export(api, "ledger").get_data())
    done = subprocess.run([LEDGER, "-f", str(path), "--pedantic", "--flat", "--no-total", "--balance-format",
                           "%(account)\t%(display_total)\n", "balance"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    theirs = {a: Decimal(amount.removesuffix(" GBP")) for a, amount in
              (line.split("\t") for line in done.stdout.splitlines())}
    assert theirs == ours(app)
    assert theirs[f"Liabilities:Funds:P{ana:04d}:Available"] == Decimal("-1615.00")
    # ledger-cli checks the month-end assertions as it reads: one wrong figure and it stops.
    pot = f"Liabilities:Funds:P{lukasz:04d}:Contingency"
    text = path.read_text()
    path.write_text(text.replace(f"    {pot}  0 GBP = -300.00 GBP", f"    {pot}  0 GBP = -299.99 GBP"))
    assert path.read_text() != text
    assert subprocess.run([LEDGER, "-f", str(path), "balance"], capture_output=True, timeout=60).returncode != 0


def test_a_period_brings_its_balances_forward(app, api, tmp_path):
    ana, lukasz = small_books(api)
    text = export(api, "beancount", "?from=2026-10-06&to=2026-11-30").get_data(as_text=True)
    entries, errors, _ = loader.load_string(text)
    assert errors == []
    forward = [e for e in entries if isinstance(e, bdata.Transaction) and e.meta["kind"] == "brought_forward"]
    assert len(forward) == 1 and forward[0].date == date(2026, 10, 6)
    brought = {p.account: p.units.number for p in forward[0].postings}
    # Ana's £2,000 less the fee and the 10 h of 5 October; Łukasz's £1,000 less his fee.
    assert brought[f"Liabilities:Funds:P{ana:04d}:Available"] == Decimal("-1615.00")
    assert brought[f"Liabilities:Funds:P{lukasz:04d}:Available"] == Decimal("-900.00")
    assert bean_balances(entries) == ours(app)
    kinds = [e.meta["kind"] for e in entries if isinstance(e, bdata.Transaction)]
    assert kinds == ["brought_forward", "spend", "contingency_set_aside"]
    if HLEDGER:
        path = tmp_path / "period.journal"
        path.write_bytes(export(api, "ledger", "?from=2026-10-06&to=2026-11-30").get_data())
        assert hledger("-f", str(path), "check", "--strict").returncode == 0
        assert hledger_balances(path) == ours(app)


def test_exports_are_finance_only_and_refuse_bad_requests(api):
    pid = api.person("Ana")
    for role, extra in (("broker", ()), ("person", ("--person", str(pid))), ("auditor", ("--council", "Northshire"))):
        token = api.user(role, *extra)
        for fmt in ("beancount", "xero", "nominal-codes"):
            export(api, fmt, token=token, expect=403)
    err = export(api, "quickbooks", expect=404).get_json()["error"]
    assert "quickbooks" in err["message"] and err["details"] == {"format": ["quickbooks"]}
    assert export(api, "ledger", "?from=2026-13-01", expect=422).get_json()["error"]["details"] == {
        "from": ["give the date as YYYY-MM-DD, e.g. 2026-10-01"]}
    assert "to" in export(api, "xero", "?from=2026-10-02&to=2026-10-01", expect=422).get_json()["error"]["details"]
    assert export(api, "ledger", "?from=&to=").get_data() == export(api, "ledger").get_data()  # empty: left out
    with api.app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM export_runs")) == 0  # nothing written


# --- Journals for the finance system ----------------------------------------------------------

OCT_XERO = [
    jn.XERO_HEADER,
    ["ISF Oct 2026: Money paid in", "31/10/2026", "Client money bank account", "1210", "No VAT", "3000.00",
     "", "", "Council", "Northshire"],
    ["ISF Oct 2026: Money paid in", "31/10/2026", "Individual Service Funds held: available", "2110", "No VAT",
     "-3000.00", "", "", "Council", "Northshire"],
    ["ISF Oct 2026: Management fee", "31/10/2026", "Provider's own bank account", "1200", "No VAT", "300.00",
     "", "", "Council", "Northshire"],
    ["ISF Oct 2026: Management fee", "31/10/2026", "Client money bank account", "1210", "No VAT", "-300.00",
     "", "", "Council", "Northshire"],
    ["ISF Oct 2026: Management fee", "31/10/2026", "Individual Service Funds held: available", "2110", "No VAT",
     "300.00", "", "", "Council", "Northshire"],
    ["ISF Oct 2026: Management fee", "31/10/2026", "Management fee income", "4000", "No VAT", "-300.00",
     "", "", "Council", "Northshire"],
    ["ISF Oct 2026: Support - day_support", "31/10/2026", "Provider's own bank account", "1200", "No VAT", "185.00",
     "Service", "day_support", "Council", "Northshire"],
    ["ISF Oct 2026: Support - day_support", "31/10/2026", "Client money bank account", "1210", "No VAT", "-185.00",
     "Service", "day_support", "Council", "Northshire"],
    ["ISF Oct 2026: Support - day_support", "31/10/2026", "Individual Service Funds held: available", "2110",
     "No VAT", "185.00", "Service", "day_support", "Council", "Northshire"],
    ["ISF Oct 2026: Support - day_support", "31/10/2026", "Income from support charged", "4010", "No VAT",
     "-185.00", "Service", "day_support", "Council", "Northshire"],
    ["ISF Oct 2026: Bought for you", "31/10/2026", "Client money bank account", "1210", "No VAT", "-50.00",
     "", "", "Council", "Northshire"],
    ["ISF Oct 2026: Bought for you", "31/10/2026", "Individual Service Funds held: available", "2110", "No VAT",
     "50.00", "", "", "Council", "Northshire"],
]


def rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"))))


def test_xero_summary_journals_per_service_sum_to_zero_and_name_nobody(app, api):
    small_books(api)
    first = export(api, "xero", "?from=2026-10-01&to=2026-10-31")
    assert first.mimetype == "text/csv" and "X-Already-Exported" not in first.headers
    body = first.get_data()
    assert rows(body) == OCT_XERO
    assert "Łukasz" not in body.decode() and "Ana" not in body.decode()
    sums: dict = {}
    for r in rows(body)[1:]:
        sums[(r[0], r[1])] = sums.get((r[0], r[1]), Decimal(0)) + Decimal(r[5])
    assert set(sums.values()) == {Decimal(0)}
    # The same period again: the same bytes, and it says it went out before.
    again = export(api, "xero", "?from=2026-10-01&to=2026-10-31")
    assert again.get_data() == body
    assert again.headers["X-Already-Exported"] == "true"
    assert "already exported" in again.headers["X-Export-Note"] and "same bytes" in again.headers["X-Export-Note"]
    done = app.test_cli_runner().invoke(args=["export", "--format", "xero", "--from", "2026-10-01",
                                              "--to", "2026-10-31"])
    assert done.exit_code == 0 and "already exported" in done.output
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM export_runs")) == 1
    # Part of a period already exported: said too, so nobody imports the same days twice.
    half = export(api, "xero", "?from=2026-10-16&to=2026-11-30")
    assert "overlap those already exported for 2026-10-01 to 2026-10-31" in half.headers["X-Export-Note"]
    assert [r[:6] for r in rows(half.get_data())[1:]] == [  # the taxi of 10 October is not in it
        ["ISF Nov 2026: Set aside for contingency", "30/11/2026", "Individual Service Funds held: available", "2110",
         "No VAT", "300.00"],
        ["ISF Nov 2026: Set aside for contingency", "30/11/2026", "Individual Service Funds held: contingency",
         "2111", "No VAT", "-300.00"]]


def test_sage_layouts_and_the_nominal_codes_finance_sets(api):
    small_books(api)
    mapping = api.call("PUT", "/api/v1/exports/nominal-codes",
                       {"codes": {"client_money": "1215"}, "departments": {"day_support": 7}},
                       headers={"Idempotency-Key": "codes-1"})
    assert mapping.status_code == 200, mapping.get_json()
    assert mapping.get_json()["codes"]["client_money"] == {"code": "1215", "account": "Client money bank account"}
    assert api.get("/api/v1/exports/nominal-codes")["departments"] == {"day_support": 7}
    for body, field in (({"codes": {"client_money": "12A5"}}, "codes.client_money"),
                        ({"codes": {"petty_cash": "1230"}}, "codes.petty_cash"),
                        ({"departments": {"day_support": 1000}}, "departments.day_support")):
        r = api.call("PUT", "/api/v1/exports/nominal-codes", body, headers={"Idempotency-Key": field})
        assert r.status_code == 422 and field in r.get_json()["error"]["details"], r.get_json()
    assert api.get("/api/v1/exports/nominal-codes")["codes"]["client_money"]["code"] == "1215"

    sage50 = rows(export(api, "sage50", "?from=2026-10-01&to=2026-10-31").get_data())
    assert sage50[0] == jn.SAGE50_HEADER
    assert sage50[1:3] == [
        ["JD", "", "1215", "0", "31/10/2026", "ISF-20261001-001", "ISF Oct 2026: Money paid in (Northshire)",
         "3000.00", "T9", "0.00"],
        ["JC", "", "2110", "0", "31/10/2026", "ISF-20261001-001", "ISF Oct 2026: Money paid in (Northshire)",
         "3000.00", "T9", "0.00"]]
    support = [r for r in sage50 if r[5] == "ISF-20261001-003"]
    assert [(r[0], r[2], r[3], r[7]) for r in support] == [
        ("JD", "1200", "7", "185.00"), ("JC", "1215", "7", "185.00"), ("JD", "2110", "7", "185.00"),
        ("JC", "4010", "7", "185.00")]
    assert all(len(r[5]) <= 30 and len(r[6]) <= 60 for r in sage50[1:])

    sage = rows(export(api, "sage-accounting", "?from=2026-10-01&to=2026-11-30").get_data())
    # ca-kb.sage.com "How to import journal entries": columns A to K, Debit at J and Credit at K.
    assert sage[0] == jn.SAGE_ACCOUNTING_HEADER == [
        "Reference", "Date", "Description", "Ledger Account Number", "Details", "Analysis Type 1", "Analysis Type 2",
        "Analysis Type 3", "Include on Tax Return", "Debit", "Credit"]
    journals: dict = {}
    for r in sage[1:]:
        debit, credit = (Decimal(x) if x else Decimal(0) for x in (r[9], r[10]))
        journals[r[0]] = journals.get(r[0], Decimal(0)) + debit - credit
    assert list(journals) == ["ISF-20261001-001", "ISF-20261001-002", "ISF-20261001-003", "ISF-20261001-004",
                              "ISF-20261101-001"]
    assert set(journals.values()) == {Decimal(0)}
    assert [r[1:5] + r[9:] for r in sage if r[0] == "ISF-20261101-001"] == [
        ["30/11/2026", "ISF Nov 2026: Set aside for contingency", "2110", "Individual Service Funds held: "
         "available (Northshire)", "300.00", ""],
        ["30/11/2026", "ISF Nov 2026: Set aside for contingency", "2111", "Individual Service Funds held: "
         "contingency (Northshire)", "", "300.00"]]


def test_text_that_looks_like_a_formula_is_written_as_text(api):
    small_books(api, council="=HYPERLINK(\"http://x\")")
    for fmt, column in (("xero", 9), ("sage-accounting", 4)):
        cells = [r[column] for r in rows(export(api, fmt, "?from=2026-10-01&to=2026-10-31").get_data())[1:]]
        assert cells and all(c.startswith("'=") or c.startswith("Client") or c.startswith("Individual") or
                             c.startswith("Provider") or c.startswith("Income") or c.startswith("Management")
                             for c in cells)
        assert not any(c.startswith("=") for c in cells)
    # As every CSV the app writes (sheets.csv_cell): a plain number stays a number, a bell is
    # replaced, a full-width equals sign is escaped as a spreadsheet reads it as "=".
    assert [jn.spreadsheet_text(t) for t in ("=1+1", "+44", "-3", "-3 cmd", "@SUM", "\tx", "\rx", "Ana", "",
                                             "a\x07b", "\uff1d1")] == [
        "'=1+1", "'+44", "-3", "'-3 cmd", "'@SUM", "'\tx", "'\rx", "Ana", "", "a\ufffdb", "'\uff1d1"]


def _journal(n: int, lines: int, service: str = "") -> jn.Journal:
    pence = [100] * (lines - 1) + [-100 * (lines - 1)]
    return jn.Journal(reference=f"ISF-202610-{n:03d}", day=date(2026, 10, 31), narration=f"Journal {n}",
                      service=service,
                      lines=[jn.Line(f"{1000 + i}", "x", "Northshire", p) for i, p in enumerate(pence)])


def test_xero_files_split_at_300_lines_never_inside_a_journal_and_limit_the_options():
    journals = [_journal(n, 7) for n in range(1, 101)]  # 700 lines
    files = jn.xero_files(journals)
    assert len(files) == 3
    seen = []
    for f in files:
        lines = rows(f)
        assert lines[0] == jn.XERO_HEADER and len(lines) <= 300
        seen.append({r[0] for r in lines[1:]})
    assert sum(len(s) for s in seen) == 100 and not (seen[0] & seen[1] or seen[1] & seen[2])
    zipped = jn._zip([(f"{i}.csv", f) for i, f in enumerate(files)], date(2026, 10, 31))
    assert zipped == jn._zip([(f"{i}.csv", f) for i, f in enumerate(files)], date(2026, 10, 31))
    assert [zipfile.ZipFile(io.BytesIO(zipped)).read(f"{i}.csv") for i in range(3)] == files
    too_many = [_journal(n, 2, service=f"House {n}") for n in range(1, 102)]
    with pytest.raises(jn.Invalid, match="at most 100 options"):
        jn.xero_files(too_many)
    assert len(jn.xero_files(too_many[:100])) == 1


def test_sage_accounting_files_stay_under_half_a_megabyte():
    journals = [_journal(n, 40) for n in range(1, 400)]
    files = jn.sage_accounting_files(journals)
    assert len(files) > 1 and all(len(f) <= jn.SAGE_ACCOUNTING_MAX_BYTES for f in files)
    refs = [[r[0] for r in rows(f)[1:]] for f in files]
    assert not set(refs[0]) & set(refs[1])  # a journal is never split between two files
    assert sum(len(set(r)) for r in refs) == 399


def test_the_books_are_read_in_a_few_queries_whatever_their_size(app, api):
    small_books(api)

    def statements(fmt, query=""):
        seen = []

        def count(conn, cursor, statement, *rest):
            seen.append(statement)

        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", count)
            try:
                export(api, fmt, query).get_data()
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", count)
        return len([s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))])

    before = {fmt: statements(fmt, "?from=2026-10-06") for fmt in ("beancount", "ledger", "xero")}
    for n in range(6):
        api.receipt(api.person(f"Person {n}"), "100.00", f"2026-10-{n + 10:02d}")
    after = {fmt: statements(fmt, "?from=2026-10-06") for fmt in ("beancount", "ledger", "xero")}
    assert after == before and 3 <= min(after.values()) and max(after.values()) <= 12, after


def test_xero_journals_filling_more_than_one_file_come_as_a_zip(api, monkeypatch):
    small_books(api)
    monkeypatch.setattr(jn, "XERO_MAX_LINES", 5)  # a heading and four lines a file
    r = export(api, "xero", "?from=2026-10-01&to=2026-10-31")
    assert r.mimetype == "application/zip"
    assert r.headers["Content-Disposition"] == 'attachment; filename="xero-journals-2026-10-01-to-2026-10-31.zip"'
    z = zipfile.ZipFile(io.BytesIO(r.get_data()))
    names = z.namelist()
    assert names == [f"xero-journals-2026-10-01-to-2026-10-31-{i:02d}.csv" for i in (1, 2, 3, 4)]
    parts = [rows(z.read(n)) for n in names]
    # Each file whole journals: the money in, the fee, the support, the taxi.
    assert [[r[0] for r in p[1:]] for p in parts] == [
        ["ISF Oct 2026: Money paid in"] * 2, ["ISF Oct 2026: Management fee"] * 4,
        ["ISF Oct 2026: Support - day_support"] * 4, ["ISF Oct 2026: Bought for you"] * 2]
    assert [r for p in parts for r in p[1:]] == OCT_XERO[1:]
    assert export(api, "xero", "?from=2026-10-01&to=2026-10-31").get_data() == r.get_data()


def test_beancount_strings_keep_any_name_exactly():
    names = [LUKASZ, "O’Brien \\ Siân", "Σοφία\nДмитрий", 'Nguyễn "=1+1"']
    text = "2026-01-01 open Assets:A GBP\n" + "".join(
        f"  name-{i}: {bean_string(n)}\n" for i, n in enumerate(names))
    entries, errors, _ = loader.load_string(text)
    assert errors == [] and [entries[0].meta[f"name-{i}"] for i in range(len(names))] == names


def test_houses_get_journals_of_their_own_but_one_xero_tracking_option(app, api):
    result = app.test_cli_runner().invoke(args=["demo", "--people", "3", "--months", "2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    houses = [a["name"] for a in api.get("/api/v1/shared-arrangements")]
    assert houses
    body = rows(export(api, "xero").get_data())[1:]
    shared = [r for r in body if r[0].split(": ", 1)[1].startswith("Shared support")]
    assert {r[0].split(" - ", 1)[1] for r in shared} == set(houses)
    assert {r[7] for r in shared} == {"shared_support"} and {r[6] for r in shared} == {"Service"}
    with app.app_context():
        services = set(db.session.scalars(sa.text("SELECT DISTINCT service FROM deliveries "
                                                  "WHERE transaction_id IS NOT NULL")))
    assert {r[7] for r in body} - {""} == services | {"shared_support"}
    # Sage 50's limits hold for the houses' long names too; Sage Accounting keeps them whole.
    sage50 = rows(export(api, "sage50").get_data())[1:]
    assert max(len(r[6]) for r in sage50) == 60 and all(len(r[5]) <= 30 for r in sage50)
    sage = rows(export(api, "sage-accounting").get_data())[1:]
    assert {r[2].split(" - ", 1)[1] for r in sage if " - " in r[2] and "Shared support" in r[2]} == set(houses)


def test_periods_far_back_far_ahead_or_before_the_books_stay_small_and_valid(api, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 10))
    ana, lukasz = small_books(api)
    for query, ends in (("?from=0001-01-01&to=9999-12-31", {date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)}),
                        ("?to=2020-06-30", {date(2020, 7, 1)}),
                        ("?from=2026-10-20&to=2026-10-25", {date(2026, 10, 26)})):
        text = export(api, "beancount", query).get_data(as_text=True)
        entries, errors, _ = loader.load_string(text)
        assert errors == [], (query, errors[:1])
        assert {e.date for e in entries if isinstance(e, bdata.Balance)} == ends, query
    assert rows(export(api, "sage50", "?to=2020-06-30").get_data()) == [jn.SAGE50_HEADER]


def test_finance_sets_nominal_codes_from_the_command_line(app, api):
    runner = app.test_cli_runner()
    done = runner.invoke(args=["nominal-codes", "--set", "fee_income=4001", "--department", "sleep_in=12"])
    assert done.exit_code == 0, done.output
    assert "fee_income               4001  Management fee income" in done.output
    mapping = api.get("/api/v1/exports/nominal-codes")
    assert mapping["codes"]["fee_income"]["code"] == "4001" and mapping["departments"] == {"sleep_in": 12}
    assert mapping["codes"]["client_money"]["code"] == "1210"  # the rest keep their defaults
    refused = runner.invoke(args=["nominal-codes", "--set", "fee_income=40-1"])
    assert refused.exit_code != 0 and "codes.fee_income" in refused.output
    assert api.get("/api/v1/exports/nominal-codes")["codes"]["fee_income"]["code"] == "4001"


def test_a_layout_limit_refuses_the_whole_export_and_records_nothing(api, monkeypatch):
    small_books(api)
    monkeypatch.setattr(jn, "XERO_MAX_OPTIONS", 0)  # as if the books had more services than Xero takes
    err = export(api, "xero", "?from=2026-10-01&to=2026-10-31", expect=422).get_json()["error"]
    assert "at most 0 options" in err["message"] and "nothing written" in err["message"]
    with api.app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM export_runs")) == 0
