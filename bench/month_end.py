"""Month end for N people against its bare lower bound, in the same run.

`python -m bench.month_end [--people 1000] [--engine sqlite|postgresql|both] [--workers 2]`
(10,000: `--people 10000`).

Books: N people, each with a plan from 2026-10-01, a council receipt and its fee on the 1st and
a support charge on about 4 days in 5 of October 2026: the rows the product's create_person,
add_plan and posting engine write (`build`), written in bulk (`bulk_build`, the same rows and ids:
tests/bench/test_bench_books.py compares the two row for row, and the self-audit finds the same in
both), in a child process so the peak memory printed is month end's alone. They are built once
per size, seed and version of the schema and the code they stand in for (`books_key`), kept in the
bench cache (a SQLite file; a PostgreSQL database copied from it), and each run works on a copy:
about 10 s at 10,000 people where building through the engine took 154 s on SQLite and 19 minutes
on PostgreSQL (`--through-engine` still does that).

Measured: `statements.issue_month` for October 2026 (figures, PDFs, storage, closing the month),
seconds in all and per statement, the process's peak memory; then the lower bound on the same
books: the bare aggregate queries over the month (raw DBAPI: every fund's opening from the
checkpoints and the month's movements by kind) plus rendering the same documents month end
issued (read back before the clock starts) with the same renderer and pool, and the ratio of
the two.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, timedelta
from decimal import Decimal

from isf_ledger import clock
from isf_ledger.db import db
from isf_ledger.money import format_pence

from .engines import make, postgres_problem

MONTH = date(2026, 10, 1)
COUNCIL, BUDGET, RECEIVED, FEE = "Northshire", 2_600_000, 200_000, 20_000
TARGET_SECONDS_10K, TARGET_RATIO = 120, 1.5
# `build` commits every COMMIT_EVERY people: each of its database transactions writes the provider
# accounts' checkpoints in one slot (its first person's, ledger.post._checkpoint_slot), and
# bulk_build writes the same rows.
COMMIT_EVERY = 200

BARE_OPENING = """SELECT a.person_id, a.kind, SUM(m.net_pence) FROM account_months m JOIN accounts a ON a.id = m.account_id
                   WHERE a.person_id IS NOT NULL AND m.month < {ph} GROUP BY a.person_id, a.kind"""
BARE_MONTH = """SELECT a.person_id, t.kind, SUM(p.amount_pence) FROM postings p JOIN accounts a ON a.id = p.account_id
                  JOIN transactions t ON t.id = p.transaction_id
                 WHERE a.person_id IS NOT NULL AND p.date >= {ph} AND p.date <= {ph} GROUP BY a.person_id, t.kind"""


def person_month(n: int, seed: int) -> tuple[str, str, list[tuple[date, int]]]:
    """Person n's name, council reference and the month's support charges (day, pence): the same
    random draws for the engine's build and the bulk one."""
    rnd = random.Random(f"{seed}:{n}")
    charges = []
    for d in range(31):
        if rnd.random() < 0.8:
            charges.append((MONTH + timedelta(days=d), rnd.choice((3700, 5550, 7400))))
    return f"Person {n}", f"B{n}", charges


def build(url: str, people: int, seed: int) -> None:
    """The books through the product: create_person, add_plan and one `post` a person (a
    commit every 200 people). Slow (SQLite ~150 s, PostgreSQL ~19 min at 10,000): the benchmark
    uses `bulk_build`, which a test compares with this row for row."""
    from isf_ledger import create_app
    from isf_ledger.accounts.fees import fee_entry
    from isf_ledger.ledger.post import Entry, lock_funds, person_accounts, post, provider_accounts
    from isf_ledger.accounts.people import create_person
    from isf_ledger.accounts.plans import add_plan

    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        s = db.session
        for n in range(people):
            name, reference, charges = person_month(n, seed)
            p = create_person(s, name=name, council=COUNCIL, council_reference=reference,
                              opened_on=MONTH, may_name_council=True)
            add_plan(s, p.id, effective_from=MONTH, annual_budget_pence=BUDGET,
                     planned_weekly_hours={"day_support": Decimal("7.00")})
            funds = lock_funds(s, [p.id])
            acc, prov = person_accounts(s, p.id), provider_accounts(s)
            got = Entry(kind="receipt", date=MONTH, person_id=p.id, description="Received: council payment",
                        legs=[(prov["client_money"], -RECEIVED), (acc["available"], RECEIVED)])
            entries = [got, fee_entry(p.id, MONTH, FEE, acc, prov, "council payment", follows=got)]
            for day, pence in charges:
                entries.append(Entry(kind="delivery", date=day, person_id=p.id, description="Support",
                                     legs=[(acc["available"], -pence), (prov["support_income"], pence),
                                           (prov["client_money"], pence), (prov["provider_bank"], -pence)]))
            post(s, entries, funds)
            if n % COMMIT_EVERY == COMMIT_EVERY - 1:
                s.commit()
        s.commit()
    with app.app_context():
        db.engine.dispose()


