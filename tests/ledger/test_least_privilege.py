"""README "Running on PostgreSQL", followed literally: the app runs as a role that owns no tables,
the migrations as the owner, and the app's own connection cannot switch the ledger's guards off.

Roles are cluster-wide, so each run names its own (a random suffix) and drops them at the end."""
from __future__ import annotations

import secrets
from types import SimpleNamespace

import psycopg
import pytest
from psycopg import errors
from sqlalchemy.engine import make_url

from conftest import PG_BASE, PG_PROBLEM, _admin
from test_audit import credit, plant
from isf_ledger import clock, create_app
from isf_ledger.db import db

pytestmark = [pytest.mark.postgresql_only,
              pytest.mark.skipif(PG_PROBLEM is not None, reason=f"PostgreSQL not reachable: {PG_PROBLEM}")]


def _url(role: str, password: str, database: str) -> str:
    return make_url(PG_BASE).set(username=role, password=password, database=database).render_as_string(
        hide_password=False)


def _as(url: str):
    return psycopg.connect(url, autocommit=True, connect_timeout=5)


@pytest.fixture
def recipe(request):
    """The README's recipe, as a superuser once, then as the owner; the app's URL is handed out."""
    run = secrets.token_hex(4)
    owner, app_role, name = f"isf_owner_{run}", f"isf_app_{run}", f"isf_lp_{run}"
    password = secrets.token_hex(16)  # "give both roles passwords": works with trust and password auth alike

    def cleanup():
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # its objects and default privileges with it
        for role in (app_role, owner):
            with psycopg.connect(PG_BASE, autocommit=True) as conn:
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    conn.execute(f"DROP OWNED BY {role}")  # anything left in the admin database
                    conn.execute(f"DROP ROLE {role}")

    request.addfinalizer(cleanup)
    _admin(f"CREATE ROLE {owner} LOGIN PASSWORD '{password}'")
    _admin(f"CREATE ROLE {app_role} LOGIN NOSUPERUSER PASSWORD '{password}'")
    _admin(f"CREATE DATABASE {name} OWNER {owner}")
    owner_url, app_url = _url(owner, password, name), _url(app_role, password, name)
    with _as(owner_url) as conn:
        assert conn.info.server_version >= 150000, "the README's recipe is for PostgreSQL 15 or later"
        conn.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE "
                     f"ON TABLES TO {app_role}")
        conn.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app_role}")
    migrator = create_app({"TESTING": True, "DATABASE_URL": owner_url})
    result = migrator.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with migrator.app_context():
        db.engine.dispose()
    return {"owner": owner, "app_role": app_role, "app_url": app_url}


def test_the_app_works_as_a_role_that_cannot_switch_the_guards_off(recipe):
    app_url = recipe["app_url"]
    app = create_app({"TESTING": True, "DATABASE_URL": app_url})
    try:
        runner = app.test_cli_runner()
        demo = runner.invoke(args=["demo", "--people", "3", "--months", "2", "--seed", "1"])
        assert demo.exit_code == 0, demo.output
        assert "demo: 3 people," in demo.output
        month = f"{clock.add_months(clock.month_start(clock.today()), -1):%Y-%m}"  # the last month ended
        issued = runner.invoke(args=["statements", "issue", "--through", month])
        assert issued.exit_code == 0, issued.output
        assert "statement(s) issued now" in issued.output, issued.output
        audit = runner.invoke(args=["audit"])
        assert audit.exit_code == 0, audit.output
        assert "the books hold" in audit.output
        # Money planted through plain INSERTs, with every guard on, as the app's role could: found.
        with _as(app_url) as conn:
            pid = conn.execute("SELECT MIN(id) FROM people").fetchone()[0]
        txn = plant(SimpleNamespace(app=app), "postgresql", pid, "gift", credit(500_000, "client_money"),
                    day=clock.today().isoformat())
        audit = runner.invoke(args=["audit"])
        assert audit.exit_code == 1, audit.output
        assert f"transaction {txn} is a gift (a kind the engine does not know)" in audit.output, audit.output
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

    with _as(app_url) as conn:
        # The app's role is what the README says it is: no superuser, owns nothing.
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (False,)
        assert conn.execute("SELECT COUNT(*) FROM pg_class WHERE relowner = "
                            "(SELECT oid FROM pg_roles WHERE rolname = current_user)").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM postings").fetchone()[0] > 0
        assert conn.execute("SELECT COUNT(*) FROM statements").fetchone()[0] > 0
        for sql in ("SET session_replication_role = replica",
                    "ALTER TABLE postings DISABLE TRIGGER ALL",
                    "ALTER TABLE postings DISABLE TRIGGER postings_immutable",
                    "TRUNCATE postings",
                    "CREATE TABLE x (i int)"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(sql)
        assert conn.execute("SHOW session_replication_role").fetchone() == ("origin",)
        # With the guards on, history cannot be changed or removed.
        for sql in ("UPDATE postings SET amount_pence = amount_pence",
                    "DELETE FROM transactions",
                    "DELETE FROM postings"):
            with pytest.raises(errors.RestrictViolation, match="immutable"):
                conn.execute(sql)

        # Nor can a temporary table stand in for one the guards read (pg_temp is searched first
        # unless a function's search_path puts it last): two balanced legs in a temporary
        # `postings`, one unbalanced leg in the real one, and the balance check must see the real one.
        pid, account = conn.execute("SELECT person_id, id FROM accounts WHERE person_id IS NOT NULL "
                                    "ORDER BY id LIMIT 1").fetchone()
        conn.execute("CREATE TEMP TABLE postings (id int, transaction_id int, account_id int, amount_pence bigint)")
        with pytest.raises(errors.CheckViolation, match="unbalanced"), conn.transaction():
            txn, = conn.execute("INSERT INTO transaction_ids (id) SELECT nextval(pg_get_serial_sequence("
                                "'public.transactions', 'id')) RETURNING id").fetchone()
            conn.execute("INSERT INTO pg_temp.postings VALUES (1, %s, %s, 100), (2, %s, %s, -100)",
                         (txn, account, txn, account))
            conn.execute("INSERT INTO public.postings (transaction_id, account_id, date, amount_pence) "
                         "VALUES (%s, %s, '2026-11-05', 99999)", (txn, account))
            conn.execute("INSERT INTO public.transactions (id, kind, date, service_date, person_id, description, "
                         "created_at) VALUES (%s, 'receipt', '2026-11-05', '2026-11-05', %s, 'planted', now())",
                         (txn, pid))
        # Every function of the schema has its search_path pinned (one made or replaced by a later
        # migration without `SET search_path` would open the same door).
        unpinned = conn.execute(
            "SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace "
            "AND NOT COALESCE(p.proconfig @> ARRAY['search_path=public, pg_temp'], false)").fetchall()
        assert unpinned == []

        # What the app's role cannot do, quietly: ANALYZE (the demo's statistics refresh) is skipped
        # with a warning, as PostgreSQL 15 lets only the owner analyse (README says so).
        notices = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        conn.execute("ANALYZE public.postings")  # not the temporary one
        assert notices == ['skipping "postings" --- only table or database owner can analyze it']
