"""The self-audit (issue 12.5): each check finds a fault planted past the database's guards and
names the person, a clean demo audits clean, and the audit reads without blocking writers."""
from __future__ import annotations

import sqlite3
from datetime import date

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from isf_ledger import clock
from isf_ledger.workflows.self_audit import audit
from isf_ledger.db import begin_read_only
from isf_ledger.ledger.post import person_accounts, provider_accounts
from isf_ledger.db import db
from isf_ledger.shared_support.charges import account_code


def tamper(backend: str, db_url: str, *statements: str) -> None:
    """Change the books as someone with the database's keys could: triggers and foreign keys
    off (SQLite: dropped on a bare connection; PostgreSQL: replica mode)."""
    if backend == "sqlite":
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        for sql in statements:
            conn.execute(sql)
        conn.commit()
        conn.close()
    else:
        with psycopg.connect(db_url) as conn:
            conn.execute("SET session_replication_role = replica")
            for sql in statements:
                conn.execute(sql)


@pytest.fixture
def books(api, monkeypatch):
    """Ana with a receipt and its fee, a reversed receipt, a delivery and October's statement,
    and Bo beside her."""
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 20))
    ana, bo = api.person("Ana Smith"), api.person("Bo Jones")
    api.plan(ana)
    r = api.receipt(ana, "2000.00")
    gone = api.receipt(ana, "100.00", "2026-10-02")
    rev = api.post(f"/api/v1/transactions/{gone['transaction_id']}/reverse", {"reason": "wrong fund"})
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50",
                               "effective_from": "2026-01-01"})
    d = api.post(f"/api/v1/people/{ana}/deliveries", {"date": "2026-10-05", "start_time": "10:00",
                                                      "service": "day_support", "quantity": "10.00",
                                                      "status": "delivered", "domain": "personal_care"})
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    with api.app.app_context():
        mine, bos, prov = (person_accounts(db.session, ana), person_accounts(db.session, bo),
                           provider_accounts(db.session))
        ids = {"avail": mine["available"].id, "cont": mine["contingency"].id, "bo_avail": bos["available"].id,
               **{k: a.id for k, a in prov.items()}}
        ids["rid"] = db.session.scalar(sa.text("SELECT id FROM receipts WHERE transaction_id = :t"),
                                       {"t": r["transaction_id"]})
        ids["rev"] = db.session.scalar(sa.text("SELECT id FROM transactions WHERE reverses_id = :t"),
                                       {"t": gone["transaction_id"]})
        db.session.rollback()
    assert rev["transaction_id"] == ids["rev"]
    return {"ana": ana, "bo": bo, "r": r["transaction_id"], "f": r["fee_transaction_id"],
            "gone_fee": gone["fee_transaction_id"], "did": d["id"], "dtxn": d["transaction_id"], **ids}


