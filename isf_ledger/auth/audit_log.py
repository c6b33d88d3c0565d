"""The append-only audit log of what callers did.

The audit log: every write (any method but GET/HEAD/OPTIONS), and every read by an auditor or
a person, is one row: who, their role, method, path, status, when, and the request id (taken
from a sane incoming X-Request-Id, else made here, and echoed in the response's X-Request-Id).
It is written after the response is built, in its own short transaction, so refused attempts
(401, 403, 409, 422) are recorded too, and a write that rolled back still leaves its trace.
The cost: a crash between the write's commit and the log's loses the log row (never the write).
The database refuses UPDATE and DELETE on the table (migration 0011), as on the postings.

Requests without a valid token (anyone on the internet can send them) are logged in a bounded
way, so they cannot fill the log: each is counted in its window's one row of
`audit_anonymous_windows` (AUDIT_ANONYMOUS_WINDOW_SECONDS, default 10 minutes), and only the
first AUDIT_ANONYMOUS_ROWS_PER_WINDOW of a window (default 100) get a row of their own, with the
path cut to ANONYMOUS_PATH characters. A count only grows and is never removed (migration
0017_auth); admins read the counts with the log.
"""
from __future__ import annotations

import io
import re
import sys
import uuid
from datetime import datetime, timezone

import click
import sqlalchemy as sa
from flask import Flask, Response, g, request
from sqlalchemy.orm import Mapped, mapped_column

from .. import sheets
from ..db import BigId, db, utcnow
from ..work import end_reads, unit_of_work
from .users import RESTRICTED


class AuditEntry(db.Model):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    request_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # None: no valid token
    user_name: Mapped[str | None] = mapped_column(sa.String(200))
    role: Mapped[str | None] = mapped_column(sa.String(20))
    method: Mapped[str] = mapped_column(sa.String(10))
    path: Mapped[str] = mapped_column(sa.String(2000))
    status: Mapped[int]


class AnonymousWindow(db.Model):
    """How many requests without a valid token came in a window (see the module's docstring)."""

    __tablename__ = "audit_anonymous_windows"
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    requests: Mapped[int]


ANONYMOUS_PATH = 200  # characters of an anonymous request's path that are kept
ANONYMOUS_DEFAULTS = {"AUDIT_ANONYMOUS_WINDOW_SECONDS": 600, "AUDIT_ANONYMOUS_ROWS_PER_WINDOW": 100}
AUDIT_COLUMNS = ("id", "at", "request_id", "user_id", "user_name", "role", "method", "path", "status")
READS = ("GET", "HEAD", "OPTIONS")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _audited(user) -> bool:
    if request.method not in READS:
        return True
    return user is not None and user.role in RESTRICTED


def init_app(app: Flask) -> None:
    @app.before_request
    def _request_id():
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

    @app.after_request
    def _audit(resp: Response):
        resp.headers["X-Request-Id"] = g.get("request_id", "")
        user = g.get("user")
        if not _audited(user):  # pages too: a person reading their fund on the web is logged
            return resp
        # Its own unit of work: whatever the view left uncommitted was refused and goes.
        try:
            end_reads()
            with unit_of_work():
                _record(user, resp.status_code)
        except sa.exc.DBAPIError as e:  # the database is down or busy: the response stands
            end_reads()
            app.logger.error("audit log not written for %s %s: %s", request.method, request.path, e.orig)
        return resp

    def _record(user, status: int) -> None:
        now, path = utcnow(), request.full_path.rstrip("?")
        if user is None:
            if _count_anonymous(now) > _setting(app, "AUDIT_ANONYMOUS_ROWS_PER_WINDOW"):
                return  # counted in the window's row only
            path = path[:ANONYMOUS_PATH]
        db.session.execute(sa.insert(AuditEntry).values(
            at=now, request_id=g.get("request_id") or uuid.uuid4().hex,
            user_id=user.id if user is not None else None, user_name=user.name if user is not None else None,
            role=user.role if user is not None else None, method=request.method,
            path=path[:2000], status=status))

    def _count_anonymous(now: datetime) -> int:
        """Count one more anonymous request in its window's row; how many the window has now."""
        seconds = _setting(app, "AUDIT_ANONYMOUS_WINDOW_SECONDS")
        start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, timezone.utc)
        if db.session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        upsert = insert(AnonymousWindow).values(window_start=start, requests=1)
        upsert = upsert.on_conflict_do_update(index_elements=["window_start"],
                                              set_={"requests": AnonymousWindow.requests + 1})
        return db.session.execute(upsert.returning(AnonymousWindow.requests)).scalar_one()

    @app.cli.group("audit-log")
    def audit_cli():
        """The append-only log of writes and of reads by people and auditors."""

    @audit_cli.command("export")
    @click.option("--output", type=click.Path(dir_okay=False, writable=True), help="A CSV file (default: stdout).")
    def export_cmd(output):
        """Write the whole audit log as CSV, oldest first."""
        text = export_csv(db.session)
        end_reads()
        if output:
            with open(output, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            click.echo(f"Wrote the audit log to {output}.")
        else:
            sys.stdout.write(text)


def _setting(app: Flask, name: str) -> int:
    return int(app.config.get(name, ANONYMOUS_DEFAULTS[name]))


def anonymous_windows(session, limit: int = 100) -> list[dict]:
    """The latest windows' counts of requests without a valid token, newest first."""
    from flask import current_app
    per_window = _setting(current_app, "AUDIT_ANONYMOUS_ROWS_PER_WINDOW")
    q = sa.select(AnonymousWindow.window_start, AnonymousWindow.requests).order_by(
        AnonymousWindow.window_start.desc()).limit(limit)
    return [{"window_start": start.isoformat(), "requests": n, "logged": min(n, per_window)}
            for start, n in session.execute(q)]


def rows(session, *, limit: int | None = None, offset: int = 0):
    q = sa.select(*(getattr(AuditEntry, c) for c in AUDIT_COLUMNS)).order_by(AuditEntry.id)
    if limit is not None:
        q = q.limit(limit).offset(offset)
    return session.execute(q)


def cell(value):
    return value.isoformat() if isinstance(value, datetime) else value


def export_csv(session) -> str:
    out = io.StringIO()
    w = sheets.Writer(out, lineterminator="\n")
    w.writerow(AUDIT_COLUMNS)
    for row in rows(session):
        w.writerow([cell(v) for v in row])
    return out.getvalue()
