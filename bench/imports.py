"""`python -m bench.imports [--rows N] [--people P] [--engine sqlite|postgresql|both]`

1. A rostering import (`isf-ledger import deliveries FILE`, that is accounts.imports.import_deliveries
   and one commit) of N delivery rows from CSV (default 20,000; the issue's figure is
   `--rows 1000000`) against the bare insert of the same rows in the same run: the deliveries
   (every column the import wrote, external_id too), transactions and postings the import wrote,
   read back a slice at a time (not timed) and inserted again through the DBAPI in one
   transaction (ids allocated as the engine allocates them, postings then headers then
   deliveries, multi-row INSERTs), so both sides pay the ledger's own triggers and indexes. The
   import also parses and checks every row, resolves people and rates, locks each fund and
   posts; the ratio is what that costs (target within 2x, performance.md: PASS or MISS). The
   load average before and after, and the process's resident memory before the import and its
   peak during it (VmHWM, reset just before), are printed beside it.
2. Posting one delivery through the API (POST /people/{id}/deliveries with an Idempotency-Key,
   through the test client) against the bare insert of one delivery, its transaction and its
   four postings, committed alone.

The books (people, funds, accounts, a rate) are set up with bulk inserts, not measured.
"""
from __future__ import annotations

import argparse
import gc
import io
import os
import random
import sys
import time
from datetime import date, timedelta

import sqlalchemy as sa

from isf_ledger.accounts.imports import import_deliveries
from isf_ledger.ledger.post import PERSON_ACCOUNTS
from isf_ledger.db import db, utcnow

from .engines import make, postgres_problem
from .report import Row, fmt_time, table
from .shared import _insert_rows

START = date(2026, 1, 1)


def say(text: str = "") -> None:
    print(text, flush=True)


def build(app, people: int) -> None:
    from isf_ledger.accounts.councils import create_council
    from isf_ledger.models import Account, Fund, Person, Rate

    with app.app_context():
        s = db.session
        council = create_council(s, "Northshire County Council")
        s.execute(sa.insert(Person), [{"id": i, "name": f"Person {i}", "council_id": council.id,
                                       "council_reference": f"N{i:07d}"} for i in range(1, people + 1)])
        s.execute(sa.insert(Fund), [{"person_id": i, "opened_on": START} for i in range(1, people + 1)])
        s.execute(sa.insert(Account), [{"code": f"person:{i}:{k}", "kind": k, "person_id": i, "name": f"Fund {i}: {k}"}
                                       for i in range(1, people + 1) for k in PERSON_ACCOUNTS])
        s.execute(sa.insert(Rate), [{"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": START}])
        s.commit()
        if s.get_bind().dialect.name == "postgresql":
            s.execute(sa.text("SELECT setval(pg_get_serial_sequence('people', 'id'), (SELECT MAX(id) FROM people))"))
            s.commit()
            s.execute(sa.text("ANALYZE"))
            s.commit()


def csv_rows(n: int, people: int, seed: int) -> bytes:
    rng = random.Random(seed)
    out = io.StringIO()
    out.write("person,date,start_time,service,quantity,status,notice_given_at,domain,external_id\n")
    for i in range(n):
        day = START + timedelta(days=rng.randrange(300))
        out.write(f"N{rng.randrange(1, people + 1):07d},{day.isoformat()},{rng.randrange(7, 20):02d}:00,day_support,"
                  f"{rng.choice(('1.00', '1.50', '2.00', '3.25'))},delivered,,personal_care,V{i}\n")
    return out.getvalue().encode()


def bare_insert(raw, engine_name: str, since: int, until: int | None = None, step: int = 50000) -> float:
    """Insert again the deliveries since < id <= until (default: all), their transactions and
    postings, in one database transaction; seconds. Read back a slice at a time (not timed), so
    the baseline holds one slice, as the import holds one chunk. Every column the import wrote
    is written, external_id too (prefixed, as it is unique), so both pay the same indexes."""
    ph = "?" if engine_name == "sqlite" else "%s"
    now = utcnow() if engine_name == "postgresql" else utcnow().isoformat(sep=" ")
    cur = raw.cursor()
    if until is None:
        cur.execute("SELECT MAX(id) FROM deliveries")
        until = cur.fetchone()[0] or 0
    spent = 0.0
    began = time.perf_counter()
    cur.execute("BEGIN IMMEDIATE" if engine_name == "sqlite" else "BEGIN")
    spent += time.perf_counter() - began
    for lo in range(since, until, step):
        hi = min(until, lo + step)
        args = (lo, hi)
        cur.execute(f"SELECT person_id, date, start_time, service, unit, quantity_hundredths, status, notice_given_at, "
                    f"domain, rate, charge_pence, lapses_on, created_by, external_id, transaction_id FROM deliveries "
                    f"WHERE id > {ph} AND id <= {ph} ORDER BY id", args)
        dels = cur.fetchall()
        cur.execute(f"SELECT t.id, t.kind, t.date, t.service_date, t.person_id, t.description FROM transactions t "
                    f"JOIN deliveries d ON d.transaction_id = t.id WHERE d.id > {ph} AND d.id <= {ph} ORDER BY t.id", args)
        txns = cur.fetchall()
        cur.execute(f"SELECT p.transaction_id, p.account_id, p.date, p.amount_pence FROM postings p "
                    f"JOIN deliveries d ON d.transaction_id = p.transaction_id WHERE d.id > {ph} AND d.id <= {ph} "
                    f"ORDER BY p.id", args)
        legs = cur.fetchall()
        began = time.perf_counter()
        ids = []
        for i in range(0, len(txns), 10000):  # allocated as ledger._allocate_ids does
            k = len(txns[i:i + 10000])
            if engine_name == "sqlite":
                cur.execute("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?) "
                            "INSERT INTO transaction_ids (id) SELECT NULL FROM k RETURNING id", (k,))
            else:
                cur.execute("INSERT INTO transaction_ids (id) SELECT nextval(pg_get_serial_sequence('transactions', "
                            "'id')) FROM generate_series(1, %s) RETURNING id", (k,))
            ids += sorted(r[0] for r in cur.fetchall())
        new_id = {t[0]: i for t, i in zip(txns, ids)}
        _insert_rows(cur, ph, "postings (transaction_id, account_id, date, amount_pence)",
                     [(new_id[p[0]], *p[1:]) for p in legs])
        _insert_rows(cur, ph, "transactions (id, kind, date, service_date, person_id, description, created_at)",
                     [(new_id[t[0]], *t[1:], now) for t in txns])
        _insert_rows(cur, ph, "deliveries (person_id, date, start_time, service, unit, quantity_hundredths, status, "
                              "notice_given_at, domain, rate, charge_pence, lapses_on, created_by, external_id, "
                              "transaction_id, created_at)",
                     [(*d[:13], None if d[13] is None else f"bare:{d[13]}", new_id.get(d[14]), now) for d in dels],
                     per_statement=500)
        spent += time.perf_counter() - began
    began = time.perf_counter()
    cur.execute("COMMIT")
    return spent + time.perf_counter() - began


