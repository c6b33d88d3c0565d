"""Many clients at once against one app, for the concurrency tests: each thread its own test
client (so its own app context, session and connection), and the books checked after."""
from __future__ import annotations

import threading
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa

from isf_ledger.db import db


YEAR_START = date(2026, 1, 1)


def fee_pence(amount_pence: int, rate: str) -> int:
    return int((Decimal(amount_pence) * Decimal(rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"


def needs_postgresql(backend):
    if backend != "postgresql":
        pytest.skip("concurrency under row locks is a PostgreSQL matter: SQLite serialises every writer "
                    "(BEGIN IMMEDIATE), so there is no race to test (ledger/test_concurrency.py has tests on both engines)")


class Client:
    """One caller: its own Flask test client, so its requests never share a session with another's."""

    def __init__(self, app, token):
        self.client = app.test_client()
        self.token = token

    def post(self, path, body, key):
        return self.send(path, body, key)[:2]

    def send(self, path, body, key):
        """POST; the status, the raw body and whether the answer says it is a replay."""
        r = self.client.post(path, json=body, headers={"Authorization": f"Bearer {self.token}",
                                                       "Idempotency-Key": key})
        return r.status_code, r.get_data(), r.headers.get("Idempotent-Replayed") == "true"

    def get(self, path):
        r = self.client.get(path, headers={"Authorization": f"Bearer {self.token}"})
        return r.status_code, r.get_json()


class Setup:
    def __init__(self, app):
        self.app = app
        result = app.test_cli_runner().invoke(args=["users", "create", "--name", "finance", "--role", "finance"])
        assert result.exit_code == 0, result.output
        self.token = result.output.split()[-1]
        self.client = Client(app, self.token)
        self.n = 0

    def post(self, path, body, expect=201):
        self.n += 1
        status, raw = self.client.post(path, body, f"setup-{self.n}")
        assert status == expect, (status, raw)
        return db_json(raw)

    def person(self, name, rate):
        pid = self.post("/api/v1/people", {"name": name, "council": "Northshire",
                                           "council_reference": f"REF-{name}"})["id"]
        self.post(f"/api/v1/people/{pid}/plans", {"effective_from": "2025-04-01", "annual_budget": "26000.00",
                                                  "management_fee_rate": rate})
        return pid

    def balance(self, pid, as_of="2026-12-31"):
        status, body = self.client.get(f"/api/v1/people/{pid}/balance?as_of={as_of}")
        assert status == 200, body
        return body["available"]


def db_json(raw: bytes):
    import json

    return json.loads(raw)


def run_threads(n: int, target, timeout=120):
    """Run target(i) in n threads released together; return their results; re-raise any error."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = target(i)
        except BaseException as e:  # noqa: BLE001 - handed back to the test below
            errors.append((i, e))

    threads = [threading.Thread(target=run, args=(i,), name=f"client-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    if errors:
        raise errors[0][1]
    return results


def sql(app, text, **params):
    with app.app_context():
        try:
            return db.session.execute(sa.text(text), params).all()
        finally:
            db.session.remove()


def assert_books_hold(app, setup, expected: dict[int, int]):
    """Every transaction balances, no transaction spans two funds, balances and the reconciliation
    are exact, and the self-audit finds nothing."""
    unbalanced = sql(app, "SELECT t.id, COALESCE(SUM(p.amount_pence), 0), COUNT(p.id) FROM transactions t "
                          "LEFT JOIN postings p ON p.transaction_id = t.id GROUP BY t.id "
                          "HAVING COALESCE(SUM(p.amount_pence), 0) <> 0 OR COUNT(p.id) < 2")
    assert unbalanced == []
    orphans = sql(app, "SELECT p.id FROM postings p LEFT JOIN transactions t ON t.id = p.transaction_id "
                       "WHERE t.id IS NULL")
    assert orphans == []
    cross = sql(app, "SELECT p.transaction_id FROM postings p JOIN accounts a ON a.id = p.account_id "
                     "WHERE a.person_id IS NOT NULL GROUP BY p.transaction_id "
                     "HAVING COUNT(DISTINCT a.person_id) > 1")
    assert cross == []
    per_person = {pid: int(total) for pid, total in sql(
        app, "SELECT a.person_id, SUM(p.amount_pence) FROM postings p JOIN accounts a ON a.id = p.account_id "
             "WHERE a.kind = 'available' GROUP BY a.person_id")}
    for pid, pence in expected.items():
        assert per_person.get(pid, 0) == pence, (pid, per_person.get(pid), pence)
        assert setup.balance(pid) == pounds(pence), pid
    status, rec = setup.client.get("/api/v1/reconciliation?as_of=2026-12-31")  # receipts run to the year end
    assert status == 200, rec
    assert rec["reconciles"] is True, rec
    assert rec["funds_total"] == pounds(sum(expected.values())), rec
    assert rec["client_money_held"] == rec["funds_total"], rec
    result = app.test_cli_runner().invoke(args=["audit"])
    assert result.exit_code == 0, result.output