FAULTS = {
    "every transaction balances":
        ["UPDATE postings SET amount_pence = amount_pence + 1 WHERE transaction_id = {r} AND account_id = {avail}"],
    "every posting has its transaction": ["DELETE FROM transactions WHERE id = {f}"],
    "postings carry their transaction's date": ["UPDATE postings SET date = '2026-10-09' WHERE transaction_id = {r}"],
    "no transaction moves money between funds":
        ["UPDATE postings SET account_id = {bo_avail} WHERE transaction_id = {f} AND account_id = {avail}"],
    "money leaves a fund only as invariant 4 allows, to the right account": [
        "UPDATE transactions SET kind = 'receipt' WHERE id = {f}"],
    "monthly checkpoints equal the postings": ["UPDATE account_months SET net_pence = net_pence + 1 "
                                               "WHERE account_id = {avail}"],
    "monthly checkpoints by kind equal the postings": ["UPDATE account_kind_months SET net_pence = net_pence + 1 "
                                                       "WHERE account_id = {avail} AND kind = 'receipt'"],
    "every receipt bore the right fee": ["UPDATE receipts SET fee_pence = fee_pence + 1 WHERE id = {rid}"],
    "every receipt and its fee are posted as recorded": ["UPDATE receipts SET amount_pence = 300000, "
                                                         "fee_pence = 30000 WHERE id = {rid}"],
    "every reversal negates what it reverses":
        ["UPDATE postings SET account_id = {cont} WHERE transaction_id = {rev} AND account_id = {avail}"],
    "every transaction has the record of its kind and moved what it records": [
        "UPDATE deliveries SET transaction_id = NULL WHERE id = {did}"],
    "every delivery's charge is its quantity at its rate": ["UPDATE deliveries SET rate = 19.50 WHERE id = {did}"],
    "no fund got back more fee than it paid": ["UPDATE postings SET amount_pence = -amount_pence WHERE transaction_id = {f}"],
    "every issued statement agrees with the ledger": ["UPDATE statements SET month = '2026-09-01' WHERE person_id = {ana}"],
}
# Further faults, each with the check that must find it.
MORE_FAULTS = [
    ("money leaves a fund only as invariant 4 allows, to the right account",
     ["UPDATE postings SET account_id = {third_parties} WHERE transaction_id = {f} AND account_id = {fee_income}"]),
    ("every receipt and its fee are posted as recorded",
     ["UPDATE transactions SET kind = 'support_charge' WHERE id = {f}"]),
    ("every receipt and its fee are posted as recorded",
     ["UPDATE postings SET amount_pence = amount_pence * 2 WHERE transaction_id = {f}"]),
    ("every reversal negates what it reverses", ["UPDATE transactions SET reverses_id = NULL WHERE reverses_id = {gone_fee}"]),
    ("every transaction has the record of its kind and moved what it records",
     ["UPDATE deliveries SET charge_pence = 18600 WHERE id = {did}"]),
    ("every transaction has the record of its kind and moved what it records",
     ["UPDATE transactions SET kind = 'spend' WHERE id = {dtxn}"]),
    ("every delivery's charge is its quantity at its rate", ["UPDATE deliveries SET status = 'banked' WHERE id = {did}"]),
    # A kept row said to be worked out for today (clock.today above) with a wrong balance.
    ("each fund's kept dashboard figures equal the ledger's",
     ["UPDATE fund_figures SET figures_on = '2026-11-20', available = available + 1 WHERE person_id = {ana}"]),
    ("every issued statement agrees with the ledger",
     ["UPDATE account_kind_months SET kind = 'spend' WHERE account_id = {avail} AND kind = 'delivery'"]),
]


def check_finds(api, backend, db_url, book, check, statements):
    """The books audit clean; after the plant, `check` finds it, every finding naming Ana."""
    with api.app.app_context():
        assert not any(audit(db.session).values())
        db.session.rollback()
    tamper(backend, db_url, *[s.format(**book) for s in statements])
    with api.app.app_context():
        found = audit(db.session)
        db.session.rollback()
    assert found[check], found
    assert all(f"Ana Smith (person {book['ana']})" in line for line in found[check]), found[check]
    return found


@pytest.mark.parametrize("check, statements", list(FAULTS.items()) + MORE_FAULTS,
                         ids=[f"{i}-{c[:30]}" for i, (c, _) in enumerate(list(FAULTS.items()) + MORE_FAULTS)])
def test_each_check_finds_its_fault_and_names_the_person(api, books, backend, db_url, check, statements):
    found = check_finds(api, backend, db_url, books, check, statements)
    if check == "no transaction moves money between funds":
        assert f"Bo Jones (person {books['bo']})" in found[check][0]


