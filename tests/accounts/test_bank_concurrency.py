"""Completing a reconciliation takes a lock: two completions at once cannot both pass.

On PostgreSQL, with two connections as tests/ledger/test_concurrency.py uses them: the first completion
is held inside its transaction (after its checks, while it clears); the second, sent then, must
wait for it and then see it. Without the lock both would read "nothing completed later" and
both be recorded, the earlier date after the later one. SQLite serialises writers with BEGIN
IMMEDIATE, so it has no such race to test.
"""
from __future__ import annotations

import io
import threading
import time

import pytest
import sqlalchemy as sa

from isf_ledger.accounts import reconciliation


def upload(api, text):
    r = api.client.post("/api/v1/bank-statements", data={"file": (io.BytesIO(text.encode()), "s.csv")},
                        content_type="multipart/form-data",
                        headers={"Authorization": f"Bearer {api.token}", "Idempotency-Key": f"b-{next(api.keys)}"})
    assert r.status_code == 201, r.get_json()


def test_two_completions_at_once_are_taken_one_after_the_other(api, backend, db_url, monkeypatch):
    if backend != "postgresql":
        pytest.skip("SQLite serialises every writer (BEGIN IMMEDIATE): no race to test")
    pid = api.person()
    api.receipt(pid, amount="2000.00", date="2026-10-01", reference="NCC-1")
    upload(api, "Date,Description,Amount,Balance\n01/10/2026,NORTHSHIRE NCC-1,2000.00,2000.00\n"
                "01/10/2026,TRANSFER FEES,-200.00,1800.00\n")
    entered, release = threading.Event(), threading.Event()
    clear = reconciliation.clear

    def held_clear(session, done, position):
        if done.as_of.isoformat() == "2026-11-30":
            entered.set()
            release.wait(30)
        return clear(session, done, position)

    monkeypatch.setattr(reconciliation, "clear", held_clear)
    answers = {}

    def complete(as_of):
        r = api.app.test_client().post("/api/v1/reconciliation/complete", json={"as_of": as_of}, headers={
            "Authorization": f"Bearer {api.token}", "Idempotency-Key": f"complete-{as_of}"})
        answers[as_of] = (r.status_code, r.get_json())

    first = threading.Thread(target=complete, args=("2026-11-30",))
    first.start()
    assert entered.wait(30)
    second = threading.Thread(target=complete, args=("2026-10-31",))
    second.start()
    watcher = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1)
                               if db_url.startswith("postgresql://") else db_url)
    try:
        waiting = 0
        for _ in range(300):  # until the second completion waits on the first's lock (at most 30 s)
            with watcher.connect() as conn:
                waiting = conn.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                                              "'Lock' AND datname = current_database()"))
            if waiting or not second.is_alive():
                break
            time.sleep(0.1)
        assert waiting == 1 and second.is_alive(), "the second completion did not wait for the first"
    finally:
        release.set()
        first.join(30)
        second.join(30)
        watcher.dispose()
    assert answers["2026-11-30"][0] == 201, answers
    status, body = answers["2026-10-31"]
    assert status == 409 and body["error"]["code"] == "already_reconciled_later", answers
    with api.app.app_context():
        from isf_ledger.db import db
        rows = db.session.execute(sa.text("SELECT as_of FROM bank_reconciliations")).scalars().all()
        clearings = db.session.scalar(sa.text("SELECT COUNT(*) FROM bank_clearings"))
        db.session.rollback()
    assert [str(r) for r in rows] == ["2026-11-30"] and clearings == 1
