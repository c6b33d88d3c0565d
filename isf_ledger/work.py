"""One unit of work for every entry point: the operations' transaction, committed once.

Operations (accounts, ledger, reports, workflows, shared support, exports) never commit or roll
back; a savepoint (`session.begin_nested()`) is theirs to use. Their callers run them inside
`unit_of_work()`: it commits once when the work returns and rolls back when it raises, and a
commit or rollback inside it is an error (it would end the transaction early: for a keyed write,
release the Idempotency-Key's lock before the answer is stored). The callers:

- API views: `idempotency.write` (the key's lock held until the answer is stored with it); a
  refusal becomes the JSON error (errors.py);
- page forms: `pages.forms.PageForm.write`, on the same keys; a refusal is shown beside its field;
- CLI commands and the scheduler's jobs: `command()` / `unit_of_work()`; a refusal is a line and
  exit code 1.

A long job that keeps its work in steps commits each through `commit_step`, the one commit
outside this module (tests/test_unit_of_work.py lists who may call it, and each says why):
sending statements claims a row, committed, before the message leaves (at most once).
`end_reads` ends a transaction that only read (a CLI command's reads, before a file is written).
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

from .db import db
from .errors import LedgerError

_ACTIVE, _ENDED, _STEP = "isf_unit_of_work", "isf_unit_of_work_ended", "isf_unit_of_work_step"


@sa.event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session, transaction) -> None:
    """A commit or rollback (not a savepoint's, nor a commit_step) while a unit of work runs is marked."""
    if transaction.parent is None and session.info.get(_ACTIVE) and not session.info.get(_STEP):
        session.info[_ENDED] = True


@contextmanager
def unit_of_work(session=None) -> Iterator:
    """Run the block as one transaction: commit once when it ends, roll back when it raises.
    Inside another unit of work it joins that one (the outer one commits)."""
    session = session if session is not None else db.session
    info = session.info
    if info.get(_ACTIVE):
        yield session
        return
    info[_ACTIVE], info[_ENDED] = True, False
    try:
        yield session
        if info.get(_ENDED):
            raise RuntimeError("an operation committed or rolled back inside its unit of work: only the "
                               "unit of work commits (a long job's steps: commit_step)")
        info.pop(_ACTIVE, None)
        session.commit()
    except BaseException:
        info.pop(_ACTIVE, None)
        session.rollback()
        raise
    finally:
        info.pop(_ACTIVE, None)
        info.pop(_ENDED, None)


def commit_step(session) -> None:
    """Keep what a long job has done so far (its callers say why); allowed inside a unit of work."""
    session.info[_STEP] = True
    try:
        session.commit()
    finally:
        session.info.pop(_STEP, None)


def end_reads(session=None) -> None:
    """End a transaction that only read (or whose refusal is already told), keeping nothing."""
    (session if session is not None else db.session).rollback()


@contextmanager
def command(refused: Callable[[LedgerError], None] | None = None) -> Iterator:
    """A CLI command's unit of work: committed once; a refusal is rolled back, told by
    `refused(e)` (default: its message on stderr) and the command exits 1."""
    try:
        with unit_of_work() as session:
            yield session
    except LedgerError as e:
        if refused is not None:
            refused(e)
        else:
            click.echo(e.message, err=True)
        sys.exit(1)