@pytest.fixture
def kinds_book(api, monkeypatch):
    """Ana with a record of every other kind beside her postings: a contingency set-aside and a
    draw, a spend, her share of a shared sleep-in (Bo has the other place), a delivery re-priced by
    a backdated rate, a clawback, a fee refund, then her fund closed; Bo stays open."""
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 20))
    ana, bo = api.person("Ana Smith", opened_on="2026-10-01"), api.person("Bo Jones", opened_on="2026-10-01")
    for pid in (ana, bo):
        api.plan(pid, effective_from="2026-10-01", contingency_amount="500.00")
        api.receipt(pid, "5000.00")
    people = f"/api/v1/people/{ana}"
    aside = api.post(f"{people}/contingency/set-aside", {"date": "2026-10-02", "amount": "300.00"})
    drawn = api.post(f"{people}/contingency/draws", {"date": "2026-10-03", "amount": "50.00",
                                                     "reason": "extra support", "authorised_by": "Jo Pickering"})
    spent = api.post(f"{people}/spend", {"date": "2026-10-06", "amount": "12.50", "payee": "Leisure centre",
                                         "category": "leisure", "domain": "health", "description": "swim"})
    arr = api.post("/api/v1/shared-arrangements", {"name": "Sleep-in, 12 Rowan Close", "capacity": 2,
                                                   "method": "equal", "per_night": "62.40",
                                                   "effective_from": "2026-10-01"})
    for pid in (ana, bo):
        api.post(f"/api/v1/shared-arrangements/{arr['id']}/members", {
            "person_id": pid, "from": "2026-10-01", "to": "2026-10-31", "agreed_on": "2026-09-01",
            "recorded_by": "Sam"})
    charged = api.post(f"/api/v1/shared-arrangements/{arr['id']}/charges/2026-10", {})
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50",
                               "effective_from": "2026-01-01"})
    api.post(f"{people}/deliveries", {"date": "2026-10-05", "start_time": "10:00", "service": "day_support",
                                      "quantity": "10.00", "status": "delivered", "domain": "personal_care"})
    uplift = api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "19.00",
                                        "effective_from": "2026-10-01"})
    clawed = api.post(f"{people}/clawbacks", {"date": "2026-11-01", "amount": "100.00", "reference": "CB-1",
                                              "notice_given_on": "2026-10-04"})
    refund = api.post(f"{people}/fee-refunds", {"date": "2026-11-02", "amount": "50.00",
                                                "reason": "the council's contract refunds fee on recoveries"})
    closed = api.post(f"{people}/close", {"date": "2026-11-20", "destination": "council", "reference": "NS-1"})
    share, = [line["transaction_id"] for s in charged["shares"] if s["person_id"] == ana for line in s["lines"]]
    with api.app.app_context():
        prov = provider_accounts(db.session)
        ids = {k: a.id for k, a in prov.items()}
        ids["arrangement"] = db.session.scalar(sa.text("SELECT id FROM accounts WHERE code = :c"),
                                               {"c": account_code(arr["id"])})
        ids["closing"] = db.session.scalar(sa.text("SELECT id FROM fund_closings WHERE person_id = :p"), {"p": ana})
        ids.update({f"{k}_acc": a.id for k, a in person_accounts(db.session, ana).items()})
        db.session.rollback()
    return {"ana": ana, "bo": bo, "aside": aside["id"], "aside_txn": aside["transaction_id"], "draw": drawn["id"],
            "draw_txn": drawn["transaction_id"], "spend": spent["id"], "spend_txn": spent["transaction_id"],
            "share_txn": share, "clawback": clawed["id"], "clawback_txn": clawed["transaction_id"],
            "refund_txn": refund["transaction_id"], "closing_txn": closed["transaction_id"],
            "uplift_txn": uplift["adjustments"][0]["transaction_id"], **ids}


