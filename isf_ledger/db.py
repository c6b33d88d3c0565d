"""The database: one declarative base, exact types, and engine settings for SQLite and PostgreSQL."""
from __future__ import annotations

import sqlite3
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated

import sqlalchemy as sa
from flask import has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, mapped_column, registry, scoped_session

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class DecimalText(sa.TypeDecorator):
    """An exact decimal kept as text: SQLite's NUMERIC would round it through a float."""

    impl = sa.String(40)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else str(Decimal(value))

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


class UTCDateTime(sa.TypeDecorator):
    """A moment in UTC; SQLite forgets zones, so they are put back on the way out."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: give it a zone")
        return None if value is None else value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


# Money is integer pence; ids of the busiest tables are 64-bit (an INTEGER alias on SQLite).
Pence = Annotated[int, mapped_column(sa.BigInteger)]
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={str: sa.String(200), Decimal: DecimalText(), datetime: UTCDateTime(), date: sa.Date()},
    )


db = SQLAlchemy(model_class=Base)


def among(session, column, ids):
    """`column IN ids`; on PostgreSQL `column = ANY(:ids)`, one array parameter: a list of hundreds
    of ids is otherwise hundreds of parameters that SQLAlchemy renders and psycopg parses on every
    execution (0.3 ms of CPU a query for 100). Measure before using it: month end's movements read
    through available_accounts ran 20-30% slower with it, so they keep IN."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY
        return column == sa.any_(sa.bindparam(None, list(ids), type_=ARRAY(column.type)))
    return column.in_(ids)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_conn, _record):
    if not isinstance(dbapi_conn, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" hook below decide how each transaction starts.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA recursive_triggers=ON")  # so REPLACE's hidden deletes meet the DELETE triggers
    cur.execute("PRAGMA journal_mode=WAL")
    # The busy timeout is not set here: sqlite3.connect's `timeout` (create_app passes the app's
    # SQLITE_BUSY_TIMEOUT_MS) sets the same handler, and this listener cannot see the app's settings.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name != "sqlite":
        return
    # A writer takes SQLite's write lock up front, so two writers queue instead of one failing
    # half-way with "database is locked"; reads (GET requests, and connections opened with the
    # `isf_read_only` execution option, as the audit's) start an ordinary transaction, unless the
    # read writes derived rows (`isf_write`: today's dashboard working out its stale kept figures).
    options = conn.get_execution_options()
    reading = not options.get("isf_write", False) and (
        options.get("isf_read_only", False) or (has_request_context() and request.method in ("GET", "HEAD", "OPTIONS")))
    conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// both mean psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url

def begin_read_only(session) -> None:
    """Start the session's transaction as a read-only snapshot, unless one is already open.

    PostgreSQL: REPEATABLE READ, READ ONLY (one consistent view, no write locks). SQLite: a
    plain deferred BEGIN (`db._sqlite_begin` honours `isf_read_only`), not BEGIN IMMEDIATE,
    which would take the write lock for as long as the audit reads."""
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction():
        return
    options = {"isf_read_only": True}
    if session.get_bind().dialect.name == "postgresql":
        options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    session.connection(execution_options=options)


def month_label(session, column):
    """A date column as its month, 'YYYY-MM', in SQL (PostgreSQL or SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(column, "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)
