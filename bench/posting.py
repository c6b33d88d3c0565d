"""`python -m bench posting [--people N] [--single N] [--engine sqlite|postgresql|both]`: writing
through the posting engine (`ledger.lock_funds` then `ledger.post`, then a commit) against the
bare insert of the same transactions, postings and checkpoints through the DBAPI, in the same run.

Each person's month is the month-end benchmark's: a council receipt, its management fee and a
support charge on about 20 days (4 legs each), about 22 transactions and 84 postings. Three ways
of writing, each timed against its own bare insert (target within 3x, performance.md):

1. one transaction at a time, each locked, posted and committed alone (the API's way);
2. a person's month in one `post` and one commit (the demo's and the month-end books' way);
3. many people's months in one `post` and one commit (an import's chunk).

The bare insert of each allocates the ids as the engine does (the database refuses postings for
an id it did not allocate), then writes the postings, the headers and the two checkpoint tables'
upserts as multi-row statements, so it pays the ledger's own triggers and indexes; it locks no
fund and reads no balance. The people, funds and accounts are set up with bulk inserts, not
measured. After each commit, on either side, the database is analysed as autovacuum would
(`Engine.maintain`; this machine's server runs without autovacuum), not timed: without it the
plans PostgreSQL caches for the foreign-key checks and the ledger's triggers while the tables
are nearly empty stay in force as they grow, and a long-lived connection slows quadratically.
"""
from __future__ import annotations

import argparse
import random
import time
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from isf_ledger.accounts.fees import fee_entry, fee_on
from isf_ledger.clock import month_start
from isf_ledger.db import db
from isf_ledger.ledger.post import CHECKPOINT_SLOTS, Entry, lock_funds, post, provider_accounts
from isf_ledger.models import Account

from .engines import make, postgres_problem
from .imports import build
from .report import Row, table
from .shared import _insert_rows

MONTH = date(2026, 3, 1)


def month_of_entries(person_id: int, fund: dict, provider: dict, rng: random.Random) -> list[Entry]:
    """One person's month: a receipt, its fee, and a charge on about 4 days in 5."""
    received = 120_000 + rng.randrange(100) * 100
    out = [Entry(kind="receipt", date=MONTH, person_id=person_id, description=f"Received: remittance {person_id}",
                 legs=[(provider["client_money"], -received), (fund["available"], received)])]
    out.append(fee_entry(person_id, MONTH, fee_on(received, Decimal("0.10")), fund, provider, f"remittance {person_id}"))
    for d in range(28):
        if rng.randrange(100) < 75:
            p = 3_000 + rng.randrange(2_000)
            day = MONTH + timedelta(days=d)
            out.append(Entry(kind="delivery", date=day, person_id=person_id, description=f"Support on {day}",
                             legs=[(fund["available"], -p), (provider["support_income"], p),
                                   (provider["client_money"], p), (provider["provider_bank"], -p)]))
    return out


def ledger_write(app, batches: list[list[Entry]], maintain) -> float:
    """Seconds to write each batch through the engine: lock its funds, post, commit."""
    spent = 0.0
    with app.app_context():
        s = db.session
        for entries in batches:
            began = time.perf_counter()
            funds = lock_funds(s, {e.person_id for e in entries})
            post(s, entries, funds)
            s.commit()
            spent += time.perf_counter() - began
            maintain()
        s.remove()
    return spent


def _checkpoint_sql(table_name: str, keys: tuple[str, ...], ph: str, n: int) -> str:
    cols = (*keys, "net_pence")
    values = ", ".join(["(" + ", ".join([ph] * len(cols)) + ")"] * n)
    return (f"INSERT INTO {table_name} ({', '.join(cols)}) VALUES {values} ON CONFLICT ({', '.join(keys)}) "
            f"DO UPDATE SET net_pence = {table_name}.net_pence + excluded.net_pence")