RECORDS = "every transaction has the record of its kind and moved what it records"
# Faults against the records of the other kinds (kinds_book), each with the check that must find it.
RECORD_FAULTS = [
    # A spend whose posting moved twice what the spend says, a spend saying another amount, a spend
    # transaction whose record is gone or points elsewhere.
    (RECORDS, ["UPDATE postings SET amount_pence = amount_pence * 2 WHERE transaction_id = {spend_txn}"]),
    (RECORDS, ["UPDATE spend SET amount_pence = 1300 WHERE id = {spend}"]),
    (RECORDS, ["DELETE FROM spend WHERE id = {spend}"]),
    (RECORDS, ["UPDATE spend SET transaction_id = 999999 WHERE id = {spend}"]),
    # Contingency: a set-aside recorded as another amount, a draw posted twice over, a set-aside
    # recorded as a draw.
    (RECORDS, ["UPDATE contingency_movements SET amount_pence = 30100 WHERE id = {aside}"]),
    (RECORDS, ["UPDATE postings SET amount_pence = amount_pence * 2 WHERE transaction_id = {draw_txn}"]),
    (RECORDS, ["UPDATE contingency_movements SET kind = 'draw' WHERE id = {aside}"]),
    # A shared-support charge line saying a penny more than its posting; a posting paying the
    # arrangement a penny less than the line (the fund's leg as charged).
    (RECORDS, ["UPDATE shared_charge_lines SET amount_pence = amount_pence + 1 WHERE transaction_id = {share_txn}"]),
    (RECORDS, ["UPDATE postings SET amount_pence = amount_pence - 1 WHERE transaction_id = {share_txn} "
               "AND account_id = {arrangement}",
               "UPDATE postings SET amount_pence = amount_pence + 1 WHERE transaction_id = {share_txn} "
               "AND account_id = {client_money}"]),
    # A backdated rate's adjustment line saying a penny more than its posting; its posting charging
    # twice the lines.
    (RECORDS, ["UPDATE rate_adjustment_lines SET difference_pence = difference_pence + 1 "
               "WHERE transaction_id = {uplift_txn}"]),
    (RECORDS, ["UPDATE postings SET amount_pence = amount_pence * 2 WHERE transaction_id = {uplift_txn}"]),
    # A clawback recorded as more than it repaid; its posting repaying twice the record.
    (RECORDS, ["UPDATE clawbacks SET amount_pence = 10001 WHERE id = {clawback}"]),
    (RECORDS, ["UPDATE postings SET amount_pence = amount_pence * 2 WHERE transaction_id = {clawback_txn}"]),
    # A closing recorded as paying out more than its posting did; its posting paying out 100.00
    # of the contingency from available instead (the same total), so the fund closed with 100.00
    # left in its contingency and available overdrawn by as much.
    (RECORDS, ["UPDATE fund_closings SET paid_out_pence = paid_out_pence + 1 WHERE id = {closing}"]),
    (RECORDS, ["UPDATE postings SET amount_pence = amount_pence - 10000 WHERE transaction_id = {closing_txn} "
               "AND account_id = {available_acc}",
               "UPDATE postings SET amount_pence = amount_pence + 10000 WHERE transaction_id = {closing_txn} "
               "AND account_id = {contingency_acc}"]),
    # A fee refund has no record but the fee it gives back: one that took nothing from fee income
    # (the money came from client money), and one giving back more than the fund paid.
    (RECORDS, ["UPDATE postings SET account_id = {client_money} WHERE transaction_id = {refund_txn} "
               "AND account_id = {fee_income}"]),
    ("no fund got back more fee than it paid",
     ["UPDATE postings SET amount_pence = amount_pence * 20 WHERE transaction_id = {refund_txn}"]),
]


@pytest.mark.parametrize("check, statements", RECORD_FAULTS,
                         ids=[f"{i}-{s[0][7:40]}" for i, (_, s) in enumerate(RECORD_FAULTS)])
def test_each_record_check_finds_its_fault_and_names_the_person(api, kinds_book, backend, db_url, check,
                                                                statements):
    check_finds(api, backend, db_url, kinds_book, check, statements)


def test_the_audit_checks_every_invariant_it_names(api):
    with api.app.app_context():
        assert set(audit(db.session)) == set(FAULTS) | {"client money equals the sum of funds",
                                                        "each fund's kept dashboard figures equal the ledger's"}
        db.session.rollback()


