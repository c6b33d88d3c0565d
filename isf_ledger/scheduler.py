"""Month end on a timetable: APScheduler runs it on the Nth working day of each month (default the
third, 07:00 UK time, English bank holidays counted), and retries deliveries that failed.

`isf-ledger scheduler` runs this as its own process. The job store is the app's database, so a
restarted scheduler knows when it last ran (a run missed while it was down still happens once).

One scheduler runs per database, however many app servers there are: the command first takes
the database's scheduler lock (SchedulerLock: a PostgreSQL session advisory lock held on a
connection of its own; on SQLite an exclusive lock on a file beside the database). A second
scheduler started anywhere stands by until the first stops, then takes over; one that loses its
lock's connection stops at once (exit 1, for its service manager to restart it). Were two ever to
fire, that would still be safe: issuing is idempotent under its lock (statements.issue_month) and
each delivery is claimed by one compare-and-set before it is sent (delivery.py).
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from apscheduler.triggers.base import BaseTrigger
from flask import Flask

from . import clock
from .config import setting
from .clock import add_months, month_start

log = logging.getLogger(__name__)
MONTH_END_JOB = "isf-month-end"
RETRY_JOB = "isf-delivery-retries"
LOCK_CHECK_JOB = "isf-scheduler-lock-check"
LOCK_NAME = "isf-scheduler"


class SchedulerLock:
    """The one scheduler of a database: held from `acquire()` until `release()` or the process ends.

    PostgreSQL: `pg_try_advisory_lock` on a connection kept for it alone (a session lock, so the
    server lets go when the connection goes, even after SIGKILL). SQLite: `flock` on the database
    file's name plus `.scheduler-lock` (one machine: SQLite is never shared between servers);
    an in-memory database has nothing to share, so the lock is always free.
    """

    def __init__(self, engine):
        self.engine, self.conn, self.file = engine, None, None

    def acquire(self) -> bool:
        """Take the lock if it is free (never waits): True when this process now holds it."""
        if self.engine.dialect.name == "postgresql":
            import sqlalchemy as sa

            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            conn.detach()  # never back into the pool: closing it must end the session (and the lock)
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(hashtextextended(:n, 0))"),
                               {"n": LOCK_NAME}).scalar()
            if got:
                self.conn = conn
            else:
                conn.close()
            return bool(got)
        import fcntl

        path = self.engine.url.database
        if not path or path == ":memory:":
            return True
        f = open(f"{path}.scheduler-lock", "a")  # noqa: SIM115 - held open while the lock is held
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return False
        self.file = f
        return True

    def held(self) -> bool:
        """Whether the lock is still this process's: PostgreSQL, whether its connection still answers."""
        if self.conn is None:
            return True
        import sqlalchemy as sa

        try:
            self.conn.execute(sa.text("SELECT 1"))  # a session lock lasts as long as its connection
            return True
        except (sa.exc.DBAPIError, sa.exc.PendingRollbackError):
            return False

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()  # detached: the session ends, and its lock with it
            except Exception:  # noqa: BLE001 - a connection already cut has nothing to close
                pass
            self.conn = None
        if self.file is not None:
            self.file.close()
            self.file = None


is_working_day = clock.is_working_day  # one calendar of working days (clock.py)


def month_end_run_on(year: int, month: int, working_day: int = 3) -> date:
    """The `working_day`th working day (Monday to Friday, not an English bank holiday) of the month."""
    if working_day < 1:
        raise ValueError("working_day counts from 1")
    day, seen = date(year, month, 1), 0
    while True:
        if is_working_day(day):
            seen += 1
            if seen == working_day:
                return day
        day += timedelta(days=1)
        if day.month != month:
            raise ValueError(f"{year}-{month:02d} has fewer than {working_day} working days")


def parse_time(text: str) -> time:
    try:
        return datetime.strptime(str(text), "%H:%M").time()
    except ValueError:
        raise ValueError(f"ISF_MONTH_END_TIME must be HH:MM, not {text!r}") from None


