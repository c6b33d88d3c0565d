"""Faults, repeatable (issue 26 item 4): month end killed with SIGKILL part-way and run again issues
each statement once, numbered without gaps. (Connection loss under load is a `make proof` step,
proof/load.py; the unwritable receipt-file folder and the dropping SMTP server are tested in
test_spend.py and test_delivery.py.)"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import sqlalchemy as sa

from isf_ledger.db import db

ISF = os.path.join(os.path.dirname(sys.executable), "isf-ledger")


def statements(app):
    with app.app_context():
        out = [tuple(r) for r in db.session.execute(sa.text(
            "SELECT number, person_id, month FROM statements ORDER BY number"))]
        db.session.remove()
    return out


def test_month_end_killed_part_way_and_run_again_issues_each_statement_once(api, db_url):
    people = [api.person(f"Zoë {i}", opened_on="2026-08-01") for i in range(12)]
    for pid in people:
        api.receipt(pid, "1000.00", "2026-08-03")
    env = {**os.environ, "ISF_DATABASE_URL": db_url, "ISF_ENV": "development"}
    cmd = [ISF, "statements", "issue", "--through", "2026-11"]  # the real clock: 2026-12 or later
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Killed at its first committed statement or after 3 s, whichever comes first: it may commit
    # month by month or the whole run at once; either way it must be alive when killed.
    deadline = time.monotonic() + 3
    while not statements(api.app) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    killed_part_way = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert killed_part_way, "month end finished before it could be killed: give it more people"
    partial = statements(api.app)
    assert len(partial) <= len(people) * 4, len(partial)
    again = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    issued = statements(api.app)
    assert [n for n, _, _ in issued] == list(range(1, len(people) * 4 + 1))
    per = Counter((p, str(m)[:7]) for _, p, m in issued)
    assert per == {(p, m): 1 for p in people for m in ("2026-08", "2026-09", "2026-10", "2026-11")}
    assert issued[:len(partial)] == partial  # what was issued before the kill stands as it was
