"""The month-end benchmark's books written in bulk are the books the product writes: every row of
every table the same (ids included; only the creation times differ), on each engine (PostgreSQL's
copied from the bulk-built SQLite file, as the benchmark copies them)."""
from __future__ import annotations


import pytest
import sqlalchemy as sa

from bench import month_end as me
from bench.books import copy_books
from isf_ledger.db import db

PEOPLE, SEED = 7, 3
SKIP_COLUMNS = {"created_at"}  # when each row was written
# How many times a fund's kept dashboard figures were marked stale: once a statement on
# PostgreSQL, so it counts how the rows were batched, not what they are.
SKIP_TABLE_COLUMNS = {("fund_figures", "version")}


def rows(url: str) -> dict[str, list[tuple]]:
    engine = sa.create_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            cols = [c for c in table.columns if c.name not in SKIP_COLUMNS
                    and (table.name, c.name) not in SKIP_TABLE_COLUMNS]
            order = list(table.primary_key.columns) or cols
            out[table.name] = [tuple(r) for r in conn.execute(sa.select(*cols).order_by(*order))]
        if conn.dialect.name == "postgresql":
            out["next transaction id"] = [conn.execute(sa.text(
                "SELECT nextval(pg_get_serial_sequence('transactions', 'id'))")).scalar()]
        else:
            out["next transaction id"] = [conn.execute(sa.text(
                "SELECT seq FROM sqlite_sequence WHERE name = 'transaction_ids'")).scalar() + 1]
    engine.dispose()
    return out


class Target:  # what copy_books needs of an engine
    def __init__(self, url):
        self.dsn = url


def test_bulk_books_are_the_posted_books(databases, backend, monkeypatch):
    # build commits every 3 people, so its transactions write the provider accounts' checkpoints
    # in three slots (persons 1, 4 and 7's) and the bulk build must write the same three.
    monkeypatch.setattr(me, "COMMIT_EVERY", 3)
    posted, bulk = databases.fresh(backend), databases.fresh(backend)
    try:
        me.build(posted, PEOPLE, SEED)
        if backend == "sqlite":
            me.bulk_build(bulk, PEOPLE, SEED, batch=3)
        else:
            source = databases.fresh("sqlite")
            try:
                me.bulk_build(source, PEOPLE, SEED, batch=3)
                copy_books(source.removeprefix("sqlite:///"), Target(bulk), lambda *a: None)
            finally:
                databases.drop(source)
        want, got = rows(posted), rows(bulk)
        assert sum(len(v) for v in want.values()) > 7 * 25
        for table in want:
            assert got[table] == want[table], table
        slots = {r[2] for r in want["account_months"]}
        assert slots == {0, 1, 4, 7}, slots
        # The self-audit finds the same in both: the benchmark posts charges and receipts without
        # their delivery and receipt records (month end reads only the ledger).
        assert me.audit_books(bulk) == me.audit_books(posted)
    finally:
        databases.drop(posted)
        databases.drop(bulk)


def test_bulk_build_refuses_books_already_written(databases):
    url = databases.fresh("sqlite")
    try:
        me.bulk_build(url, 2, SEED)
        with pytest.raises(RuntimeError, match="empty database only"):
            me.bulk_build(url, 2, SEED)
    finally:
        databases.drop(url)