class MonthEndTrigger(BaseTrigger):
    """Fires at `at` (UK time) on the `working_day`th working day of every month. A cron
    expression cannot say "third working day", so this is its own trigger (picklable: the job
    store keeps it)."""

    def __init__(self, working_day: int = 3, at: time = time(7, 0)):
        self.working_day, self.at = working_day, at

    def get_next_fire_time(self, previous_fire_time, now):
        month = month_start(now.astimezone(clock.UK).date())
        for _ in range(3):
            day = month_end_run_on(month.year, month.month, self.working_day)
            fire = datetime.combine(day, self.at, tzinfo=clock.UK)
            if fire >= now and (previous_fire_time is None or fire > previous_fire_time):
                return fire
            month = add_months(month, 1)
        return None

    def __getstate__(self):
        return {"version": 1, "working_day": self.working_day, "at": self.at}

    def __setstate__(self, state):
        self.working_day, self.at = state["working_day"], state["at"]

    def __str__(self):
        return f"month end on working day {self.working_day} at {self.at:%H:%M} Europe/London"


def trigger_for(app: Flask) -> MonthEndTrigger:
    return MonthEndTrigger(int(setting(app, "ISF_MONTH_END_WORKING_DAY", 3)),
                           parse_time(setting(app, "ISF_MONTH_END_TIME", "07:00")))


# --- The jobs ---------------------------------------------------------------------------------

_app: Flask | None = None  # the scheduler process's app; jobs in the store name functions, not apps


def _the_app() -> Flask:
    if _app is None:  # the jobs run in the process whose build_scheduler set it (`isf-ledger scheduler`)
        raise RuntimeError("the scheduler's jobs run only in a process started by build_scheduler")
    return _app


def run_month_end(app: Flask) -> dict:
    """Issue the month just ended (idempotent: a second run, or a second scheduler, issues
    nothing new), then send what is due. Each call has its own app context and session."""
    from .db import db
    from .reports import sending as delivery
    from .reports import statements as st
    from .work import unit_of_work

    month = add_months(month_start(clock.today()), -1)
    with app.app_context():
        try:
            with unit_of_work():
                done = st.issue_month(db.session, month)
            sent = delivery.send_month(db.session, month, delivery.SmtpSettings.from_app(app))
        finally:
            db.session.remove()
    log.info("month end %s: %d issued now, %d already; deliveries %s", done.month, done.issued,
             done.already_issued, sent.summary())
    for row in done.not_issued:
        log.error("month end %s: person %d's statement was not issued: %s", done.month, row["person_id"],
                  row["reason"])
    return {"month": done.month, "issued": done.issued, "already_issued": done.already_issued,
            "not_issued": done.not_issued, "deliveries": sent.counts}


def run_retries(app: Flask) -> dict:
    """Send every delivery whose retry time has come, whatever its month."""
    from .db import db
    from .reports import sending as delivery

    with app.app_context():
        try:
            sent = delivery.send_due(db.session, delivery.SmtpSettings.from_app(app))
        finally:
            db.session.remove()
    return sent.counts


def month_end_job() -> None:
    run_month_end(_the_app())


def retry_job() -> None:
    run_retries(_the_app())


def build_scheduler(app: Flask, scheduler_class=None, lock: SchedulerLock | None = None):
    """A scheduler whose job store is the app's database, with the two jobs under fixed ids
    (replace_existing: a restart, or a second process, updates them instead of adding more).
    With `lock` (held), it also checks every 30 s that the lock is still held, and stops if not."""
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.blocking import BlockingScheduler

    global _app
    _app = app
    from .db import db

    with app.app_context():
        engine = db.engine  # the app's own pool and settings (SQLite's busy timeout), closed with the app's
    store = SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")
    scheduler = (scheduler_class or BlockingScheduler)(jobstores={"default": store, "process": MemoryJobStore()},
                                                       timezone=clock.UK)
    # A run missed while no scheduler was up still happens, once, within the grace time.
    scheduler.add_job(month_end_job, trigger_for(app), id=MONTH_END_JOB, name="Month end: issue and send statements",
                      replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=7 * 24 * 3600)
    minutes = int(setting(app, "ISF_DELIVERY_RETRY_MINUTES", 15))
    scheduler.add_job(retry_job, "interval", minutes=minutes, id=RETRY_JOB, name="Retry statement deliveries",
                      replace_existing=True, coalesce=True, max_instances=1)
    if lock is not None:
        def check_lock():
            if not lock.held():
                log.error("the scheduler lost its database lock (the connection went): stopping, so that "
                          "no two schedulers run; start it again")
                scheduler.lost_lock = True
                scheduler.shutdown(wait=False)
        scheduler.add_job(check_lock, "interval", seconds=30, id=LOCK_CHECK_JOB, jobstore="process",
                          name="Check the scheduler still holds its lock", coalesce=True, max_instances=1)
    return scheduler
