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
    # The bank holds the line, the ledger the movement it should have matched: the difference
    # is the line as received, and the line against the movement left outstanding is the penny.
    assert rec["bank_difference"] == format_pence(pence + 1)
    assert Decimal(rec["unmatched_bank_total"]) - Decimal(rec["outstanding_receipts"]) == Decimal("0.01")
    assert (rec["unmatched_bank_lines"], rec["unmatched_bank_total"]) == (1, format_pence(pence + 1))
    assert rec["outstanding_receipts"] == format_pence(pence)
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
