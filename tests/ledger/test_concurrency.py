"""Concurrency: many clients writing at once must leave exact, balanced books.

The app is created once per test (the `app` fixture); every thread has its own test client,
so every request runs in its own app context with its own database session and connection.
Most tests here need PostgreSQL (row locks, a real server); the last four run on both engines
(SQLite serialises writers with BEGIN IMMEDIATE and a busy timeout).
"""
from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest

from isf_ledger import clock

from racing import (YEAR_START, Client, Setup, assert_books_hold, db_json, fee_pence,  # noqa: F401
                    needs_postgresql, pounds, run_threads, sql)


def test_many_clients_post_receipts_at_once(app, backend, monkeypatch):
    """8 threads x 25 receipts: four threads into one fund, four into a fund each; readers poll the
    reconciliation meanwhile and must always see it hold."""
    needs_postgresql(backend)
    monkeypatch.setattr(clock, "today", lambda: YEAR_START + timedelta(days=365))  # every receipt is in the past
    setup = Setup(app)
    shared = setup.person("Shared", "0.125")
    own_rates = ["0.10", "0.0833", "0.15", "0.2"]
    own = [setup.person(f"Own{i}", rate) for i, rate in enumerate(own_rates)]
    rate_of = {shared: "0.125", **dict(zip(own, own_rates))}
    rng = random.Random(20261001)
    writers, per_thread = 8, 25
    plan = []  # per thread: [(pid, body)]
    for t in range(writers):
        pid = shared if t < 4 else own[t - 4]
        rows = []
        for _ in range(per_thread):
            amount = rng.choice([rng.randint(1, 10_000_000), rng.randint(1, 999), rng.randint(1, 100_000) * 10 + 5])
            day = YEAR_START + timedelta(days=rng.randint(0, 364))
            rows.append((pid, {"date": day.isoformat(), "amount": pounds(amount),
                               "source": rng.choice(["council", "health", "client_contribution", "other"])},
                         amount))
        plan.append(rows)
    stop = threading.Event()
    seen_by_readers: list = []

    def work(i):
        if i >= writers:  # a reader
            client, out = Client(app, setup.token), []
            while not stop.is_set():
                for path in ("/api/v1/reconciliation", "/api/v1/reconciliation?as_of=2026-06-30"):
                    out.append(client.get(path))
            return out
        client, out = Client(app, setup.token), []
        for n, (pid, body, _) in enumerate(plan[i]):
            out.append(client.post(f"/api/v1/people/{pid}/receipts", body, f"w{i}-{n}"))
        return out

    def writers_then_stop(i):
        try:
            return work(i)
        finally:
            if i < writers:
                done.append(i)
                if len(done) == writers:
                    stop.set()

    done: list = []
    results = run_threads(writers + 2, writers_then_stop)
    statuses = Counter(s for rows in results[:writers] for s, _ in rows)
    assert statuses == {201: writers * per_thread}, statuses
    for rows, posted in zip(results[:writers], plan):
        for (status, raw), (pid, body, amount) in zip(rows, posted):
            got = db_json(raw)
            assert (got["person_id"], got["amount"]) == (pid, body["amount"])
            assert got["fee"] == pounds(fee_pence(amount, rate_of[pid])), (got, rate_of[pid])
    for reads in results[writers:]:
        seen_by_readers.extend(reads)
    assert seen_by_readers, "the readers never read"
    assert all(s == 200 for s, _ in seen_by_readers), Counter(s for s, _ in seen_by_readers)
    assert all(body["reconciles"] for _, body in seen_by_readers), [b for _, b in seen_by_readers
                                                                    if not b["reconciles"]][:3]
    expected = {pid: 0 for pid in rate_of}
    for rows in plan:
        for pid, _, amount in rows:
            expected[pid] += amount - fee_pence(amount, rate_of[pid])
    assert sql(app, "SELECT COUNT(*) FROM receipts")[0][0] == writers * per_thread
    assert_books_hold(app, setup, expected)


