"""The app's behaviour around the edges: the clock, a database that is missing, unmigrated, busy or
unreachable, and start-up settings. Errors keep the contract's shape and never show a traceback."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta

import pytest

from isf_ledger import clock, create_app
from isf_ledger.db import db

UNREACHABLE = "postgresql://postgres:s3cret-pw@127.0.0.1:1/x"


def test_reconciliation_without_as_of_means_today(api):
    pid = api.person()
    api.plan(pid)
    api.receipt(pid, amount="100.00", date=str(clock.today()), fee_exempt=True)
    api.receipt(pid, amount="1000.00", date=str(clock.today() + timedelta(days=40)), fee_exempt=True)
    rec = api.get("/api/v1/reconciliation")
    assert rec["as_of"] == str(clock.today())
    assert rec["funds_total"] == "100.00" and rec["reconciles"]
    assert api.get(f"/api/v1/reconciliation?as_of={clock.today() + timedelta(days=40)}")["funds_total"] == "1100.00"