def rss_mib(field: str = "VmRSS") -> float:
    """The process's resident memory (VmRSS) or its peak since the last reset (VmHWM), MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Start VmHWM again from the current RSS (Linux: /proc/self/clear_refs, 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}"


def run_engine(name: str, n: int, people: int, api_n: int, seed: int) -> None:
    engine = make(name)
    try:
        engine.upgrade()
        app = engine.app()
        build(app, people)
        data = csv_rows(n, people, seed)
        say(f"[{name}] {people:,} people; a CSV of {n:,} rows ({len(data) / 2**20:.1f} MiB)")
        with app.app_context():
            gc.collect()
            before = rss_mib()
            reset_peak()
            start_load = load()
            t = time.perf_counter()
            result = import_deliveries(db.session, data, filename="bench.csv")
            db.session.commit()
            ours = time.perf_counter() - t
            peak = rss_mib("VmHWM")
            end_load = load()
            again = import_deliveries(db.session, data, filename="bench.csv")
            db.session.commit()
            db.session.remove()
        if (result["written"], again["written"], again["skipped"]) != (n, 0, n):
            raise SystemExit(f"imported {result}, then {again}")
        raw = engine.raw()
        try:
            bare = bare_insert(raw, name, 0)
        finally:
            raw.close()
        ratio = ours / bare
        verdict = "PASS (within 2x)" if ratio <= 2 else f"MISS: 2x missed by {ratio / 2:.2f}x ({ours - 2 * bare:.1f} s)"
        say(f"[{name}] import {fmt_time(ours)} ({ours / n * 1e6:.0f} us a row); bare insert {fmt_time(bare)}; "
            f"ratio {ratio:.2f}x: {verdict}; {start_load} before, {end_load} after")
        say(f"[{name}] memory: {before:.0f} MiB resident before the import (the app and the {len(data) / 2**20:.0f} MiB "
            f"CSV), peak {peak:.0f} MiB during it (+{peak - before:.0f} MiB)")
        with app.app_context():
            since = db.session.scalar(sa.text("SELECT MAX(id) FROM deliveries"))
            db.session.remove()
        client, body = app.test_client(), {"date": "2026-11-02", "start_time": "10:00", "service": "day_support",
                                           "quantity": "1.00", "status": "delivered", "domain": "personal_care"}
        token = app.test_cli_runner().invoke(args=["users", "create", "--name", "bench", "--role", "broker"]) \
            .output.split()[-1]
        t = time.perf_counter()
        for i in range(api_n):
            r = client.post("/api/v1/people/1/deliveries", json=body,
                            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"bench-{i}"})
            assert r.status_code == 201, r.get_json()
        api = (time.perf_counter() - t) / api_n
        raw = engine.raw()
        try:
            # The API's deliveries again, each committed alone.
            with app.app_context():
                ids = db.session.scalars(sa.text("SELECT id FROM deliveries WHERE id > :i ORDER BY id"),
                                         {"i": since}).all()
                db.session.remove()
            one = sum(bare_insert(raw, name, i - 1, i) for i in ids) / len(ids)
        finally:
            raw.close()
        say(f"[{name}] one delivery through the API {api * 1e3:.2f} ms; bare insert {one * 1e3:.2f} ms; "
            f"ratio {api / one:.1f}x")
        with app.app_context():
            db.engine.dispose()
        say()
        say(table(f"{name}: rostering import against the bare insert of its rows",
                  [Row(f"import of {n:,} rows from CSV", ours, bare, 2.0),
                   Row("one delivery through the API", api, one, None)]))
        say()
    finally:
        engine.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--people", type=int, default=0, help="default: one per 500 rows, at least 20")
    p.add_argument("--api", type=int, default=100, help="deliveries posted one at a time through the API")
    p.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if "postgresql" in engines and postgres_problem():
        say(f"PostgreSQL not reachable ({postgres_problem()}): skipped")
        engines.remove("postgresql")
    for name in engines:
        run_engine(name, args.rows, args.people or max(20, args.rows // 500), args.api, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