def test_two_clients_reversing_one_receipt_reverse_it_once(app, backend):
    needs_postgresql(backend)
    setup = Setup(app)
    pid = setup.person("Ana", "0.10")
    receipts = [setup.post(f"/api/v1/people/{pid}/receipts",
                           {"date": f"2026-{m:02d}-15", "amount": f"{1000 + m}.05", "source": "council"})
                for m in range(1, 11)]
    for r in receipts:
        clients = [Client(app, setup.token) for _ in range(2)]
        answers = run_threads(2, lambda i: clients[i].post(f"/api/v1/transactions/{r['transaction_id']}/reverse",
                                                           {"reason": f"race {i}"}, f"rev-{r['id']}-{i}"))
        assert sorted(s for s, _ in answers) == [201, 409], answers
        loser = db_json(next(raw for s, raw in answers if s == 409))
        assert set(loser["error"]) >= {"code", "message", "details"}
        n = sql(app, "SELECT COUNT(*) FROM transactions WHERE reverses_id = :t", t=r["transaction_id"])[0][0]
        assert n == 1
        n = sql(app, "SELECT COUNT(*) FROM transactions WHERE reverses_id = :t", t=r["fee_transaction_id"])[0][0]
        assert n == 1
    assert sql(app, "SELECT COUNT(*) FROM transactions WHERE reverses_id IS NOT NULL")[0][0] == 2 * len(receipts)
    assert_books_hold(app, setup, {pid: 0})


def test_racing_replays_of_one_key_write_once(app, backend):
    needs_postgresql(backend)
    setup = Setup(app)
    pid = setup.person("Ana", "0.10")
    threads, rounds = 8, 5
    expected = 0
    for n in range(rounds):
        body = {"date": f"2026-0{n + 1}-01", "amount": "2000.05", "source": "council", "reference": f"R{n}"}
        clients = [Client(app, setup.token) for _ in range(threads)]
        answers = run_threads(threads, lambda i: clients[i].post(f"/api/v1/people/{pid}/receipts", body,
                                                                 f"same-key-{n}"))
        assert {s for s, _ in answers} == {201}, answers
        assert len({raw for _, raw in answers}) == 1, "every answer to one key must be the same"
        rows = sql(app, "SELECT COUNT(*) FROM receipts WHERE reference = :r", r=f"R{n}")[0][0]
        assert rows == 1
        expected += 200005 - fee_pence(200005, "0.10")
    assert sql(app, "SELECT COUNT(*) FROM idempotency_keys WHERE key LIKE 'same-key-%'")[0][0] == rounds
    assert sql(app, "SELECT COUNT(*) FROM transactions")[0][0] == 2 * rounds
    assert_books_hold(app, setup, {pid: expected})


def test_writers_on_one_fund_queue_on_both_engines(app, backend):
    """4 threads post receipts to one fund at once: on SQLite they queue on the write lock (no
    "database is locked"), on PostgreSQL on the fund's row lock; the balance is exact."""
    setup = Setup(app)
    pid = setup.person("Ana", "0.125")
    threads, per_thread = 4, 10
    amounts = [[(t * 1000 + n) * 100 + 5 for n in range(per_thread)] for t in range(threads)]

    def work(i):
        client = Client(app, setup.token)
        return [client.post(f"/api/v1/people/{pid}/receipts",
                            {"date": f"2026-{(n % 12) + 1:02d}-10", "amount": pounds(a), "source": "council"},
                            f"t{i}-{n}")
                for n, a in enumerate(amounts[i])]

    results = run_threads(threads, work)
    bad = [(s, raw) for rows in results for s, raw in rows if s != 201]
    assert bad == [], bad[:3]
    expected = sum(a - fee_pence(a, "0.125") for rows in amounts for a in rows)
    assert_books_hold(app, setup, {pid: expected})


def race(app, token, n, path, body_of, key_of):
    """n clients POST at once; body_of(i) and key_of(i) say what client i sends."""
    clients = [Client(app, token) for _ in range(n)]
    return run_threads(n, lambda i: clients[i].send(path, body_of(i), key_of(i)))


def assert_one_answer(answers):
    """Every request with one key got the first request's answer, byte for byte; all but one as a replay."""
    assert {s for s, _, _ in answers} == {201}, [(s, raw) for s, raw, _ in answers if s != 201][:3]
    assert len({raw for _, raw, _ in answers}) == 1, "every answer to one key must be the same"
    assert sorted(replayed for _, _, replayed in answers) == [False] + [True] * (len(answers) - 1)