def bulk_build(url: str, people: int, seed: int, batch: int = 1000) -> None:
    """The same books as `build`, row for row (tests/bench/test_bench_books.py compares them), written
    as multi-row inserts into a freshly migrated database: the rows create_person, add_plan and
    `post` write (people, funds, accounts, plan versions and services, transaction ids, postings
    before their headers, the monthly checkpoints by account and by kind), with the ids they would
    be given, a commit per `batch` people. The provider accounts' checkpoints are in the slots
    `post` gives them: that of the first person of each of build's commits (COMMIT_EVERY people).
    The database's own triggers still check every transaction balances and stays in one fund. On
    an empty database only."""
    import sqlalchemy as sa

    from isf_ledger import create_app
    from isf_ledger.accounts.councils import council_for_person
    from isf_ledger.accounts.plans import DEFAULT_FEE_RATE
    from isf_ledger.ledger.post import CHECKPOINT_SLOTS, PERSON_ACCOUNTS, provider_accounts
    from isf_ledger.models import (Account, AccountKindMonth, AccountMonth, Fund, Person, PlanService, PlanVersion,
                                   Posting, Transaction, TransactionId)

    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        s = db.session
        if s.scalar(sa.select(sa.func.count()).select_from(Person)):
            raise RuntimeError("bulk_build writes into an empty database only")
        council = council_for_person(s, COUNCIL, may_create=True)
        prov = {k: a.id for k, a in provider_accounts(s).items()}
        account_id = (s.scalar(sa.select(sa.func.max(Account.id))) or 0) + 1
        txn_id = posting_id = 1
        provider_months: dict[tuple[int, int], int] = {}  # (account, slot)
        for lo in range(0, people, batch):
            rows = {t: [] for t in ("people", "funds", "accounts", "plans", "services", "ids", "postings",
                                    "headers", "months", "kinds")}
            for n in range(lo, min(people, lo + batch)):
                pid = n + 1
                slot = (n - n % COMMIT_EVERY + 1) % CHECKPOINT_SLOTS  # build's transaction's first person
                name, reference, charges = person_month(n, seed)
                rows["people"].append({"id": pid, "name": name, "council_id": council.id,
                                       "council_reference": reference})
                rows["funds"].append({"id": pid, "person_id": pid, "opened_on": MONTH})
                acc = {}
                for kind in PERSON_ACCOUNTS:
                    acc[kind] = account_id
                    rows["accounts"].append({"id": account_id, "code": f"person:{pid}:{kind}", "kind": kind,
                                             "person_id": pid, "name": f"Fund {pid}: {kind}"})
                    account_id += 1
                rows["plans"].append({"id": pid, "person_id": pid, "version": 1, "effective_from": MONTH,
                                      "effective_to": None, "annual_budget_pence": BUDGET, "payment_cycle": None,
                                      "management_fee_rate": DEFAULT_FEE_RATE, "contingency_amount_pence": 0,
                                      "weekly_client_contribution_pence": 0,
                                      "planned_weekly_hours": {"day_support": "7.00"}, "rate_overrides": {}})
                rows["services"].append({"plan_id": pid, "service": "day_support", "weekly_hundredths": 700})
                received = txn_id
                entries = [("receipt", MONTH, "Received: council payment", None,
                            [(prov["client_money"], -RECEIVED), (acc["available"], RECEIVED)]),
                           ("fee", MONTH, "Management fee on council payment", received,
                            [(acc["available"], -FEE), (prov["fee_income"], FEE), (prov["client_money"], FEE),
                             (prov["provider_bank"], -FEE)])]
                entries += [("delivery", day, "Support", None,
                             [(acc["available"], -pence), (prov["support_income"], pence),
                              (prov["client_money"], pence), (prov["provider_bank"], -pence)])
                            for day, pence in charges]
                own: dict[int, int] = {}
                by_kind: dict[tuple[int, str], int] = {}
                for kind, day, description, follows, legs in entries:
                    rows["ids"].append({"id": txn_id})
                    for account, pence in legs:
                        rows["postings"].append({"id": posting_id, "transaction_id": txn_id, "account_id": account,
                                                 "date": day, "amount_pence": pence})
                        posting_id += 1
                        if account in prov.values():
                            key = (account, slot)
                            provider_months[key] = provider_months.get(key, 0) + pence
                        else:
                            own[account] = own.get(account, 0) + pence
                            by_kind[(account, kind)] = by_kind.get((account, kind), 0) + pence
                    rows["headers"].append({"id": txn_id, "kind": kind, "date": day, "service_date": day,
                                            "person_id": pid, "description": description, "reverses_id": None,
                                            "follows_id": follows, "reason": None, "created_by": None})
                    txn_id += 1
                rows["months"] += [{"account_id": a, "month": MONTH, "net_pence": p} for a, p in own.items()]
                rows["kinds"] += [{"account_id": a, "month": MONTH, "kind": k, "reverses_kind": "", "net_pence": p}
                                  for (a, k), p in by_kind.items()]
            for model, key in ((Person, "people"), (Fund, "funds"), (Account, "accounts"), (PlanVersion, "plans"),
                               (PlanService, "services"), (TransactionId, "ids"), (Posting, "postings"),
                               (Transaction, "headers"), (AccountMonth, "months"), (AccountKindMonth, "kinds")):
                s.execute(sa.insert(model.__table__), rows[key])
            s.commit()
        s.execute(sa.insert(AccountMonth.__table__), [{"account_id": a, "month": MONTH, "slot": slot, "net_pence": p}
                                                      for (a, slot), p in sorted(provider_months.items())])
        s.commit()
    with app.app_context():
        db.engine.dispose()


