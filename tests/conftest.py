"""Every test runs on a freshly migrated database, once on SQLite and once on PostgreSQL.

PostgreSQL is used when it answers at 127.0.0.1:5432 (or at ISF_TEST_POSTGRES_URL); where none
runs, the PostgreSQL runs are skipped and the header of the test run says so.
"""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import uuid

import psycopg
import pytest
import sqlalchemy as sa

from isf_ledger import create_app
from isf_ledger.db import db

PG_BASE = os.environ.get("ISF_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
_counter = itertools.count(1)


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_BASE, connect_timeout=3):
            return None
    except Exception as e:  # noqa: BLE001 - any failure means "not here"
        return f"{type(e).__name__}: {str(e).strip()[:120]}"


PG_PROBLEM = _pg_reachable()
BACKENDS = ["sqlite", "postgresql"]


def pytest_report_header(config):
    from browser import CHROMIUM, CHROMIUM_PROBLEM
    pages = f"browser tests: Chromium at {CHROMIUM}" if CHROMIUM else f"browser tests: SKIPPED - {CHROMIUM_PROBLEM}"
    if PG_PROBLEM is None:
        return [f"databases: SQLite and PostgreSQL ({PG_BASE.rsplit('@', 1)[-1]})", pages]
    return [f"databases: SQLite ONLY - PostgreSQL not reachable at {PG_BASE.rsplit('@', 1)[-1]} ({PG_PROBLEM})", pages]


def _pg_url(name: str) -> str:
    return PG_BASE.rsplit("/", 1)[0] + "/" + name


def _admin(sql: str) -> None:
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(sql)


def _upgrade(url: str) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.engine.dispose()


# Emptying a used PostgreSQL database is much faster than dropping it (a drop waits for a
# checkpoint). The ledger's triggers refuse DELETE, so the reset runs in replica mode (no triggers), which
# only a superuser may do: test databases only, never the product's.
PG_RESET = """
SET session_replication_role = replica;
DO $$ DECLARE t record; BEGIN
  FOR t IN SELECT tablename FROM pg_tables
            WHERE schemaname = 'public' AND tablename NOT IN ('alembic_version', 'accounts') LOOP
    EXECUTE format('DELETE FROM %I', t.tablename);
  END LOOP;
  DELETE FROM accounts WHERE person_id IS NOT NULL OR code NOT LIKE 'provider:%';
  FOR t IN SELECT c.relname AS tbl, a.attname AS col, pg_get_serial_sequence(c.relname, a.attname) AS seq
             FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
              AND a.attnum > 0 AND NOT a.attisdropped  -- a column dropped by a downgrade keeps a placeholder
              AND pg_get_serial_sequence(c.relname, a.attname) IS NOT NULL LOOP
    EXECUTE format('SELECT setval(%L, COALESCE((SELECT MAX(%I) FROM %I), 0) + 1, false)', t.seq, t.col, t.tbl);
  END LOOP;
END $$;
SET session_replication_role = DEFAULT;
"""


