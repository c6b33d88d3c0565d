"""Month end on a timetable: the working-day rule, the trigger, the job store, two schedulers."""
from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa

from isf_ledger import clock
from isf_ledger.db import db
from isf_ledger import scheduler as schedule
from isf_ledger.scheduler import MonthEndTrigger, month_end_run_on

import smtp_server

UK = clock.UK


@pytest.mark.parametrize("year, month, expected", [
    (2026, 1, date(2026, 1, 6)),   # New Year's Day (Thu) does not count: Fri 2, Mon 5, Tue 6
    (2026, 4, date(2026, 4, 7)),   # Good Friday 3rd and Easter Monday 6th: Wed 1, Thu 2, Tue 7
    (2026, 5, date(2026, 5, 6)),   # the early May bank holiday, Mon 4th: Fri 1, Tue 5, Wed 6
    (2026, 8, date(2026, 8, 5)),   # England's August bank holiday is at the end of the month
    (2026, 12, date(2026, 12, 3)),
    (2027, 1, date(2027, 1, 6)),   # New Year's Day on a Friday
    (2022, 6, date(2022, 6, 7)),   # the Jubilee: Thu 2 and Fri 3 June 2022 were bank holidays
])
def test_the_third_working_day(year, month, expected):
    assert month_end_run_on(year, month) == expected


def test_other_working_days_and_nonsense():
    assert month_end_run_on(2027, 1, 1) == date(2027, 1, 4)
    # Christmas (Fri 25th) and Boxing Day's substitute (Mon 28th) do not count: 21 working days.
    assert month_end_run_on(2026, 12, 21) == date(2026, 12, 31)
    with pytest.raises(ValueError):
        month_end_run_on(2026, 12, 22)
    with pytest.raises(ValueError):
        month_end_run_on(2026, 2, 0)
    with pytest.raises(ValueError):
        month_end_run_on(2026, 2, 23)


def test_the_trigger_fires_at_07_00_uk_time_in_summer_and_winter():
    trigger = MonthEndTrigger()
    first = trigger.get_next_fire_time(None, datetime(2026, 11, 27, 12, tzinfo=timezone.utc))
    assert first == datetime(2026, 12, 3, 7, 0, tzinfo=UK)
    assert first.utcoffset() == timedelta(0)
    again = trigger.get_next_fire_time(first, first)  # after a run, the next month's
    assert again == datetime(2027, 1, 6, 7, 0, tzinfo=UK)
    summer = trigger.get_next_fire_time(None, datetime(2026, 4, 1, tzinfo=timezone.utc))
    assert summer == datetime(2026, 4, 7, 7, 0, tzinfo=UK) and summer.utcoffset() == timedelta(hours=1)
    # On the day itself, before and after the time.
    assert trigger.get_next_fire_time(None, datetime(2026, 12, 3, 6, 59, tzinfo=UK)).date() == date(2026, 12, 3)
    assert trigger.get_next_fire_time(None, datetime(2026, 12, 3, 7, 1, tzinfo=UK)).date() == date(2027, 1, 6)


def test_day_and_time_come_from_the_config_or_the_environment(app, monkeypatch):
    monkeypatch.setenv("ISF_MONTH_END_WORKING_DAY", "1")
    monkeypatch.setenv("ISF_MONTH_END_TIME", "09:30")
    t = schedule.trigger_for(app)
    assert (t.working_day, t.at) == (1, time(9, 30))
    app.config["ISF_MONTH_END_WORKING_DAY"] = 5
    assert schedule.trigger_for(app).working_day == 5
    monkeypatch.setenv("ISF_MONTH_END_TIME", "7 am")
    with pytest.raises(ValueError, match="HH:MM"):
        schedule.trigger_for(app)


def test_the_job_store_is_the_database_and_a_second_scheduler_replaces_not_adds(app):
    from apscheduler.schedulers.background import BackgroundScheduler

    for _ in range(2):  # two scheduler processes starting against one database
        s = schedule.build_scheduler(app, BackgroundScheduler)
        s.start(paused=True)
        s.shutdown(wait=False)
    with app.app_context():
        jobs = db.session.execute(sa.text("SELECT id, next_run_time FROM apscheduler_jobs ORDER BY id")).all()
    assert [j for j, _ in jobs] == [schedule.RETRY_JOB, schedule.MONTH_END_JOB]
    month_end = dict(jobs)[schedule.MONTH_END_JOB]
    fire = datetime.fromtimestamp(month_end, UK)
    assert fire.time() == time(7, 0) and fire.date() == month_end_run_on(fire.year, fire.month)


