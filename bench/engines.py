"""Where the books live: a SQLite file in a temporary directory, or a fresh PostgreSQL database.

Each engine hands out the app (migrated with `isf-ledger db upgrade`, as a real install is) and
raw DBAPI connections (sqlite3 / psycopg) for the bare-SQL baselines.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
import uuid

import psycopg

from isf_ledger import create_app
from isf_ledger.db import db

# Kept books (--keep-books): SQLite files here, PostgreSQL databases named isf_bench_keep_<key>.
CACHE_DIR = os.environ.get("ISF_BENCH_CACHE") or os.path.join(tempfile.gettempdir(), "isf-bench-cache")
PG_BASE = (os.environ.get("ISF_BENCH_POSTGRES_URL") or os.environ.get("ISF_TEST_POSTGRES_URL")
           or "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_problem() -> str | None:
    """None when PostgreSQL answers at PG_BASE, else why not."""
    try:
        with psycopg.connect(PG_BASE, connect_timeout=3):
            return None
    except Exception as e:  # noqa: BLE001 - any failure means "not here"
        return f"{type(e).__name__}: {str(e).strip()[:160]}"


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(sql)


class Engine:
    """One database for one run of the benchmark; `close` removes it."""

    name: str
    url: str

    def app(self):
        return create_app({"DATABASE_URL": self.url})

    def upgrade(self) -> None:
        app = self.app()
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        if result.exit_code != 0:
            raise RuntimeError(f"db upgrade failed on {self.name}: {result.output}")
        with app.app_context():
            db.engine.dispose()

    def raw(self):
        raise NotImplementedError

    def placeholder(self) -> str:
        raise NotImplementedError

    def maintain(self) -> None:
        """Called after each person's commit while building: what the server would do by itself."""

    def maintenance_note(self) -> str | None:
        return None

    def after_build(self) -> str | None:
        """Whatever maintenance a running database would have done on its own by now."""
        return None

    def close(self) -> None:
        raise NotImplementedError


class SQLiteEngine(Engine):
    name = "sqlite"

    def __init__(self, keep: str | None = None):
        # `keep`: a cache key; the file lives in CACHE_DIR and survives close() for the next run.
        self.keep = keep
        self.tmp = os.path.join(CACHE_DIR, f"sqlite-{keep}") if keep else tempfile.mkdtemp(prefix="isf-bench-")
        os.makedirs(self.tmp, exist_ok=True)
        self.path = os.path.join(self.tmp, "books.db")
        self.url = f"sqlite:///{self.path}"

    def raw(self):
        conn = sqlite3.connect(self.path)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def placeholder(self) -> str:
        return "?"

    def size(self) -> str:
        total = sum(os.path.getsize(os.path.join(self.tmp, f)) for f in os.listdir(self.tmp))
        return f"{total / 2**20:.0f} MiB on disk"

    def close(self) -> None:
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def forget(self) -> None:
        """Remove kept books (a cache that was never finished)."""
        shutil.rmtree(self.tmp, ignore_errors=True)


class PostgresEngine(Engine):
    name = "postgresql"

    def __init__(self, keep: str | None = None, template: str | None = None):
        # `template`: a database to copy (CREATE DATABASE ... TEMPLATE) instead of starting empty.
        self.keep = keep
        self.db_name = f"isf_bench_keep_{keep}" if keep else f"isf_bench_{uuid.uuid4().hex[:10]}"
        self.dsn = PG_BASE.rsplit("/", 1)[0] + "/" + self.db_name
        self.url = self.dsn
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.db_name,)).fetchone()
        if not exists:
            _pg_admin(f"CREATE DATABASE {self.db_name}" + (f" TEMPLATE {template}" if template else ""))
        self.admin = None
        self.analyzed_at = 0  # postings when last analysed
        self.analyses, self.analyse_seconds = 0, 0.0
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            self.autovacuum = conn.execute("SHOW autovacuum").fetchone()[0] == "on"
            self.autovacuum_source = conn.execute(
                "SELECT coalesce(sourcefile, source) FROM pg_settings WHERE name = 'autovacuum'").fetchone()[0]

    def maintain(self) -> None:
        # With autovacuum off (as on this machine's CI server), nothing ever analyses the new
        # tables, and plans cached while they were empty (the balance trigger's among them) stay
        # in force while they grow: building slows quadratically. Stand in for autovacuum's
        # analyse rule: a table that grew by 10% (+50 rows) since it was last analysed.
        if self.autovacuum:
            return
        if self.admin is None:
            self.admin = psycopg.connect(self.dsn, autocommit=True)
        n = self.admin.execute("SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'postings'").fetchone()
        n = n[0] if n else 0
        if n - self.analyzed_at > 50 + 0.1 * self.analyzed_at:
            t = time.perf_counter()
            self.admin.execute("ANALYZE postings, transactions, account_months, receipts, accounts, people, funds")
            self.analyse_seconds += time.perf_counter() - t
            self.analyses += 1
            self.analyzed_at = n

    def maintenance_note(self) -> str | None:
        if self.autovacuum:
            return None
        return (f"autovacuum is off on this server ({self.autovacuum_source}); the bench stood in for its "
                f"analyse rule (a table grown 10% since last analysed): ANALYZE {self.analyses} times, "
                f"{self.analyse_seconds:.1f} s of the build")

    def raw(self):
        return psycopg.connect(self.dsn, autocommit=True)

    def placeholder(self) -> str:
        return "%s"

    def after_build(self) -> str | None:
        # Autovacuum would get to a freshly loaded table on its own; doing it now keeps it from
        # landing in the middle of a measurement (and gives both sides the same visibility map).
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        return "VACUUM ANALYZE after building (what autovacuum would do)"

    def size(self) -> str:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            n = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        return f"{n / 2**20:.0f} MiB on disk"

    def close(self) -> None:
        if self.admin is not None:
            self.admin.close()
        if not self.keep:
            _pg_admin(f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)")

    def forget(self) -> None:
        if self.admin is not None:
            self.admin.close()
        _pg_admin(f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)")


def make(name: str, keep: str | None = None, template: str | None = None) -> Engine:
    """A fresh database, or with `keep` (a cache key) the kept one of that key (see bench.books.kept);
    on PostgreSQL, `template` makes the fresh one a copy of that database."""
    return SQLiteEngine(keep) if name == "sqlite" else PostgresEngine(keep, template)