class Databases:
    """Hands out fresh, migrated databases: copies of one template per engine, made once.

    PostgreSQL databases are emptied and handed out again rather than dropped."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="isf-test-")
        self.templates: dict[str, str] = {}
        self.made: list[str] = []
        self.free: list[str] = []
        self.run = uuid.uuid4().hex[:8]

    def template(self, backend: str) -> str:
        if backend not in self.templates:
            if backend == "sqlite":
                path = os.path.join(self.tmp, "template.db")
                _upgrade(f"sqlite:///{path}")
                self.templates[backend] = path
            else:
                name = f"isf_tpl_{self.run}"
                _admin(f"CREATE DATABASE {name}")
                _upgrade(_pg_url(name))
                self.templates[backend] = name
        return self.templates[backend]

    def fresh(self, backend: str) -> str:
        if backend == "postgresql" and PG_PROBLEM is not None:
            pytest.skip(f"PostgreSQL not reachable: {PG_PROBLEM}")
        template = self.template(backend)
        n = next(_counter)
        if backend == "sqlite":
            path = os.path.join(self.tmp, f"t{n}.db")
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"
        if self.free:
            name = self.free.pop()
            with psycopg.connect(_pg_url(name), autocommit=True) as conn:
                conn.execute(PG_RESET)
            return _pg_url(name)
        name = f"isf_t_{self.run}_{n}"
        _admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        self.made.append(name)
        return _pg_url(name)

    def drop(self, url: str) -> None:
        if url.startswith("postgresql"):
            name = url.rsplit("/", 1)[-1]
            _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
            self.free.append(name)
        else:
            path = url.removeprefix("sqlite:///")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)

    def close(self) -> None:
        for name in self.made:
            _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if "postgresql" in self.templates:
            _admin(f"DROP DATABASE IF EXISTS {self.templates['postgresql']} WITH (FORCE)")
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def databases():
    dbs = Databases()
    yield dbs
    dbs.close()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def db_url(databases, backend):
    url = databases.fresh(backend)
    yield url
    databases.drop(url)


@pytest.fixture
def app(db_url):
    app = create_app({"TESTING": True, "DATABASE_URL": db_url})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Api:
    """Drives the app as a client does: tokens from `users create`, JSON in and out."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.runner = app.test_cli_runner()
        self.tokens: dict[str, str] = {}
        self.keys = itertools.count(1)
        self.token = self.user("finance")

    def user(self, role: str, *extra: str, name: str | None = None) -> str:
        name = name or f"{role}-{len(self.tokens) + 1}"
        result = self.runner.invoke(args=["users", "create", "--name", name, "--role", role, *extra])
        assert result.exit_code == 0, result.output
        token = result.output.split()[-1]
        self.tokens[name] = token
        return token

    def call(self, method, path, body=None, *, token=None, key=None, headers=None):
        h = {"Authorization": f"Bearer {token or self.token}", **(headers or {})}
        if method == "POST":
            h["Idempotency-Key"] = key or f"test-{next(self.keys)}"
        return self.client.open(path, method=method, json=body, headers=h)

    def post(self, path, body, *, expect=201, **kw):
        r = self.call("POST", path, body, **kw)
        assert r.status_code == expect, (r.status_code, r.get_json())
        return r.get_json()

    def get(self, path, *, expect=200, **kw):
        r = self.call("GET", path, **kw)
        assert r.status_code == expect, (r.status_code, r.get_json())
        return r.get_json()

    # Scenario helpers, in the domain's words.
    def person(self, name="Ana", council="Northshire", ref=None, opened_on: str | None = "2025-01-01"):
        """A person; their fund opened on `opened_on` (None: today, as the API opens it), so that
        tests of ledger mechanics may date items in 2026 without recording a plan first."""
        pid = self.post("/api/v1/people", {"name": name, "council": council,
                                           "council_reference": ref or f"REF-{name}-{next(self.keys)}"})["id"]
        if opened_on is not None:
            with self.app.app_context():
                db.session.execute(sa.text("UPDATE funds SET opened_on = :d WHERE person_id = :p"),
                                   {"d": opened_on, "p": pid})
                db.session.commit()
        return pid

    def plan(self, pid, **fields):
        body = {"effective_from": "2026-04-01", "annual_budget": "26000.00", "management_fee_rate": "0.10",
                "payment_cycle": "four_weekly", "planned_weekly_hours": {"day_support": "7.00"}}
        body.update(fields)
        return self.post(f"/api/v1/people/{pid}/plans", body)

    def receipt(self, pid, amount="2000.00", date="2026-10-01", source="council", **fields):
        return self.post(f"/api/v1/people/{pid}/receipts",
                         {"date": date, "amount": amount, "source": source, **fields})

    def balance(self, pid, as_of="2026-12-31"):
        return self.get(f"/api/v1/people/{pid}/balance?as_of={as_of}")


@pytest.fixture
def api(app):
    return Api(app)