def test_two_schedulers_firing_at_once_issue_and_send_once(api, monkeypatch, backend):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 4))
    people = [api.person(f"P{i}") for i in range(4)]
    for i, pid in enumerate(people):
        api.post(f"/api/v1/people/{pid}/statement-delivery", {"method": "email", "email": f"p{i}@example.org"})
    controller, inbox = smtp_server.start(api.app)
    try:
        results, errors = [], []

        def fire():
            try:
                results.append(schedule.run_month_end(api.app))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=fire) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        controller.stop()
    assert not errors, errors
    assert sum(r["issued"] for r in results) == 4
    assert {r["month"] for r in results} == {"2026-10"}
    with api.app.app_context():
        rows = db.session.execute(sa.text("SELECT person_id, number FROM statements ORDER BY number")).all()
    assert sorted(p for p, _ in rows) == sorted(people)
    assert [n for _, n in rows] == [1, 2, 3, 4]
    assert inbox.to() == [f"p{i}@example.org" for i in range(4)]


def test_the_scheduler_command_starts_with_its_timetable(app, monkeypatch):
    from apscheduler.schedulers.blocking import BlockingScheduler

    started = []

    def start(self, *args, **kwargs):
        started.append(sorted(job.id for job in self.get_jobs()))
        raise KeyboardInterrupt  # Ctrl-C

    monkeypatch.setattr(BlockingScheduler, "start", start)
    result = app.test_cli_runner().invoke(args=["scheduler"])
    assert result.exit_code == 0, result.output
    assert "working day 3 at 07:00 Europe/London" in result.output
    assert started == [sorted([schedule.MONTH_END_JOB, schedule.RETRY_JOB, schedule.LOCK_CHECK_JOB])]


def test_one_scheduler_per_database_the_others_stand_by_then_take_over(app):
    """Issue 26 item 6: however many app servers, one scheduler runs; a second waits for the lock."""
    with app.app_context():
        first, second = schedule.SchedulerLock(db.engine), schedule.SchedulerLock(db.engine)
        try:
            assert first.acquire() and first.held()
            assert not second.acquire()  # another process's scheduler: stands by
            first.release()
            assert second.acquire() and second.held()
            assert not schedule.SchedulerLock(db.engine).acquire()
        finally:
            first.release()
            second.release()


def test_a_second_scheduler_command_stands_by_while_one_runs(app, monkeypatch):
    from apscheduler.schedulers.blocking import BlockingScheduler

    started, waits = [], []

    def start(self, *args, **kwargs):
        started.append(sorted(job.id for job in self.get_jobs()))
        raise KeyboardInterrupt

    def sleep(seconds):  # the first scheduler stops while the second stands by
        waits.append(seconds)
        held.release()

    monkeypatch.setattr(BlockingScheduler, "start", start)
    monkeypatch.setattr("time.sleep", sleep)
    with app.app_context():
        held = schedule.SchedulerLock(db.engine)
        assert held.acquire()
    try:
        result = app.test_cli_runner().invoke(args=["scheduler", "--standby-seconds", "5"])
    finally:
        held.release()
    assert result.exit_code == 0, result.output
    assert "Another scheduler holds this database's scheduler lock: standing by" in result.output
    assert waits == [5]
    assert started == [sorted([schedule.MONTH_END_JOB, schedule.RETRY_JOB, schedule.LOCK_CHECK_JOB])]


def test_a_scheduler_whose_lock_connection_is_cut_stops(app, backend):
    if backend != "postgresql":
        pytest.skip("SQLite's file lock has no connection to lose")
    from apscheduler.schedulers.background import BackgroundScheduler

    with app.app_context():
        lock = schedule.SchedulerLock(db.engine)
        assert lock.acquire()
        pid = lock.conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        db.session.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        db.session.commit()
    assert not lock.held()
    s = schedule.build_scheduler(app, BackgroundScheduler, lock=lock)
    s.start()
    s.get_job(schedule.LOCK_CHECK_JOB).func()
    assert s.lost_lock and not s.running
    lock.release()
    with app.app_context():
        again = schedule.SchedulerLock(db.engine)
        assert again.acquire()  # another server's scheduler takes over
        again.release()
