"""`python -m bench.imports [--rows N] [--people P] [--engine sqlite|postgresql|both]`

1. A rostering import (`isf-ledger import deliveries FILE`, that is accounts.imports.import_deliveries
   and one commit) of N delivery rows from CSV (default 20,000; the issue's figure is
   `--rows 1000000`, which needs ~6 GB of memory and about an hour on both engines) against the
   bare insert of the same rows in the same run: the deliveries, transactions and postings the
   import wrote, read back and inserted again through the DBAPI in one transaction (ids
   allocated as the engine allocates them, postings then headers then deliveries, multi-row
   INSERTs), so both sides pay the ledger's own triggers. The import also parses and checks
   every row, resolves people and rates, locks each fund and posts per fund; the ratio is what
   that costs (target within 2x, performance.md).
2. Posting one delivery through the API (POST /people/{id}/deliveries with an Idempotency-Key,
   through the test client) against the bare insert of one delivery, its transaction and its
   four postings, committed alone.

The books (people, funds, accounts, a rate) are set up with bulk inserts, not measured.
"""
from __future__ import annotations

import argparse
import io
import random
import sys
import time
from datetime import date, timedelta

import sqlalchemy as sa

from isf_ledger.accounts.imports import import_deliveries
from isf_ledger.accounts.ledger import PERSON_ACCOUNTS
from isf_ledger.db import db, utcnow

from .engines import make, postgres_problem
from .report import Row, fmt_time, table
from .shared import _insert_rows

START = date(2026, 1, 1)


def say(text: str = "") -> None:
    print(text, flush=True)


def build(app, people: int) -> None:
    from isf_ledger.accounts.councils import create_council
    from isf_ledger.accounts.models import Account, Fund, Person, Rate

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


def bare_insert(app, raw, engine_name: str, since: int, until: int = 2**62) -> float:
    """Insert again the deliveries since < id <= until, their transactions and postings; seconds."""
    with app.app_context():
        s = db.session
        dels = s.execute(sa.text(
            "SELECT person_id, date, start_time, service, unit, quantity_hundredths, status, domain, rate, "
            "charge_pence, transaction_id FROM deliveries WHERE id > :i AND id <= :j ORDER BY id"), {"i": since, "j": until}).all()
        txns = s.execute(sa.text(
            "SELECT t.id, t.kind, t.date, t.service_date, t.person_id, t.description FROM transactions t "
            "JOIN deliveries d ON d.transaction_id = t.id WHERE d.id > :i AND d.id <= :j ORDER BY t.id"),
            {"i": since, "j": until}).all()
        legs = s.execute(sa.text(
            "SELECT p.transaction_id, p.account_id, p.date, p.amount_pence FROM postings p "
            "JOIN deliveries d ON d.transaction_id = p.transaction_id WHERE d.id > :i AND d.id <= :j ORDER BY p.id"),
            {"i": since, "j": until}).all()
        s.rollback()
    ph = "?" if engine_name == "sqlite" else "%s"
    now = utcnow() if engine_name == "postgresql" else utcnow().isoformat(sep=" ")
    cur = raw.cursor()
    began = time.perf_counter()
    cur.execute("BEGIN IMMEDIATE" if engine_name == "sqlite" else "BEGIN")
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
    new_id = {t.id: i for t, i in zip(txns, ids)}
    _insert_rows(cur, ph, "postings (transaction_id, account_id, date, amount_pence)",
                 [(new_id[p.transaction_id], p.account_id, p.date, p.amount_pence) for p in legs])
    _insert_rows(cur, ph, "transactions (id, kind, date, service_date, person_id, description, created_at)",
                 [(new_id[t.id], t.kind, t.date, t.service_date, t.person_id, t.description, now) for t in txns])
    _insert_rows(cur, ph, "deliveries (person_id, date, start_time, service, unit, quantity_hundredths, status, "
                          "domain, rate, charge_pence, transaction_id, created_at)",
                 [(*d[:10], new_id.get(d.transaction_id), now) for d in dels], per_statement=500)
    cur.execute("COMMIT")
    return time.perf_counter() - began


def run_engine(name: str, n: int, people: int, api_n: int, seed: int) -> None:
    engine = make(name)
    try:
        engine.upgrade()
        app = engine.app()
        build(app, people)
        data = csv_rows(n, people, seed)
        say(f"[{name}] {people:,} people; a CSV of {n:,} rows ({len(data) / 2**20:.1f} MiB)")
        with app.app_context():
            t = time.perf_counter()
            result = import_deliveries(db.session, data, filename="bench.csv")
            db.session.commit()
            ours = time.perf_counter() - t
            again = import_deliveries(db.session, data, filename="bench.csv")
            db.session.commit()
            db.session.remove()
        if (result["written"], again["written"], again["skipped"]) != (n, 0, n):
            raise SystemExit(f"imported {result}, then {again}")
        raw = engine.raw()
        try:
            bare = bare_insert(app, raw, name, 0)
        finally:
            raw.close()
        ratio = ours / bare
        verdict = "within 2x" if ratio <= 2 else f"MISSES 2x by {ratio / 2:.2f}x ({ours - 2 * bare:.1f} s)"
        say(f"[{name}] import {fmt_time(ours)} ({ours / n * 1e6:.0f} us a row); bare insert {fmt_time(bare)}; "
            f"ratio {ratio:.2f}x: {verdict}")
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
            one = sum(bare_insert(app, raw, name, i - 1, i) for i in ids) / len(ids)
        finally:
            raw.close()
        say(f"[{name}] one delivery through the API {api * 1e3:.2f} ms; bare insert {one * 1e3:.2f} ms; "
            f"ratio {api / one:.1f}x")
        with app.app_context():
            db.engine.dispose()
        say()
        say(table(f"{name}: rostering import against the bare insert of its rows",
                  [Row(f"import of {n:,} rows from CSV", ours, bare, None),
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
