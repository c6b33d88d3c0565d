"""The app's behaviour around the edges: the clock, a database that is missing, unmigrated, busy or
unreachable, and start-up settings. Errors keep the contract's shape and never show a traceback."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta

import pytest

from isf_ledger import clock, create_app
from isf_ledger.db import db

UNREACHABLE = "postgresql://postgres:s3cret-pw@127.0.0.1:1/x"


def test_reconciliation_without_as_of_means_today(api, monkeypatch):
    pid = api.person()
    api.plan(pid)
    api.receipt(pid, amount="100.00", date=str(clock.today()), fee_exempt=True)
    real_today, later = clock.today, clock.today() + timedelta(days=40)
    monkeypatch.setattr(clock, "today", lambda: later)  # money is never dated after the day it is entered
    api.receipt(pid, amount="1000.00", date=str(later), fee_exempt=True)
    monkeypatch.setattr(clock, "today", real_today)
    rec = api.get("/api/v1/reconciliation")
    assert rec["as_of"] == str(clock.today())
    assert rec["funds_total"] == "100.00" and rec["reconciles"]
    assert api.get(f"/api/v1/reconciliation?as_of={clock.today() + timedelta(days=40)}")["funds_total"] == "1100.00"


def _close(app):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def empty_sqlite(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    yield app
    _close(app)


@pytest.mark.parametrize("args", [["users", "create", "--name", "a", "--role", "finance"], ["audit"],
                                  ["users", "list"]])
def test_cli_on_an_unmigrated_database_says_to_upgrade(empty_sqlite, args):
    result = empty_sqlite.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert "isf-ledger db upgrade" in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_api_on_an_unmigrated_database_is_503(empty_sqlite):
    r = empty_sqlite.test_client().get("/api/v1/people", headers={"Authorization": "Bearer x"})
    assert r.status_code == 503
    err = r.get_json()["error"]
    assert err["code"] == "database_not_migrated" and "isf-ledger db upgrade" in err["message"]


def test_cli_works_once_upgraded(empty_sqlite):
    runner = empty_sqlite.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["users", "create", "--name", "a", "--role", "finance"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def unreachable():
    app = create_app({"TESTING": True, "DATABASE_URL": UNREACHABLE})
    yield app
    _close(app)


def test_cli_on_an_unreachable_database_names_it_without_the_password(unreachable):
    result = unreachable.test_cli_runner().invoke(args=["users", "list"])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert "127.0.0.1:1/x" in result.output and "s3cret-pw" not in result.output
    assert "Traceback" not in result.output


def test_db_upgrade_on_an_unreachable_database_names_it(unreachable):
    result = unreachable.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert "127.0.0.1:1/x" in result.output and "s3cret-pw" not in result.output


def test_the_command_itself_on_an_unreachable_database(tmp_path):
    env = {**os.environ, "ISF_DATABASE_URL": UNREACHABLE, "ISF_SECRET_KEY": "k" * 32}
    out = subprocess.run([sys.executable, "-c", "from isf_ledger.cli import main; main()", "audit"],
                         env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode != 0
    assert "127.0.0.1:1/x" in out.stderr and "s3cret-pw" not in out.stderr + out.stdout
    assert "Traceback" not in out.stderr


def test_api_on_an_unreachable_database_is_503(unreachable):
    r = unreachable.test_client().get("/api/v1/people", headers={"Authorization": "Bearer x"})
    assert r.status_code == 503
    err = r.get_json()["error"]
    assert err["code"] == "database_unavailable" and "s3cret-pw" not in r.get_data(as_text=True)
    assert r.headers["Retry-After"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_busy_beyond_the_timeout_is_503_with_retry_after(db_url):
    from conftest import Api

    def postings():
        with app.app_context():
            return db.session.scalar(db.text("SELECT COUNT(*) FROM postings"))

    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "SQLITE_BUSY_TIMEOUT_MS": 100})
    try:
        api = Api(app)
        pid = api.person()
        before = postings()
        holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            r = api.call("POST", f"/api/v1/people/{pid}/receipts",
                         {"date": "2026-10-01", "amount": "20.00", "source": "council"})
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert r.status_code == 503, r.get_json()
        assert r.get_json()["error"]["code"] == "database_busy" and int(r.headers["Retry-After"]) > 0
        assert postings() == before
        api.receipt(pid)  # and it works again once the lock is gone
    finally:
        _close(app)


def test_the_busy_timeout_defaults_to_thirty_seconds(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    try:
        with app.app_context():
            assert db.session.execute(db.text("PRAGMA busy_timeout")).scalar() == 30000
    finally:
        _close(app)


@pytest.fixture
def no_secret(monkeypatch):
    for var in ("ISF_SECRET_KEY", "ISF_ENV", "FLASK_DEBUG"):
        monkeypatch.delenv(var, raising=False)


def test_no_secret_key_outside_development_is_refused_at_start_up(no_secret, tmp_path):
    with pytest.raises(Exception, match="ISF_SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


GIVEN, FROM_ENV = "given-" + "g" * 26, "from-env-" + "e" * 23  # 32 bytes each


@pytest.mark.parametrize("config, env", [
    ({"TESTING": True}, {}), ({"DEBUG": True}, {}), ({}, {"ISF_ENV": "development"}),
    ({"SECRET_KEY": GIVEN}, {}), ({}, {"ISF_SECRET_KEY": FROM_ENV}),
    ({"SECRET_KEY": "short", "TESTING": True}, {}), ({}, {"ISF_SECRET_KEY": "short", "ISF_ENV": "development"}),
])
def test_a_secret_key_or_development_lets_the_app_start(no_secret, monkeypatch, tmp_path, config, env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", **config})
    assert app.config["SECRET_KEY"]
    if "SECRET_KEY" in config:
        assert app.config["SECRET_KEY"] == config["SECRET_KEY"]
    if "ISF_SECRET_KEY" in env:
        assert app.config["SECRET_KEY"] == env["ISF_SECRET_KEY"]


@pytest.mark.parametrize("key", ["k" * 31, "from-env", "ł" * 15])  # 31, 8 and 30 bytes
def test_a_secret_key_shorter_than_32_bytes_is_refused_outside_development(no_secret, monkeypatch, tmp_path, key):
    monkeypatch.setenv("ISF_SECRET_KEY", key)
    with pytest.raises(Exception, match=f"ISF_SECRET_KEY is {len(key.encode())} bytes long; it must be at least 32"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    with pytest.raises(Exception, match="at least 32 bytes"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": key})
    assert create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "ł" * 16}).secret_key


def test_the_command_without_a_secret_key_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ISF_SECRET_KEY", "ISF_ENV", "FLASK_DEBUG")}
    env["ISF_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    out = subprocess.run([sys.executable, "-c", "from isf_ledger.cli import main; main()", "users", "list"],
                         env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode != 0 and "ISF_SECRET_KEY" in out.stderr and "Traceback" not in out.stderr