def assert_one_winner(answers, code):
    """Requests with different keys: one writes, every other is refused by the ledger's rule."""
    assert sorted(s for s, _, _ in answers) == [201] + [409] * (len(answers) - 1), answers
    assert {db_json(raw)["error"]["code"] for s, raw, _ in answers if s == 409} == {code}


@pytest.mark.parametrize("one_key", [True, False], ids=["one-key", "a-key-each"])
def test_racing_reversals_of_one_transaction_reverse_it_once(app, backend, one_key):
    """8 clients reverse one receipt: with one key all get the first answer (the key is locked
    before it is looked up); with a key each one wins and seven are told it is already reversed.
    Runs on both engines: on SQLite the key lock is a no-op and BEGIN IMMEDIATE does its work."""
    setup = Setup(app)
    pid = setup.person("Ana", "0.10")
    for n in range(3):
        r = setup.post(f"/api/v1/people/{pid}/receipts",
                       {"date": f"2026-0{n + 1}-15", "amount": "1000.05", "source": "council"})
        answers = race(app, setup.token, 8, f"/api/v1/transactions/{r['transaction_id']}/reverse",
                       lambda i: {"reason": "entered twice"}, lambda i: f"rev-{n}" if one_key else f"rev-{n}-{i}")
        if one_key:
            assert_one_answer(answers)
        else:
            assert_one_winner(answers, "already_reversed")
        for t in (r["transaction_id"], r["fee_transaction_id"]):
            assert sql(app, "SELECT COUNT(*) FROM transactions WHERE reverses_id = :t", t=t)[0][0] == 1
    assert_books_hold(app, setup, {pid: 0})


@pytest.mark.parametrize("one_key", [True, False], ids=["one-key", "a-key-each"])
def test_racing_creations_of_one_person_create_them_once(app, backend, one_key):
    """8 clients create one person (one council reference) at once: one person and one fund, and
    the others get the first answer (one key) or 409 duplicate_person (a key each)."""
    setup = Setup(app)
    for n in range(3):
        # Round 0 also names a new council, which the racers create together.
        body = {"name": f"Ana {n}", "council": "Northshire" if n else "Southshire", "council_reference": f"NS-{n}"}
        answers = race(app, setup.token, 8, "/api/v1/people", lambda i: body,
                       lambda i: f"person-{n}" if one_key else f"person-{n}-{i}")
        if one_key:
            assert_one_answer(answers)
        else:
            assert_one_winner(answers, "duplicate_person")
        rows = sql(app, "SELECT p.id FROM people p JOIN funds f ON f.person_id = p.id "
                        "WHERE p.council_reference = :r", r=f"NS-{n}")
        assert len(rows) == 1
    assert sql(app, "SELECT COUNT(*) FROM councils")[0][0] == 2
    assert_books_hold(app, setup, {})


def test_racing_rate_entries_for_one_service_keep_one_unit(app, backend):
    """8 clients add rate entries for one new service, half per hour and half per night, each from
    its own date: the first unit written holds, every entry in it lands, every other is 409."""
    setup = Setup(app)
    for n in range(5):
        service = f"sleep_in_{n}"
        units = ["hour", "night"] * 4
        answers = race(app, setup.token, 8, "/api/v1/rates",
                        lambda i: {"service": service, "unit": units[i], "rate": f"{60 + i}.00",
                                   "effective_from": f"2026-0{i + 1}-01"},
                        lambda i: f"rate-{n}-{i}")
        kept = sql(app, "SELECT DISTINCT unit FROM rates WHERE service = :s", s=service)
        assert len(kept) == 1, kept
        winner = kept[0][0]
        for unit, (status, raw, _) in zip(units, answers):
            if unit == winner:
                assert status == 201, raw
            else:
                assert (status, db_json(raw)["error"]["code"]) == (409, "unit_mismatch"), raw
        assert sql(app, "SELECT COUNT(*) FROM rates WHERE service = :s", s=service)[0][0] == 4
