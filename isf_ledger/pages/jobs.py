"""Long writes started from a page (an import, a month end): run in the background, their state
in the database so that any server can show it, their progress shown without JavaScript.

A page's form creates a `PageJob` row (in the same transaction as the form's idempotency key, so
a double submit starts one job) and names the work; after the commit `launch()` runs it: in the
request when it is small, else in a thread of this process. The work is the API's own operation
in one database transaction, with the job's outcome (`done` and the result, `refused` and why,
or `failed`) written in that same transaction or, when it was refused or failed, in the next:
a job says `done` exactly when what it did was committed.

Progress is written from its own short transaction at most once a second, on PostgreSQL. SQLite
has one writer at a time and the work holds it, so there the figure is kept in this process and
the status page reads it from there (an SQLite database is one server's file anyway). A job left
`running` with no word for STALE_AFTER was stopped with its server: its one transaction never
committed, so nothing of it was written, and the page says so.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.orm import Mapped, mapped_column

from ..db import BigId, db, utcnow
from ..errors import LedgerError
from ..work import unit_of_work

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, REFUSED, FAILED, STOPPED = "queued", "running", "done", "refused", "failed", "stopped"
FINISHED = (DONE, REFUSED, FAILED)
STALE_AFTER = timedelta(minutes=10)
WRITE_EVERY = 1.0  # seconds between progress writes
_live: dict[int, tuple[int, int | None]] = {}  # job id -> (done, total), this process's running jobs


class PageJob(db.Model):
    """One long write started from a page: what it is, who started it, how far it has gone, and
    its outcome (`result`: the operation's summary, or the refusal's message and details)."""

    __tablename__ = "page_jobs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # "import", "month_end"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    label: Mapped[str] = mapped_column(sa.String(255), default="")  # the file's name, the month
    state: Mapped[str] = mapped_column(sa.String(10), default=QUEUED)
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int | None]
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


Work = Callable[["Progress"], dict]


def create(kind: str, label: str, total: int | None = None) -> PageJob:
    """A queued job for the signed-in user (the caller's transaction commits it)."""
    job = PageJob(kind=kind, user_id=g.user.id, label=label[:255], state=QUEUED, done=0, total=total)
    db.session.add(job)
    db.session.flush()
    return job


def queue(job: PageJob, work: Work, *, background: bool) -> None:
    """Run `work` for `job` once the request's commit has made the job (see launch)."""
    g.setdefault("page_jobs", []).append((job.id, work, background))


def launch() -> None:
    """Start the jobs this request queued: in a thread, or here and now."""
    app = current_app._get_current_object()
    for job_id, work, background in g.pop("page_jobs", []):
        if background:
            threading.Thread(target=_in_app, args=(app, job_id, work), name=f"page-job-{job_id}", daemon=True).start()
        else:
            run(job_id, work)


def _in_app(app, job_id: int, work: Work) -> None:
    with app.app_context():
        run(job_id, work)


class Progress:
    """What the work tells as it goes: `total(n)` once known, `add(n)` as rows pass."""

    def __init__(self, job_id: int):
        self.job_id, self.done, self.count, self._last = job_id, 0, None, 0.0
        self.postgres = db.engine.dialect.name == "postgresql"

    def total(self, n: int) -> None:
        self.count = n
        self._tell(force=True)

    def add(self, n: int = 1, *, force: bool = False) -> None:
        self.done += n
        self._tell(force)

    def _tell(self, force: bool = False) -> None:
        _live[self.job_id] = (self.done, self.count)
        now = time.monotonic()
        if not self.postgres or (not force and now - self._last < WRITE_EVERY):
            return
        self._last = now
        with db.engine.begin() as conn:  # its own connection: the work's transaction stays open
            conn.execute(sa.update(PageJob).where(PageJob.id == self.job_id)
                         .values(done=self.done, total=self.count, updated_at=utcnow()))


def run(job_id: int, work: Work) -> None:
    """Run the job's work and record its outcome (see the module's docstring)."""
    with unit_of_work():
        _set(job_id, state=RUNNING)
    progress = Progress(job_id)
    try:
        with unit_of_work():
            result = work(progress)
            _set(job_id, state=DONE, result=result, done=progress.count or progress.done, total=progress.count)
    except LedgerError as e:
        with unit_of_work():
            _set(job_id, state=REFUSED, result={"message": e.message, "details": e.details})
    except Exception:  # noqa: BLE001 - the job says it failed; the log has why
        log.exception("page job %s failed", job_id)
        with unit_of_work():
            _set(job_id, state=FAILED, result=None)
    finally:
        _live.pop(job_id, None)


def _set(job_id: int, **values) -> None:
    db.session.execute(sa.update(PageJob).where(PageJob.id == job_id).values(updated_at=utcnow(), **values))


def state_of(job: PageJob) -> tuple[str, int, int | None]:
    """(state, done, total) as the status page shows them: this process's live figure where it
    has one, and `stopped` for a job no server has given word of for STALE_AFTER."""
    done, total = job.done, job.total
    if job.state in (QUEUED, RUNNING):
        if job.id in _live:
            done, total = _live[job.id]
        elif utcnow() - job.updated_at > STALE_AFTER:
            return STOPPED, done, total
    return job.state, done, total
