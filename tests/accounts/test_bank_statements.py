"""The client bank account: statements read in every layout, matched to the ledger, reconciled."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from isf_ledger.accounts.bank_files import StatementRefused, read_statement
from isf_ledger.ledger.post import provider_accounts
from isf_ledger.models import Posting, Receipt
from isf_ledger.db import db
from isf_ledger.money import format_pence
from isf_ledger.clock import month_end


def upload(api, text: str | bytes, name="statement.csv", *, token=None, expect=201):
    data = text.encode() if isinstance(text, str) else text
    r = api.client.post("/api/v1/bank-statements", data={"file": (io.BytesIO(data), name)},
                        content_type="multipart/form-data",
                        headers={"Authorization": f"Bearer {token or api.token}",
                                 "Idempotency-Key": f"bank-{next(api.keys)}"})
    assert r.status_code == expect, (r.status_code, r.get_json())
    return r.get_json()


def ofx_file(transactions, balance: str, account="12345678") -> bytes:
    from ofxtools.header import make_header
    from ofxtools.models import (BANKACCTFROM, BANKMSGSRSV1, BANKTRANLIST, LEDGERBAL, OFX, SIGNONMSGSRSV1, SONRS,
                                 STATUS, STMTRS, STMTTRN, STMTTRNRS)
    when = lambda d: datetime(d.year, d.month, d.day, 12, tzinfo=timezone.utc)  # noqa: E731
    trns = [STMTTRN(trntype="CREDIT" if Decimal(a) > 0 else "DEBIT", dtposted=when(d), trnamt=Decimal(a),
                    fitid=fitid, name=name) for fitid, d, a, name in transactions]
    days = [t[1] for t in transactions]
    status = STATUS(code=0, severity="INFO")
    stmtrs = STMTRS(curdef="GBP", bankacctfrom=BANKACCTFROM(bankid="309634", acctid=account, accttype="CHECKING"),
                    banktranlist=BANKTRANLIST(*trns, dtstart=when(min(days)), dtend=when(max(days))),
                    ledgerbal=LEDGERBAL(balamt=Decimal(balance), dtasof=when(max(days))))
    ofx = OFX(signonmsgsrsv1=SIGNONMSGSRSV1(sonrs=SONRS(status=status, dtserver=when(max(days)), language="ENG")),
              bankmsgsrsv1=BANKMSGSRSV1(STMTTRNRS(trnuid="1", status=status, stmtrs=stmtrs)))
    return (str(make_header(version=220)) + ET.tostring(ofx.to_etree()).decode()).encode()


def test_an_ofx_statement_written_with_ofxtools_round_trips(api):
    pid = api.person("Zoë Ó Briain")
    api.receipt(pid, amount="2000.00", date="2026-10-01", reference="NCC-77")
    data = ofx_file([("F1", date(2026, 10, 2), "2000.00", "NORTHSHIRE NCC-77"),
                     ("F2", date(2026, 10, 3), "-12.34", "STRAY CHARGE")], "1787.66")
    parsed = read_statement(data)
    assert parsed.format == "ofx"
    assert [(ln.fitid, ln.date, ln.amount_pence, ln.description) for ln in parsed.lines] == [
        ("F1", date(2026, 10, 2), 200000, "NORTHSHIRE NCC-77"), ("F2", date(2026, 10, 3), -1234, "STRAY CHARGE")]
    assert (parsed.closing_balance_pence, parsed.closing_date) == (178766, date(2026, 10, 3))
    out = upload(api, data, "october.ofx")
    assert (out["lines"], out["skipped"], out["matched"], out["unmatched"], out["closing_balance"]) == (
        2, 0, 1, 1, "1787.66")
    again = upload(api, data, "october.ofx")
    assert (again["lines"], again["skipped"], again["matched"], again["unmatched"]) == (2, 2, 0, 0)
    lines = api.get(f"/api/v1/bank-statements/{out['id']}")["lines"]
    assert [(ln["status"], ln["amount"]) for ln in lines] == [("matched", "2000.00"), ("unmatched", "-12.34")]
    with api.app.app_context():
        receipt_txn = db.session.scalar(sa.select(Receipt.transaction_id))
    assert lines[0]["transaction_ids"] == [receipt_txn]


CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><GrpHdr><MsgId>1</MsgId>
<CreDtTm>2026-10-31T18:00:00</CreDtTm></GrpHdr><Stmt><Id>S1</Id><Acct><Id><IBAN>GB29NWBK60161331926819</IBAN></Id></Acct>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="GBP">1450.25</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<Dt><Dt>2026-10-31</Dt></Dt></Bal>
<Ntry><Amt Ccy="GBP">1500.25</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-10-02</Dt></BookgDt>
<AcctSvcrRef>B1</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>SVC-9</EndToEndId></Refs>
<RmtInf><Ustrd>SOUTHVALE BC</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="GBP">50.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2026-10-09</Dt></BookgDt>
<AcctSvcrRef>B2</AcctSvcrRef><AddtlNtryInf>CARD PAYMENT</AddtlNtryInf></Ntry></Stmt></BkToCstmrStmt></Document>"""


