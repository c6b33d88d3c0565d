"""Signing in to the pages: a name and password checked against the user's argon2 hash, and a
lock on a name after repeated failures.

The failures are rows in the database, so the lock holds across processes and restarts: after
MAX_FAILURES failed attempts for a name within WINDOW, that name is refused for WINDOW from the
last of them, whatever the password. Names that belong to nobody are counted and locked the
same way, so the answers never tell which names exist. Two attempts racing may both be checked
before either failure is written; the lock then comes one attempt later, which is harmless.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import BigId, db, utcnow
from ..users import User, password_matches

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


def sign_in(session, name: str, password: str, now: datetime | None = None) -> User | None:
    """The user whose name and password these are, if they may sign in (active, with a password);
    else None, with the failure recorded. The caller checks `locked_until` first and commits."""
    now = now or utcnow()
    user = session.scalar(sa.select(User).where(User.name == name))
    # Always one argon2 check, also for a name without a user, so no answer comes back quicker.
    matches = password_matches(user.password_hash if user is not None else None, password)
    if user is None or not matches or not user.active:
        session.add(SignInFailure(name=name, at=now))
        return None
    session.execute(sa.delete(SignInFailure).where(SignInFailure.name == name))
    return user