def bare_write(raw, engine_name: str, batches: list[list[Entry]], maintain) -> float:
    """Seconds to insert the same batches again through the DBAPI, one database transaction each."""
    ph = "?" if engine_name == "sqlite" else "%s"
    if engine_name == "sqlite":
        allocate = ("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?) "
                    "INSERT INTO transaction_ids (id) SELECT NULL FROM k RETURNING id")
    else:
        allocate = ("INSERT INTO transaction_ids (id) SELECT nextval(pg_get_serial_sequence('transactions', 'id')) "
                    "FROM generate_series(1, %s) RETURNING id")
    now = "2026-03-31 12:00:00"
    cur = raw.cursor()
    spent = 0.0
    for entries in batches:
        began = time.perf_counter()
        cur.execute("BEGIN IMMEDIATE" if engine_name == "sqlite" else "BEGIN")
        cur.execute(allocate, (len(entries),))
        ids = sorted(r[0] for r in cur.fetchall())
        legs, heads, months, kinds = [], [], {}, {}
        # The provider accounts' checkpoint slot, as post() chooses it: the transaction's first fund's.
        first = next((e.person_id for e in entries if e.person_id is not None), None)
        slot = 0 if first is None else first % CHECKPOINT_SLOTS
        for txn, e in zip(ids, entries):
            month = month_start(e.date)
            for account, pence in e.legs:
                legs.append((txn, account.id, e.date, pence))
                key = (account.id, month, 0 if account.person_id is not None else slot)
                months[key] = months.get(key, 0) + pence
                if account.person_id is not None:
                    key = (account.id, month, e.kind, "")
                    kinds[key] = kinds.get(key, 0) + pence
            heads.append((txn, e.kind, e.date, e.date, e.person_id, e.description, now))
        _insert_rows(cur, ph, "postings (transaction_id, account_id, date, amount_pence)", legs)
        _insert_rows(cur, ph, "transactions (id, kind, date, service_date, person_id, description, created_at)",
                     heads)
        for name, keys, rows in (("account_months", ("account_id", "month", "slot"), months),
                                 ("account_kind_months", ("account_id", "month", "kind", "reverses_kind"), kinds)):
            items = sorted(rows.items())
            for i in range(0, len(items), 500):
                chunk = items[i:i + 500]
                cur.execute(_checkpoint_sql(name, keys, ph, len(chunk)), [v for k, p in chunk for v in (*k, p)])
        cur.execute("COMMIT")
        spent += time.perf_counter() - began
        maintain()
    return spent


def copies(batches: list[list[Entry]]) -> list[list[Entry]]:
    """The same entries again, unposted (post() marks the ones it writes)."""
    return [[Entry(kind=e.kind, date=e.date, legs=list(e.legs), person_id=e.person_id, description=e.description)
             for e in entries] for entries in batches]


def run_engine(name: str, args, say) -> None:
    engine = make(name)
    try:
        engine.upgrade()
        app = engine.app()
        people = args.single_people + args.people + args.import_people
        build(app, people)
        rng = random.Random(args.seed)
        with app.app_context():
            s = db.session
            provider = provider_accounts(s)
            funds: dict[int, dict] = {}
            for a in s.scalars(sa.select(Account).where(Account.person_id.is_not(None))):
                funds.setdefault(a.person_id, {})[a.kind] = a
            for a in [*provider.values(), *(x for f in funds.values() for x in f.values())]:
                s.expunge(a)
            s.remove()
        months = {pid: month_of_entries(pid, funds[pid], provider, rng) for pid in sorted(funds)}
        pids = sorted(months)
        single_pids = pids[:args.single_people]
        batch_pids = pids[args.single_people:args.single_people + args.people]
        import_pids = pids[args.single_people + args.people:]
        ways = [
            ("one transaction at a time", [[e] for p in single_pids for e in months[p]]),
            ("a person's month in one post", [months[p] for p in batch_pids]),
            (f"{args.import_people} people's months in one post",
             [[e for p in import_pids for e in months[p]]]),
        ]
        rows, lines = [], []
        raw = engine.raw()
        try:
            if name == "sqlite":
                raw.isolation_level = None  # BEGIN and COMMIT as written
            for what, batches in ways:
                n = sum(len(b) for b in batches)
                legs = sum(len(e.legs) for b in batches for e in b)
                again = copies(batches)
                ours = ledger_write(app, batches, engine.maintain)
                bare = bare_write(raw, name, again, engine.maintain)
                rows.append(Row(f"{what}: {n:,} transactions, {legs:,} postings", ours, bare, 3))
                lines.append(f"  {what}: {n / ours:,.0f} transactions a second through the engine, "
                             f"{n / bare:,.0f} bare")
        finally:
            raw.close()
        with app.app_context():
            db.engine.dispose()
        say()
        note = engine.maintenance_note()
        if note:
            say(f"[{name}] {note} (not timed)")
        say(table(f"{name}: writing through the posting engine against the bare insert of the same rows", rows))
        for line in lines:
            say(line)
        say()
    finally:
        engine.close()


def main(argv, say) -> int:
    p = argparse.ArgumentParser(prog="python -m bench posting", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--single-people", type=int, default=None,
                   help="people whose month is written a transaction at a time (default 40)")
    p.add_argument("--people", type=int, default=None, help="people whose month is one post each (default 300)")
    p.add_argument("--import-people", type=int, default=None, help="people in the one big post (default 300)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 5, 30 and 30 people")
    p.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    for attr, full, quick in (("single_people", 40, 5), ("people", 300, 30), ("import_people", 300, 30)):
        if getattr(args, attr) is None:
            setattr(args, attr, quick if args.quick else full)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if "postgresql" in engines and postgres_problem():
        say(f"PostgreSQL not reachable ({postgres_problem()}): skipped")
        engines.remove("postgresql")
    for name in engines:
        run_engine(name, args, say)
    return 0
