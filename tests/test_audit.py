"""The self-audit (issue 12.5): each check finds a fault planted past the database's guards and
names the person, a clean demo audits clean, and the audit reads without blocking writers."""
from __future__ import annotations

import sqlite3

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from isf_ledger.accounts.audit import audit, begin_read_only
from isf_ledger.accounts.ledger import person_accounts, provider_accounts
from isf_ledger.db import db


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
def books(api):
    """Ana with a receipt and its fee, a reversed receipt, and Bo beside her."""
    ana, bo = api.person("Ana Smith"), api.person("Bo Jones")
    api.plan(ana)
    r = api.receipt(ana, "2000.00")
    gone = api.receipt(ana, "100.00", "2026-10-02")
    rev = api.post(f"/api/v1/transactions/{gone['transaction_id']}/reverse", {"reason": "wrong fund"})
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
            "gone_fee": gone["fee_transaction_id"], **ids}


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
]


@pytest.mark.parametrize("check, statements", list(FAULTS.items()) + MORE_FAULTS,
                         ids=[f"{i}-{c[:30]}" for i, (c, _) in enumerate(list(FAULTS.items()) + MORE_FAULTS)])
def test_each_check_finds_its_fault_and_names_the_person(api, books, backend, db_url, check, statements):
    with api.app.app_context():
        assert not any(audit(db.session).values())
        db.session.rollback()
    tamper(backend, db_url, *[s.format(**books) for s in statements])
    with api.app.app_context():
        found = audit(db.session)
        db.session.rollback()
    assert found[check], found
    assert all(f"Ana Smith (person {books['ana']})" in line for line in found[check]), found[check]
    if check == "no transaction moves money between funds":
        assert f"Bo Jones (person {books['bo']})" in found[check][0]


def test_the_audit_checks_every_invariant_it_names(api):
    with api.app.app_context():
        assert set(audit(db.session)) == set(FAULTS) | {"client money equals the sum of funds"}
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
