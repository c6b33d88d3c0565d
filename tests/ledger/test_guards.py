"""What the database guards beyond immutable history: funds only move forward, and postings
go in only for transaction ids the posting engine allocated (issue 12.4, issue 17.1)."""
from __future__ import annotations

import sqlite3
from datetime import date

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from isf_ledger.ledger.post import lock_funds, person_accounts, post, provider_accounts
from isf_ledger.accounts.receipts import receipt_entries
from isf_ledger.db import db


def fund_update(app, pid, **values) -> bool:
    """Set fund columns by raw SQL; True when the database accepts it."""
    sets = ", ".join(f"{k} = :{k}" for k in values)
    with app.app_context():
        try:
            db.session.execute(sa.text(f"UPDATE funds SET {sets} WHERE person_id = :pid"), {**values, "pid": pid})
            db.session.commit()
            return True
        except IntegrityError as e:
            assert "immutable" in str(e)
            db.session.rollback()
            return False


def test_fund_dates_move_only_forward(api):
    pid = api.person()
    assert fund_update(api.app, pid, issued_through="2026-09-01")  # NULL -> a date
    assert fund_update(api.app, pid, issued_through="2026-10-01")  # later
    assert not fund_update(api.app, pid, issued_through="2026-09-01")  # back
    assert not fund_update(api.app, pid, issued_through=None)
    assert fund_update(api.app, pid, issued_through="2026-10-01")  # unchanged
    assert fund_update(api.app, pid, closed_on="2026-12-31")  # NULL -> a date
    assert not fund_update(api.app, pid, closed_on="2027-01-31")
    assert not fund_update(api.app, pid, closed_on=None)
    assert fund_update(api.app, pid, opened_on="2020-01-01")  # earlier: a plan dated before it opened
    assert not fund_update(api.app, pid, opened_on="2020-01-02")  # later: never
    with api.app.app_context():
        row = db.session.execute(sa.text("SELECT issued_through, closed_on FROM funds WHERE person_id = :p"),
                                 {"p": pid}).one()
    assert (str(row[0]), str(row[1])) == ("2026-10-01", "2026-12-31")


def test_sqlite_fund_dates_must_be_dates(api, backend):
    if backend != "sqlite":
        pytest.skip("PostgreSQL types its dates")
    pid = api.person()
    assert not fund_update(api.app, pid, issued_through="zzzz")  # would sort after every date


def _plant(path: str, sql: str, params=()) -> None:
    """Write as an intruder would: a bare sqlite3 connection, foreign keys off (its default)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def test_sqlite_planted_postings_are_never_folded_into_a_receipt(api, backend, db_url):
    if backend != "sqlite":
        pytest.skip("a bare sqlite3 connection; PostgreSQL's case is the next test")
    path = db_url.removeprefix("sqlite:///")
    pid = api.person("Ana Smith")
    api.receipt(pid, "100.00")
    with api.app.app_context():
        available = person_accounts(db.session, pid)["available"].id
        client = provider_accounts(db.session)["client_money"].id
        nxt = db.session.scalar(sa.text("SELECT MAX(id) + 1 FROM transactions"))
    legs = "INSERT INTO postings (transaction_id, account_id, date, amount_pence) VALUES (?, ?, '2026-10-01', ?)"
    # For an id the engine did not allocate: refused outright.
    with pytest.raises(sqlite3.IntegrityError, match="not allocated"):
        _plant(path, legs, (nxt, available, 50000))
    # Allocated by hand too: accepted, but the engine's AUTOINCREMENT skips past it.
    for n in (nxt, nxt + 1):
        _plant(path, "INSERT INTO transaction_ids (id) VALUES (?)", (n,))
        _plant(path, legs, (n, available, 50000))
        _plant(path, legs, (n, client, -50000))
    r = api.receipt(pid, "2000.00")
    assert r["transaction_id"] > nxt + 1
    assert api.balance(pid)["available"] == "1890.00"  # 90.00 + 1800.00, nothing planted
    result = api.app.test_cli_runner().invoke(args=["audit"])
    assert result.exit_code == 1
    assert f"Ana Smith (person {pid})" in result.output and str(nxt) in result.output, result.output


def test_postgresql_a_leg_cannot_join_another_sessions_transaction(api, backend, db_url):
    if backend != "postgresql":
        pytest.skip("concurrent sessions on PostgreSQL")
    pid = api.person()
    with api.app.app_context(), psycopg.connect(db_url) as intruder:
        session = db.session
        funds = lock_funds(session, [pid])
        fund, provider = person_accounts(session, pid), provider_accounts(session)
        entries = receipt_entries(pid, date(2026, 10, 1), 10000, "council", None, 0, fund, provider)
        post(session, entries, funds)
        txn = entries[0].posted_id
        leg = ("INSERT INTO postings (transaction_id, account_id, date, amount_pence) "
               "VALUES (%s, %s, '2026-10-01', %s)")
        # The header is written but not committed: its allocation is invisible to others.
        with pytest.raises(psycopg.errors.RestrictViolation, match="not allocated"):
            intruder.execute(leg, (txn, fund["available"].id, 500))
        intruder.rollback()
        # The next id the sequence will give: not allocated either.
        with pytest.raises(psycopg.errors.RestrictViolation, match="not allocated"):
            intruder.execute(leg, (txn + 1, fund["available"].id, 500))
        intruder.rollback()
        session.commit()
        with pytest.raises(psycopg.errors.RestrictViolation, match="already posted"):
            intruder.execute(leg, (txn, fund["available"].id, 500))
        intruder.rollback()
    assert api.balance(pid)["available"] == "100.00"
