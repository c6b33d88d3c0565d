"""Named locks for writes that have no row to lock yet (a key not yet stored, a service's first rate)."""
from __future__ import annotations

import sqlalchemy as sa


def lock_key(session, name: str) -> None:
    """Hold a lock on `name` until the session's transaction ends; other writers of the same name wait.

    PostgreSQL: a transaction-scoped advisory lock on a 64-bit hash of the name (a collision only
    makes two names wait for each other). SQLite: nothing to do, BEGIN IMMEDIATE already
    serialises every writer.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})
