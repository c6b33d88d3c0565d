"""Signing in to the pages: a name and password checked against the user's argon2 hash, and a
lock on a name after repeated failures.

The failures are rows in the database, so the lock holds across processes and restarts: after
MAX_FAILURES failed attempts for a name within WINDOW, that name is refused for WINDOW from the
last of them, whatever the password. Names that belong to nobody are counted and locked the
same way, so the answers never tell which names exist.

An attempt is counted before its password is checked: under a lock on the name, the name's
recent failures are read and, unless it is locked, a failure row is written and committed; only
then is the (slow) argon2 check made, outside the lock. A right password removes that row and
the earlier ones. So however many attempts race, at most MAX_FAILURES passwords are checked per
name and window.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import BigId, db, utcnow
from ..locks import lock_key
from ..work import commit_step, end_reads
from ..auth.passwords import password_matches
from ..auth.users import User

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


class SignInFailure(db.Model):
    """One failed sign-in for a name (as typed); a success clears the name's rows."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (sa.Index("ix_sign_in_failures_name_at", "name", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str]
    at: Mapped[datetime]


def locked_until(session, name: str, now: datetime) -> datetime | None:
    """When the name may be tried again, if it is locked now; else None."""
    recent = session.scalars(sa.select(SignInFailure.at).where(SignInFailure.name == name)
                             .order_by(SignInFailure.at.desc()).limit(MAX_FAILURES)).all()
    if len(recent) < MAX_FAILURES or recent[0] - recent[-1] >= WINDOW:
        return None
    until = recent[0] + WINDOW
    return until if now < until else None


def reserve_attempt(session, name: str, now: datetime) -> int | datetime:
    """Count an attempt for `name` before its password is checked: the id of the failure row
    written and committed for it, or, when the name is locked, the time it may be tried again
    (nothing written). Serialised per name (an advisory lock on PostgreSQL; SQLite's writers
    queue already)."""
    lock_key(session, f"sign-in:{name}")
    until = locked_until(session, name, now)
    if until is not None:
        end_reads(session)
        return until
    attempt = SignInFailure(name=name, at=now)
    session.add(attempt)
    session.flush()
    attempt_id = attempt.id
    commit_step(session)  # the attempt counts before the password is checked, whatever happens next
    return attempt_id


def sign_in(session, name: str, password: str, attempt_id: int):
    """The user's row (id, name, role, session_epoch) if the name and password are theirs and they
    may sign in (active, with a password); else None, the attempt's failure row (from
    `reserve_attempt`) left to count. Nothing is held while argon2 runs; the caller commits."""
    row = session.execute(sa.select(User.id, User.name, User.role, User.session_epoch, User.active,
                                    User.password_hash).where(User.name == name)).first()
    commit_step(session)  # nothing is held while argon2 runs
    # Always one argon2 check, also for a name without a user, so no answer comes back quicker.
    matches = password_matches(row.password_hash if row is not None else None, password)
    if row is None or not matches or not row.active:
        return None
    session.execute(sa.delete(SignInFailure).where(SignInFailure.name == name, SignInFailure.id <= attempt_id))
    return row
