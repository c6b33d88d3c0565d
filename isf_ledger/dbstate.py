"""Whether the database can serve: reachable, migrated to this code's schema, not busy.

The API maps a failure to a 503 JSON error (errors.py); the CLI checks before each command and
prints one line (cli.py). Neither shows a traceback or a password.
"""
from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

UPGRADE = "the database is not set up for this version of isf-ledger: run `isf-ledger db upgrade`"
BUSY = "the database is busy; try again shortly"
UNAVAILABLE = "the database cannot be reached; try again shortly"
# PostgreSQL: lock_not_available, serialization_failure, deadlock_detected: a retry may well succeed.
RETRYABLE_SQLSTATES = {"55P03", "40001", "40P01"}
MISSING_SQLSTATES = {"42P01", "42703"}  # undefined_table, undefined_column


def kind(e: sa.exc.DBAPIError) -> str | None:
    """'not_migrated', 'busy' or 'unavailable' for an error that says the database cannot serve
    this code now; None for anything else (a bug, to be reported as one)."""
    orig = getattr(e, "orig", None)
    state = getattr(orig, "sqlstate", None)
    text = str(orig)
    if state in MISSING_SQLSTATES or (isinstance(orig, sqlite3.OperationalError)
                                      and text.startswith(("no such table", "no such column"))):
        return "not_migrated"
    if state in RETRYABLE_SQLSTATES or (isinstance(orig, sqlite3.OperationalError) and "is locked" in text):
        return "busy"
    if isinstance(e, sa.exc.OperationalError):
        return "unavailable"
    return None


def public_url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def unreachable(engine: sa.Engine, e: sa.exc.DBAPIError) -> str:
    """One line naming the database (password hidden) and the driver's reason."""
    reason = (str(getattr(e, "orig", e)).strip().splitlines() or ["unknown error"])[0]
    if engine.url.password:
        reason = reason.replace(str(engine.url.password), "***")
    return f"cannot use the database at {public_url(engine)}: {reason}"


def migration_problem(app: Flask, engine: sa.Engine) -> str | None:
    """None when the database is at this code's migration head(s), else what to do about it.
    Connecting may raise sqlalchemy's OperationalError (the database cannot be reached)."""
    script = ScriptDirectory(app.extensions["migrate"].directory)
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current == set(script.get_heads()):
        return None
    unknown = []
    for rev in current:
        try:
            script.get_revision(rev)
        except Exception:  # noqa: BLE001 - alembic raises several kinds for a revision it lacks
            unknown.append(rev)
    if unknown:
        return (f"the database is at revision {', '.join(sorted(unknown))}, which this version of "
                "isf-ledger does not know: run the version that migrated it")
    return UPGRADE