def test_a_clean_demo_audits_clean(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--people", "5", "--months", "3", "--seed", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["audit"])
    assert result.exit_code == 0, result.output
    assert "the books hold" in result.output and "BAD" not in result.output


def test_the_audit_reads_a_read_only_snapshot_and_never_blocks_a_writer(api, backend, db_url):
    pid = api.person()
    api.receipt(pid)
    with api.app.app_context():
        begin_read_only(db.session)
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM postings")) == 6
        if backend == "sqlite":
            # BEGIN IMMEDIATE would hold the write lock: another writer could not begin.
            other = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=0.2)
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
            other.close()
        else:
            assert db.session.scalar(sa.text("SHOW transaction_read_only")) == "on"
            assert db.session.scalar(sa.text("SHOW transaction_isolation")) == "repeatable read"
            with pytest.raises(DBAPIError, match="read-only"):
                db.session.execute(sa.text("INSERT INTO councils (name) VALUES ('x')"))
        db.session.rollback()
        db.session.remove()
        if backend == "postgresql":  # the pool hands the connection back writable
            assert db.session.scalar(sa.text("SHOW transaction_read_only")) == "off"
            db.session.rollback()
    api.receipt(pid, "10.00")


# --- Money no record explains (issue 21 item 4) ------------------------------------------------

def plant(api, backend, person_id, kind, legs, day="2026-11-05"):
    """A transaction written by plain SQL with every guard of the database on, as anyone with the
    app's role could: an allocated id, balanced postings, a header, the checkpoints kept."""
    next_id = ("INSERT INTO transaction_ids (id) SELECT nextval(pg_get_serial_sequence('transactions', 'id')) "
               "RETURNING id" if backend == "postgresql" else "INSERT INTO transaction_ids (id) VALUES (NULL) RETURNING id")
    with api.app.app_context():
        s = db.session
        txn = s.scalar(sa.text(next_id))
        accounts = {a.kind: a for a in [*person_accounts(s, person_id).values()]}
        provider = provider_accounts(s)
        for name, pence in legs:
            account = accounts.get(name) or provider[name]
            s.execute(sa.text("INSERT INTO postings (transaction_id, account_id, date, amount_pence) "
                              "VALUES (:t, :a, :d, :p)"), {"t": txn, "a": account.id, "d": day, "p": pence})
        s.execute(sa.text("INSERT INTO transactions (id, kind, date, service_date, person_id, description, created_at) "
                          "VALUES (:t, :k, :d, :d, :pid, 'planted', CURRENT_TIMESTAMP)"),
                  {"t": txn, "k": kind, "d": day, "pid": person_id})
        month = day[:8] + "01"
        for name, pence in legs:
            account = accounts.get(name) or provider[name]
            s.execute(sa.text("INSERT INTO account_months (account_id, month, net_pence) VALUES (:a, :m, :p) "
                              "ON CONFLICT (account_id, month, slot) DO UPDATE "
                              "SET net_pence = account_months.net_pence + excluded.net_pence"),
                      {"a": account.id, "m": month, "p": pence})
            if name in accounts:
                s.execute(sa.text("INSERT INTO account_kind_months (account_id, month, kind, reverses_kind, net_pence) "
                                  "VALUES (:a, :m, :k, '', :p) ON CONFLICT (account_id, month, kind, reverses_kind) "
                                  "DO UPDATE SET net_pence = account_kind_months.net_pence + excluded.net_pence"),
                          {"a": account.id, "m": month, "k": kind, "p": pence})
        s.commit()
    return txn


def findings(api) -> dict[str, list[str]]:
    with api.app.app_context():
        found = {k: v for k, v in audit(db.session).items() if v}
        db.session.rollback()
    return found


def credit(pence, *provider):
    """Legs putting `pence` into Ana's available from the provider's accounts (signs as posted)."""
    first, *rest = provider
    return [("available", pence), (first, -pence), *[(name, -pence if i % 2 == 0 else pence)
                                                     for i, name in enumerate(rest)]]


def test_a_fee_refund_beyond_the_fee_paid_is_found(api, backend):
    ana = api.person("Ana Smith")
    assert api.receipt(ana, "205.50")["fee"] == "20.55"
    assert findings(api) == {}
    plant(api, backend, ana, "fee_refund", credit(2_000_000, "fee_income", "client_money", "provider_bank"))
    assert findings(api) == {"no fund got back more fee than it paid": [
        f"Ana Smith (person {ana}): the fund has been refunded 19979.45 more fee than it paid"]}