def books_key(people: int, seed: int) -> str:
    """What the books depend on: their size and seed, the builders, the schema (every migration)
    and the product code whose rows bulk_build stands in for (build's commits too: they choose the
    provider checkpoints' slots). Any change builds them again."""
    import glob
    import hashlib
    import inspect

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    h = hashlib.sha256(f"{people}:{seed}:{COMMIT_EVERY}".encode())
    for fn in (person_month, build, bulk_build):
        h.update(inspect.getsource(fn).encode())
    paths = sorted(glob.glob(os.path.join(root, "migrations", "versions", "*.py")))
    paths += [os.path.join(root, "isf_ledger", *p.split("/")) for p in (
        "ledger/post.py", "accounts/people.py", "accounts/plans.py", "accounts/fees.py", "accounts/councils.py")]
    paths += sorted(glob.glob(os.path.join(root, "isf_ledger", "models", "*.py")))
    for path in paths:
        with open(path, "rb") as f:
            h.update(f.read())
    return f"{people}_{seed}_{h.hexdigest()[:12]}"


def sqlite_template(people: int, seed: int, say=print) -> str:
    """A SQLite file holding the books (bulk_build), kept in the bench cache
    under books_key and copied for each run: month end writes into its copy."""
    import shutil
    import sqlite3

    from .engines import CACHE_DIR

    path = os.path.join(CACHE_DIR, f"month_end-{books_key(people, seed)}.db")
    if os.path.exists(path):
        say(f"[sqlite] reusing the books kept at {path}")
        return path
    os.makedirs(CACHE_DIR, exist_ok=True)
    engine = make("sqlite")
    try:
        engine.upgrade()
        t = time.perf_counter()
        run_child(bulk_build, engine.url, people, seed)
        say(f"[sqlite] built {people:,} people x a month in {time.perf_counter() - t:.1f} s (bulk_build)")
        conn = sqlite3.connect(engine.path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        shutil.copyfile(engine.path, path + ".part")
        os.replace(path + ".part", path)
    finally:
        engine.close()
    return path


def postgres_template(people: int, seed: int, say=print) -> str:
    """A PostgreSQL database holding the same books, copied from the SQLite template (bench.books
    .copy_books: the same rows and ids) and vacuumed and analysed; each run's database is created
    from it (CREATE DATABASE ... TEMPLATE). A marker file says it was finished."""
    from .books import copy_books
    from .engines import CACHE_DIR

    key = books_key(people, seed)
    engine = make("postgresql", f"me_{key}")  # kept: close() leaves the database
    marker = os.path.join(CACHE_DIR, f"month_end-pg-{key}.done")
    try:
        if os.path.exists(marker):
            say(f"[postgresql] reusing the books kept in database {engine.db_name}")
            return engine.db_name
        source = sqlite_template(people, seed, say)
        engine.upgrade()
        t = time.perf_counter()
        copy_books(source, engine, say)
        engine.after_build()
        say(f"[postgresql] copied the books from {source} in {time.perf_counter() - t:.1f} s, then VACUUM ANALYZE")
        with open(marker, "w") as f:
            f.write(engine.db_name + "\n")
        return engine.db_name
    finally:
        engine.close()


def fresh_books(name: str, people: int, seed: int, say=print):
    """A database of the engine's kind holding a copy of the kept books, for one run."""
    import shutil

    if name == "sqlite":
        source = sqlite_template(people, seed, say)
        engine = make("sqlite")
        shutil.copyfile(source, engine.path)
        return engine
    return make("postgresql", template=postgres_template(people, seed, say))


def audit_books(url: str) -> dict:
    """The self-audit's problems on the books at url (none: {}), each check's sorted: the audit lists
    them in the order the database returns them, which PostgreSQL does not fix."""
    from isf_ledger import create_app
    from isf_ledger.workflows.self_audit import audit

    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        found = {k: sorted(v) for k, v in audit(db.session).items() if v}
        db.session.rollback()
        db.engine.dispose()
    return found


def _child(queue, fn, args):
    queue.put(fn(*args))


def run_child(fn, *args):
    """fn(*args) in a spawned process (the parent's memory stays month end's alone); its result."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue, fn, args))
    child.start()
    while True:
        try:
            out = queue.get(timeout=1)
            break
        except Exception:  # noqa: BLE001 - queue.Empty: still working, unless it died
            if not child.is_alive():
                raise RuntimeError(f"{fn.__name__} failed in its process (exit {child.exitcode})") from None
    child.join()
    return out


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def workers_peak_mib(pool) -> float:
    """The largest peak resident memory of the render workers (Linux /proc; 0 elsewhere)."""
    peak = 0.0
    for pid in getattr(pool, "_processes", None) or {}:
        try:
            with open(f"/proc/{pid}/status") as f:
                peak = max([peak] + [int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:")])
        except OSError:
            pass
    return peak


def issued_documents(engine) -> list[dict]:
    """The statements month end issued, as the documents it rendered (figures, number, date),
    read with bare SQL before the lower bound's clock starts: the bound writes the same documents."""
    raw = engine.raw()
    cur = raw.cursor()
    cur.execute("SELECT figures, number, issued_at FROM statements WHERE version = 1 ORDER BY number")
    docs = []
    for figures, number, issued_at in cur.fetchall():
        figures = json.loads(figures) if isinstance(figures, str) else figures
        issued_at = issued_at if isinstance(issued_at, str) else issued_at.isoformat()
        if "T" not in issued_at:  # SQLite keeps "YYYY-MM-DD HH:MM:SS": as datetime.isoformat() has it
            issued_at = datetime.fromisoformat(issued_at).isoformat()
        docs.append({**figures, "number": number, "issued_at": issued_at, "replaces": None, "reason": None})
    raw.close()
    return docs


def lower_bound(engine, pool, docs: list[dict]) -> float:
    """Bare aggregates over the month, then the same documents month end issued rendered with the
    same renderer, all handed to the pool at once (no batches, no app)."""
    from isf_ledger.reports.render_pool import render_later

    began = time.perf_counter()
    raw, ph = engine.raw(), engine.placeholder()
    cur = raw.cursor()
    cur.execute(BARE_OPENING.format(ph=ph), (MONTH,))
    opening = {(p, k): int(v) for p, k, v in cur.fetchall()}
    cur.execute(BARE_MONTH.format(ph=ph), (MONTH, date(2026, 10, 31)))
    moved: dict[int, dict[str, int]] = {}
    for p, k, v in cur.fetchall():
        moved.setdefault(p, {})[k] = int(v)
    raw.close()
    pdfs = 0
    for pdf in render_later(docs, pool):
        pdfs += 1
    seconds = time.perf_counter() - began
    for doc in docs:  # the bare figures are the issued ones (checked off the clock)
        pid = doc["person_id"]
        closing = opening.get((pid, "available"), 0) + sum(moved.get(pid, {}).values())
        if format_pence(closing) != doc["closing_balance"] or pdfs != len(docs):
            raise RuntimeError(f"person {pid}: bare closing {format_pence(closing)}, issued {doc['closing_balance']}")
    return seconds


def run(name: str, people: int, workers: int, seed: int, through_engine: bool = False) -> None:
    from isf_ledger.reports import statements as st

    if through_engine:
        engine = make(name)
        engine.upgrade()
        t = time.perf_counter()
        run_child(build, engine.url, people, seed)
        print(f"[{name}] built {people:,} people x a month through the posting engine in "
              f"{time.perf_counter() - t:.1f} s", flush=True)
        note = engine.after_build()  # PostgreSQL: VACUUM ANALYZE, as autovacuum would (it is off here)
        if note:
            print(f"[{name}] {note}", flush=True)
    else:
        t = time.perf_counter()
        engine = fresh_books(name, people, seed, lambda line: print(line, flush=True))
        print(f"[{name}] a copy of the kept books ready in {time.perf_counter() - t:.1f} s", flush=True)
    try:
        app = engine.app()
        clock.today = lambda: date(2026, 11, 3)
        pool = ProcessPoolExecutor(workers) if workers else None
        if pool is not None:
            list(pool.map(abs, range(workers)))  # start the workers before the clock runs
        base_mem = peak_mib()
        with app.app_context():
            began = time.perf_counter()
            done = st.issue_month(db.session, MONTH, pool=pool)
            db.session.commit()
            seconds = time.perf_counter() - began
            db.session.remove()
            db.engine.dispose()
        if done.issued != people:
            raise RuntimeError(f"issued {done.issued} of {people}")
        mem, worker_mem = peak_mib(), workers_peak_mib(pool)
        load = os.getloadavg()[0]
        docs = issued_documents(engine)
        bound, rendered = lower_bound(engine, pool, docs), len(docs)
        del docs
        if pool is not None:
            pool.shutdown()
        ratio = seconds / bound
        print(f"[{name}] month end: {done.issued:,} statements in {seconds:.1f} s "
              f"({seconds / done.issued * 1000:.1f} ms each), peak memory {mem:.0f} MiB "
              f"(before month end {base_mem:.0f} MiB), workers {workers or 'none'} (each at most {worker_mem:.0f} MiB); "
              f"load average {load:.2f}", flush=True)
        print(f"[{name}] lower bound (bare aggregates + the same {rendered:,} documents, same renderer): {bound:.1f} s; "
              f"ratio {ratio:.2f}x (target {TARGET_RATIO}x{'' if ratio <= TARGET_RATIO else ': MISSED by %.2fx' % (ratio / TARGET_RATIO)})",
              flush=True)
        at_10k = seconds / people * 10_000
        print(f"[{name}] at this rate 10,000 people take {at_10k:.0f} s (target {TARGET_SECONDS_10K} s)"
              f"{'' if at_10k <= TARGET_SECONDS_10K else ': MISSED'}", flush=True)
    finally:
        engine.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=1000)
    ap.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--workers", type=int, default=2, help="processes rendering PDFs (0: none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--through-engine", action="store_true",
                    help="build the books through the posting engine (slow) rather than copy the kept ones")
    args = ap.parse_args()
    names = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for name in names:
        if name == "postgresql" and postgres_problem():
            print(f"[postgresql] skipped: {postgres_problem()}")
            continue
        run(name, args.people, args.workers, args.seed, args.through_engine)


if __name__ == "__main__":
    main()