def test_a_camt053_statement_is_read():
    parsed = read_statement(CAMT.encode())
    assert parsed.format == "camt.053"
    assert [(ln.date, ln.amount_pence, ln.description, ln.reference, ln.fitid) for ln in parsed.lines] == [
        (date(2026, 10, 2), 150025, "SOUTHVALE BC", "SVC-9", "B1"),
        (date(2026, 10, 9), -5000, "CARD PAYMENT", "", "B2")]
    assert (parsed.closing_balance_pence, parsed.closing_date) == (145025, date(2026, 10, 31))


LAYOUTS = {
    "csv": ("Date,Description,Amount\n01/10/2026,NORTHSHIRE CC,2000.00\n2026-10-05,TESCO,-12.50\n", None),
    "csv2": ("Date,Description,Money in,Money out,Balance\n01/10/2026,NORTHSHIRE CC,2000.00,,2000.00\n"
             "05/10/2026,TESCO,,12.50,1987.50\n", 198750),
    "lloyds": ("Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,"
               "Credit Amount,Balance\n05/10/2026,DEB,'30-96-34,12345678,TESCO,12.50,,1987.50\n"
               "01/10/2026,BGC,'30-96-34,12345678,NORTHSHIRE CC,,2000.00,2000.00\n", 198750),
    "barclays": ("Client money account statement\nGROUP,ACC ID,ACCOUNT NO,TYPE,BANK CODE,CURR,ENTRY DATE,AS AT,"
                 "AMOUNT,TLA CODE,CHEQUE NO,STATUS,DESCRIPTION\n"
                 "1,A1,12345678,CUR,'20-00-00,GBP,01/10/26,01/10/26,2000.00,BGC,,POSTED,NORTHSHIRE CC\n"
                 "1,A1,12345678,CUR,'20-00-00,GBP,05/10/26,05/10/26,-12.50,DEB,,POSTED,TESCO\n", None),
    "natwest": ("Sort Code,Account Number,Account Alias,Account Short Name,Currency,Account Type,BIC,Bank Name,"
                "Branch Name,Date,Narrative #1,Narrative #2,Narrative #3,Narrative #4,Narrative #5,Type,Debit,"
                "Credit\n'60-16-13,31926819,CM,CLIENT,GBP,CUR,NWBKGB2L,NATWEST,LEEDS,01/10/26,NORTHSHIRE CC,,,,,"
                "BAC,,2000.00\n'60-16-13,31926819,CM,CLIENT,GBP,CUR,NWBKGB2L,NATWEST,LEEDS,05/10/26,TESCO,,,,,"
                "POS,12.50,\n", None),
    "hsbc": ("Sort Code/Account Number,Transaction Date,Currency,Amount,Description,Transaction Type\n"
             "400515-71234567,01/10/2026,GBP,2000.00,NORTHSHIRE CC,CR\n"
             "400515-71234567,05/10/2026,GBP,-12.50,TESCO,DR\n", None),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_bank_layout_is_read_from_its_documented_shape(layout):
    text, closing = LAYOUTS[layout]
    parsed = read_statement(text.encode())
    assert parsed.format == layout.rstrip("2")
    got = sorted((ln.date, ln.amount_pence, ln.description) for ln in parsed.lines)
    assert got == [(date(2026, 10, 1), 200000, "NORTHSHIRE CC"), (date(2026, 10, 5), -1250, "TESCO")]
    assert parsed.closing_balance_pence == closing
    assert all("'" not in ln.account for ln in parsed.lines)
    if layout == "lloyds":
        assert parsed.lines[0].account == "30-96-34 12345678"


def test_a_thirteenth_month_refuses_the_file_naming_its_line(api):
    text = "Date,Description,Amount\n01/10/2026,A,1.00\n02/13/2026,B,2.00\n"
    with pytest.raises(StatementRefused) as e:
        read_statement(text.encode())
    assert e.value.details["errors"] == [{"line": 3, "column": "Date",
                                          "reason": "not a date read day first (dd/mm/yyyy) or ISO: '02/13/2026'"}]
    out = upload(api, text, expect=422)
    assert "line 3" in out["error"]["message"]
    with api.app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM bank_lines")) == 0


def test_lines_are_kept_as_received(api):
    upload(api, LAYOUTS["csv"][0])
    with api.app.app_context():
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(sa.text("UPDATE bank_lines SET amount_pence = 1"))
        db.session.rollback()
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(sa.text("DELETE FROM bank_lines"))
        db.session.rollback()


def test_a_bacs_batch_of_thirty_receipts_is_matched_by_one_line(api):
    ids = [api.person(f"P{i}") for i in range(30)]
    amounts = [100000 + 137 * i for i in range(30)]
    for pid, pence in zip(ids, amounts):
        api.receipt(pid, amount=format_pence(pence), date="2026-10-01")
    total = format_pence(sum(amounts))
    out = upload(api, f"Date,Description,Amount\n02/10/2026,NORTHSHIRE CC BACS,{total}\n")
    assert (out["matched"], out["unmatched"]) == (1, 0)
    line = api.get(f"/api/v1/bank-statements/{out['id']}")["lines"][0]
    with api.app.app_context():
        receipts = sorted(db.session.scalars(sa.select(Receipt.transaction_id)))
    assert line["status"] == "matched" and line["transaction_ids"] == receipts


def test_matching_by_hand(api):
    pid = api.person()
    a = api.receipt(pid, amount="300.00", date="2026-10-01")["transaction_id"]
    b = api.receipt(pid, amount="300.00", date="2026-10-02")["transaction_id"]
    out = upload(api, "Date,Description,Amount\n03/10/2026,CHEQUES,600.00\n02/10/2026,ONE,300.00\n")
    lines = api.get(f"/api/v1/bank-statements/{out['id']}")["lines"]
    assert [ln["status"] for ln in lines] == ["unmatched", "unmatched"]
    assert lines[1]["guess"] == [b]  # two fit: the nearest is offered, not posted
    path = f"/api/v1/bank-statements/{out['id']}/lines/{lines[0]['id']}/match"
    bad = api.post(path, {"transaction_ids": [a]}, expect=422)
    assert "transaction_ids" in bad["error"]["details"]
    assert api.post(path, {"transaction_ids": [a, b]})["transaction_ids"] == sorted([a, b])
    again = api.post(f"/api/v1/bank-statements/{out['id']}/lines/{lines[1]['id']}/match",
                     {"transaction_ids": [b]}, expect=422)
    assert "already matched" in again["error"]["details"]["transaction_ids"][0]


def test_only_finance_reaches_the_bank(api):
    pid = api.person()
    out = upload(api, LAYOUTS["csv"][0])
    for role, extra in (("broker", ()), ("person", ("--person", str(pid))), ("auditor", ("--council", "Northshire"))):
        token = api.user(role, *extra)
        upload(api, LAYOUTS["csv"][0], token=token, expect=403)
        api.get(f"/api/v1/bank-statements/{out['id']}", token=token, expect=403)
        assert api.call("POST", f"/api/v1/bank-statements/{out['id']}/lines/1/match", {"transaction_ids": [1]},
                        token=token).status_code == 403
        assert api.call("POST", "/api/v1/reconciliation/complete", {"as_of": "2026-10-31"},
                        token=token).status_code == 403
    api.get("/api/v1/bank-statements/999", expect=404)


def _bank_statement_of_the_ledger(app) -> tuple[list[tuple[date, int, str]], date]:
    """What the bank would show: each receipt and payment, and one transfer a month of the
    provider's fees and charges (every movement that reaches its own bank)."""
    with app.app_context():
        s = db.session
        acc = provider_accounts(s)
        own = sa.select(Posting.transaction_id).where(Posting.account_id == acc["provider_bank"].id)
        rows = s.execute(sa.select(Posting.transaction_id, Posting.date, -sa.func.sum(Posting.amount_pence),
                                   Posting.transaction_id.in_(own), Receipt.reference)
                         .outerjoin(Receipt, Receipt.transaction_id == Posting.transaction_id)
                         .where(Posting.account_id == acc["client_money"].id)
                         .group_by(Posting.transaction_id, Posting.date, Receipt.reference)
                         .order_by(Posting.date, Posting.transaction_id)).all()
        s.rollback()
    lines, transfers = [], defaultdict(int)
    for _, day, pence, transfer, ref in rows:
        if pence == 0:
            continue
        if transfer:
            transfers[month_end(day)] += pence
        else:
            lines.append((day, pence, f"PAYMENT {ref or ''}".strip()))
    lines += [(day, pence, "TRANSFER TO OFFICE ACCOUNT") for day, pence in transfers.items() if pence]
    lines.sort()
    return lines, max(d for d, _, _ in lines)


def _csv(lines) -> str:
    out, balance = ["Date,Description,Amount,Balance"], 0
    for day, pence, text in lines:
        balance += pence
        out.append(f"{day:%d/%m/%Y},{text},{format_pence(pence)},{format_pence(balance)}")
    return "\n".join(out) + "\n"


def test_a_month_of_the_demo_reconciles_to_the_bank_then_a_penny_is_found(api):
    assert api.runner.invoke(args=["demo", "--people", "4", "--months", "1", "--seed", "5"]).exit_code == 0
    lines, last = _bank_statement_of_the_ledger(api.app)
    out = upload(api, _csv(lines))
    assert (out["lines"], out["unmatched"]) == (len(lines), 0)
    rec = api.get(f"/api/v1/reconciliation?as_of={last.isoformat()}")
    assert rec["bank_balance"] == rec["client_money_held"] == format_pence(sum(p for _, p, _ in lines))
    assert (rec["outstanding_receipts"], rec["outstanding_payments"], rec["unmatched_bank_lines"]) == (
        "0.00", "0.00", 0)
    assert rec["bank_difference"] == "0.00" and rec["difference"] == "0.00"
    done = api.post("/api/v1/reconciliation/complete", {"as_of": last.isoformat()})
    assert (done["as_of"], done["bank_balance"], done["client_money_held"]) == (
        last.isoformat(), rec["bank_balance"], rec["client_money_held"])
    with api.app.app_context():
        who = db.session.scalar(sa.text("SELECT completed_by FROM bank_reconciliations"))
        finance = db.session.scalar(sa.text("SELECT id FROM users WHERE role = 'finance' ORDER BY id LIMIT 1"))
    assert who == finance == done["completed_by"]


def test_a_line_altered_by_a_penny_is_found(api):
    assert api.runner.invoke(args=["demo", "--people", "4", "--months", "1", "--seed", "5"]).exit_code == 0
    lines, last = _bank_statement_of_the_ledger(api.app)
    i = next(i for i, (_, p, _) in enumerate(lines) if p > 0)
    day, pence, text = lines[i]
    lines[i] = (day, pence + 1, text)
    out = upload(api, _csv(lines))
    assert out["unmatched"] == 1
    rec = api.get(f"/api/v1/reconciliation?as_of={last.isoformat()}")
    # The line names the receipt it is (or is the only movement that near it): that receipt is on
    # the bank, not outstanding, and the difference is the penny, not the whole line.
    assert rec["bank_difference"] == "0.01"
    assert (rec["unmatched_bank_lines"], rec["unmatched_bank_total"]) == (1, format_pence(pence + 1))
    assert (rec["outstanding_receipts"], rec["outstanding_payments"]) == ("0.00", "0.00")
    refused = api.post("/api/v1/reconciliation/complete", {"as_of": last.isoformat()}, expect=409)
    assert refused["error"]["code"] == "does_not_reconcile"
    listed = api.get(f"/api/v1/bank-statements/{out['id']}")["lines"]
    assert [ln["amount"] for ln in listed if ln["status"] == "unmatched"] == [format_pence(pence + 1)]


def test_ids_beyond_any_row_are_not_found_never_a_500(api):
    """schemathesis sent ids past SQLite's 64-bit integer: an overflow in the driver, once a 500."""
    out = upload(api, LAYOUTS["csv"][0])
    line = api.get(f"/api/v1/bank-statements/{out['id']}")["lines"][0]["id"]
    huge = 10**27
    api.get(f"/api/v1/bank-statements/{huge}", expect=404)
    api.post(f"/api/v1/bank-statements/{huge}/lines/{line}/match", {"transaction_ids": [1]}, expect=404)
    api.post(f"/api/v1/bank-statements/{out['id']}/lines/{huge}/match", {"transaction_ids": [1]}, expect=404)
    bad = api.post(f"/api/v1/bank-statements/{out['id']}/lines/{line}/match", {"transaction_ids": [huge]}, expect=422)
    assert "transaction_ids" in bad["error"]["details"]


def test_a_part_without_a_name_is_a_422_naming_file_never_a_500(api):
    """schemathesis sent a multipart part with no name: the request's hash once compared None with text."""
    body = (b'--b\r\nContent-Disposition: form-data; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\n'
            b'x\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="b.csv"\r\n\r\nDate,Amount\r\n--b--\r\n')
    r = api.client.post("/api/v1/bank-statements", data=body, content_type="multipart/form-data; boundary=b",
                        headers={"Authorization": f"Bearer {api.token}", "Idempotency-Key": "nameless-part"})
    assert r.status_code == 422, r.get_json()
    assert "file" in r.get_json()["error"]["details"], r.get_json()


def _items(api) -> list[tuple[str, str, int]]:
    with api.app.app_context():
        rows = db.session.execute(sa.text(
            "SELECT c.as_of, i.state, i.amount_pence FROM bank_cleared_items i JOIN bank_clearings c "
            "ON c.id = i.clearing_id ORDER BY c.as_of, i.state, i.amount_pence")).all()
        db.session.rollback()
    return [(str(a), s, p) for a, s, p in rows]


def test_a_completed_reconciliation_clears_its_movements_and_the_next_starts_from_it(api):
    pid = api.person()
    api.receipt(pid, amount="2000.00", date="2026-10-01", reference="NCC-1")
    api.receipt(pid, amount="500.00", date="2026-10-30", reference="NCC-2")  # not on October's statement
    upload(api, "Date,Description,Amount,Balance\n01/10/2026,NORTHSHIRE NCC-1,2000.00,2000.00\n"
                "01/10/2026,TRANSFER FEES,-200.00,1800.00\n")
    rec = api.get("/api/v1/reconciliation?as_of=2026-10-31")
    assert (rec["bank_balance"], rec["client_money_held"], rec["outstanding_receipts"], rec["outstanding_payments"],
            rec["bank_difference"]) == ("1800.00", "2250.00", "500.00", "50.00", "0.00")
    api.post("/api/v1/reconciliation/complete", {"as_of": "2026-10-31"})
    assert _items(api) == [("2026-10-31", "cleared", -20000), ("2026-10-31", "cleared", 200000),
                           ("2026-10-31", "outstanding", -5000), ("2026-10-31", "outstanding", 50000)]
    api.receipt(pid, amount="300.00", date="2026-11-10", reference="NCC-3")
    upload(api, "Date,Description,Amount,Balance\n02/11/2026,NORTHSHIRE NCC-2,500.00,2300.00\n"
                "02/11/2026,TRANSFER FEES,-50.00,2250.00\n10/11/2026,NORTHSHIRE NCC-3,300.00,2550.00\n"
                "10/11/2026,TRANSFER FEES,-30.00,2520.00\n")
    rec = api.get("/api/v1/reconciliation?as_of=2026-11-30")
    assert (rec["bank_balance"], rec["client_money_held"], rec["outstanding_receipts"], rec["unmatched_bank_lines"],
            rec["bank_difference"]) == ("2520.00", "2520.00", "0.00", 0, "0.00")
    api.post("/api/v1/reconciliation/complete", {"as_of": "2026-11-30"})
    assert _items(api)[4:] == [("2026-11-30", "cleared", p) for p in (-5000, -3000, 30000, 50000)]
    shown = api.get("/api/v1/dashboard?as_of=2026-12-01")["totals"]["reconciliation"]
    assert (shown["last_reconciled"], shown["bank_difference"]) == ("2026-11-30", "0.00")
    late = api.post("/api/v1/reconciliation/complete", {"as_of": "2026-10-15"}, expect=409)
    assert late["error"]["code"] == "already_reconciled_later" and "as_of" in late["error"]["details"]
    with api.app.app_context():
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(sa.text("DELETE FROM bank_cleared_items"))
        db.session.rollback()


def test_a_charge_the_ledger_does_not_hold_is_the_difference_whole(api):
    pid = api.person()
    api.receipt(pid, amount="2000.00", date="2026-10-01", reference="NCC-77")
    upload(api, "Date,Description,Amount,Balance\n01/10/2026,NORTHSHIRE NCC-77,2000.00,2000.00\n"
                "01/10/2026,TRANSFER FEES,-200.00,1800.00\n03/10/2026,ACCOUNT FEE,-12.34,1787.66\n")
    rec = api.get("/api/v1/reconciliation?as_of=2026-10-31")
    assert (rec["bank_difference"], rec["unmatched_bank_lines"], rec["unmatched_bank_total"]) == ("-12.34", 1, "-12.34")


MISTYPED = ("Date,Description,Amount,Balance\n01/10/2026,NORTHSHIRE NCC-1,2000.01,2000.01\n"
            "01/10/2026,TRANSFER FEES,-200.00,1800.01\n03/10/2026,=1+2 ACCOUNT FEE,-12.34,1787.67\n")


def _mistyped_month(api) -> dict:
    """A penny mistyped on a receipt's line, a bank charge the ledger lacks, a receipt and its fee
    not yet on the bank."""
    pid = api.person()
    first = api.receipt(pid, amount="2000.00", date="2026-10-01", reference="NCC-1")["transaction_id"]
    late = api.receipt(pid, amount="500.00", date="2026-10-30", reference="NCC-2")["transaction_id"]
    upload(api, MISTYPED)
    return {"first": first, "late": late}


def test_the_reconciliation_report_as_a_workbook(api):
    from openpyxl import load_workbook

    ids = _mistyped_month(api)
    rec = api.get("/api/v1/reconciliation?as_of=2026-10-31")
    assert (rec["bank_balance"], rec["outstanding_receipts"], rec["outstanding_payments"], rec["client_money_held"],
            rec["unmatched_bank_lines"], rec["bank_difference"]) == (
        "1787.67", "500.00", "50.00", "2250.00", 2, "-12.33")  # 0.01 mistyped, 12.34 charged
    r = api.call("GET", "/api/v1/reconciliation/report?as_of=2026-10-31&format=xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb["Reconciliation"]
    num = lambda v: None if v is None else Decimal(str(v))  # noqa: E731 (openpyxl reads a number as float)
    figures = {ws.cell(i, 1).value: num(ws.cell(i, 2).value) for i in range(5, 13)}
    assert figures == {
        "Balance on the bank statement": Decimal("1787.67"), "Add: receipts not yet on the bank": Decimal("500"),
        "Less: payments not yet on the bank": Decimal("50"), "Balance the ledger expects at the bank": Decimal("2237.67"),
        "Client money held (the ledger)": Decimal("2250"), "Bank difference": Decimal("-12.33"),
        "Sum of every fund": Decimal("2250"), "Difference: client money held less the funds": Decimal("0")}
    assert [ws.cell(i, 3).value for i in range(5, 11)] == [
        None, "=ABS(SUM('Receipts'!F2:F2))", "=ABS(SUM('Payments'!F2:F2))", "=B5+B6-B7", None, "=B8-B9"]
    receipts = [[c.value for c in row] for row in wb["Receipts"].iter_rows(min_row=2)]
    assert [(t, num(a)) for t, *_, a in receipts] == [(ids["late"], Decimal("500"))]
    assert [num(row[-1]) for row in wb["Payments"].iter_rows(min_row=2, values_only=True)] == [Decimal("-50")]
    lines = list(wb["Unmatched lines"].iter_rows(min_row=2, values_only=True))
    assert [(ln[2], num(ln[4]), ln[5], num(ln[6]), num(ln[7])) for ln in lines] == [
        ("NORTHSHIRE NCC-1", Decimal("2000.01"), ids["first"], Decimal("2000"), Decimal("0.01")),
        ("=1+2 ACCOUNT FEE", Decimal("-12.34"), None, None, Decimal("-12.34"))]
    fee = wb["Unmatched lines"].cell(3, 3)
    assert (fee.data_type, fee.quotePrefix) == ("s", True)  # what the bank wrote stays text


def test_the_reconciliation_report_as_a_tagged_pdf(api, tmp_path):
    import pdfua
    import pikepdf
    from pdfs import elements, pdf_text

    _mistyped_month(api)
    r = api.call("GET", "/api/v1/reconciliation/report?as_of=2026-10-31")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    path = tmp_path / "reconciliation.pdf"
    path.write_bytes(r.data)
    found = pdfua.validate(str(path))
    assert [(f.rule_id, f.message) for f in found.findings] == [] and found.exit_code == 0
    with pikepdf.open(io.BytesIO(r.data)) as pdf:
        roles = [str(e.S) for e in elements(pdf.Root.StructTreeRoot)]
        assert roles.count("/H1") == 1 and roles.count("/Table") == 4
    text = pdf_text(r.data)
    for words in ("Client bank account reconciliation as at 31 October 2026",
                  "The bank statement dated 3 October 2026 shows £1,787.67. The bank difference is minus £12.33",
                  "This reconciliation has not been completed.", "Bank difference -£12.33",
                  "Balance the ledger expects at the bank £2,237.67", "Receipts not yet on the bank",
                  "Payments not yet on the bank", "2000.01", "0.01", "=1+2 ACCOUNT FEE", "-12.34"):
        assert words in text, (words, text)
    assert api.call("GET", "/api/v1/reconciliation/report?as_of=0000-10-31").status_code == 422
    assert api.call("GET", "/api/v1/reconciliation/report?format=docx").status_code == 422
    token = api.user("broker")
    assert api.call("GET", "/api/v1/reconciliation/report", token=token).status_code == 403


def test_the_report_before_any_statement_and_at_the_last_day_it_takes(api):
    from pdfs import pdf_text

    bad = api.call("GET", "/api/v1/reconciliation/report?as_of=9999-12-31")
    assert bad.status_code == 422 and "as_of" in bad.get_json()["error"]["details"]
    for query in ("", "?as_of=2100-12-31", "?as_of=1990-01-01"):
        pdf = api.call("GET", f"/api/v1/reconciliation/report{query}")
        assert pdf.status_code == 200, pdf.get_json()
        assert "No bank statement with a closing balance is dated on or before this day" in pdf_text(pdf.data)
        assert api.call("GET", f"/api/v1/reconciliation/report{query}{'&' if query else '?'}format=xlsx"
                        ).status_code == 200
    upload(api, "Date,Description,Amount,Balance\n01/10/2026,NORTHSHIRE,5.00,5.00\n")
    far = api.call("GET", "/api/v1/reconciliation/report?as_of=2100-12-31&format=xlsx")
    assert far.status_code == 200