def test_a_fee_refund_that_gave_back_no_fee_is_found(api, backend):
    """Money into a fund as a fee refund, from client money and not fee income: within the fee
    paid, yet no fee was given back."""
    ana = api.person("Ana Smith")
    api.receipt(ana, "205.50")
    txn = plant(api, backend, ana, "fee_refund", credit(1_000, "client_money"))
    assert findings(api) == {"every transaction has the record of its kind and moved what it records": [
        f"Ana Smith (person {ana}): transaction {txn} is a fee refund of 10.00 to available that gave back "
        "0.00 of fee income"]}


@pytest.mark.parametrize("kind, pence, legs, why", [
    ("delivery", 300_000, ("support_income", "client_money", "provider_bank"), "with no delivery recorded"),
    ("receipt", 500_000, ("client_money",), "with no receipt recorded"),
    ("contingency_draw", 500_000, ("client_money",), "with no contingency movement recorded"),
    ("gift", 500_000, ("client_money",), "(a kind the engine does not know)"),
])
def test_money_no_record_explains_is_found_naming_the_person(api, backend, kind, pence, legs, why):
    ana = api.person("Ana Smith")
    api.receipt(ana, "205.50")
    txn = plant(api, backend, ana, kind, credit(pence, *legs))
    assert findings(api) == {"every transaction has the record of its kind and moved what it records": [
        f"Ana Smith (person {ana}): transaction {txn} is a {kind} {why}, {pence // 100}.00 to the fund"]}


def test_each_check_lists_its_findings_by_person_however_the_rows_come_back(api, backend):
    ana, bo = api.person("Ana Smith"), api.person("Bo Li")
    for pid in (ana, bo):
        api.receipt(pid, "205.50")
    planted = {pid: plant(api, backend, pid, "gift", credit(500_000, "client_money")) for pid in (bo, ana)}
    assert findings(api)["every transaction has the record of its kind and moved what it records"] == [
        f"Ana Smith (person {ana}): transaction {planted[ana]} is a gift (a kind the engine does not know), "
        "5000.00 to the fund",
        f"Bo Li (person {bo}): transaction {planted[bo]} is a gift (a kind the engine does not know), 5000.00 to the fund"]


def test_a_delivery_shifted_by_a_penny_with_its_checkpoints_fixed_is_found(api, books, backend, db_url):
    """Triggers off: every leg of the delivery one penny larger, the checkpoints made to agree."""
    assert findings(api) == {}
    b = books
    shift = [f"UPDATE postings SET amount_pence = amount_pence + CASE WHEN amount_pence > 0 THEN 1 ELSE -1 END "
             f"WHERE transaction_id = {b['dtxn']}"]
    for account, sign in ((b["avail"], -1), (b["support_income"], 1), (b["client_money"], 1), (b["provider_bank"], -1)):
        shift.append(f"UPDATE account_months SET net_pence = net_pence + ({sign}) "
                     f"WHERE account_id = {account} AND month = '2026-10-01'")
    shift.append(f"UPDATE account_kind_months SET net_pence = net_pence - 1 WHERE account_id = {b['avail']} "
                 "AND month = '2026-10-01' AND kind = 'delivery'")
    tamper(backend, db_url, *shift)
    with api.app.app_context():
        number = db.session.scalar(sa.text(f"SELECT number FROM statements WHERE person_id = {b['ana']}"))
        db.session.rollback()
    who = f"Ana Smith (person {b['ana']})"
    assert findings(api) == {
        "every transaction has the record of its kind and moved what it records": [
            f"{who}: delivery {b['did']}: its transaction {b['dtxn']} (delivery) moved -185.01 on available, the "
            "record says -185.00; -185.01 on the fund, the record says -185.00"],
        "every issued statement agrees with the ledger": [
            f"{who}: statement {number} for 2026-10 says closing_balance 1615.00 (the ledger: 1614.99), "
            "support_charged_total 185.00 (the ledger: 185.01)"],
    }
