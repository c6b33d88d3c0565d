"""Month end for N people against its bare lower bound, in the same run.

`python -m bench.month_end [--people 1000] [--engine sqlite|postgresql|both] [--workers 2]`
(10,000: `--people 10000`; building the books takes a few minutes more than month end itself).

Books: N people, each with a plan from 2026-10-01, a council receipt and its fee on the 1st and
a support charge on about 4 days in 5 of October 2026, written through the posting engine in a
child process (so the peak memory printed is month end's alone).

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
TARGET_SECONDS_10K, TARGET_RATIO = 120, 1.5

BARE_OPENING = """SELECT a.person_id, a.kind, SUM(m.net_pence) FROM account_months m JOIN accounts a ON a.id = m.account_id
                   WHERE a.person_id IS NOT NULL AND m.month < {ph} GROUP BY a.person_id, a.kind"""
BARE_MONTH = """SELECT a.person_id, t.kind, SUM(p.amount_pence) FROM postings p JOIN accounts a ON a.id = p.account_id
                  JOIN transactions t ON t.id = p.transaction_id
                 WHERE a.person_id IS NOT NULL AND p.date >= {ph} AND p.date <= {ph} GROUP BY a.person_id, t.kind"""


def build(url: str, people: int, seed: int) -> None:
    from isf_ledger import create_app
    from isf_ledger.accounts.fees import fee_entry
    from isf_ledger.ledger.post import Entry, lock_funds, person_accounts, post, provider_accounts
    from isf_ledger.accounts.people import create_person
    from isf_ledger.accounts.plans import add_plan

    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        s = db.session
        for n in range(people):
            rnd = random.Random(f"{seed}:{n}")
            p = create_person(s, name=f"Person {n}", council="Northshire", council_reference=f"B{n}",
                              opened_on=MONTH, may_name_council=True)
            add_plan(s, p.id, effective_from=MONTH, annual_budget_pence=2_600_000,
                     planned_weekly_hours={"day_support": Decimal("7.00")})
            funds = lock_funds(s, [p.id])
            acc, prov = person_accounts(s, p.id), provider_accounts(s)
            got = Entry(kind="receipt", date=MONTH, person_id=p.id, description="Received: council payment",
                        legs=[(prov["client_money"], -200_000), (acc["available"], 200_000)])
            entries = [got, fee_entry(p.id, MONTH, 20_000, acc, prov, "council payment", follows=got)]
            for d in range(31):
                if rnd.random() < 0.8:
                    pence = rnd.choice((3700, 5550, 7400))
                    entries.append(Entry(kind="delivery", date=MONTH + timedelta(days=d), person_id=p.id,
                                         description="Support",
                                         legs=[(acc["available"], -pence), (prov["support_income"], pence),
                                               (prov["client_money"], pence), (prov["provider_bank"], -pence)]))
            post(s, entries, funds)
            if n % 200 == 199:
                s.commit()
        s.commit()
    with app.app_context():
        db.engine.dispose()


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
    from isf_ledger.reports.statements import render_later

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


def run(name: str, people: int, workers: int, seed: int) -> None:
    from isf_ledger.reports import statements as st

    engine = make(name)
    try:
        engine.upgrade()
        t = time.perf_counter()
        child = mp.get_context("spawn").Process(target=build, args=(engine.url, people, seed))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError("building the books failed")
        print(f"[{name}] built {people:,} people x a month in {time.perf_counter() - t:.1f} s", flush=True)
        note = engine.after_build()  # PostgreSQL: VACUUM ANALYZE, as autovacuum would (it is off here)
        if note:
            print(f"[{name}] {note}", flush=True)
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
    args = ap.parse_args()
    names = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for name in names:
        if name == "postgresql" and postgres_problem():
            print(f"[postgresql] skipped: {postgres_problem()}")
            continue
        run(name, args.people, args.workers, args.seed)


if __name__ == "__main__":
    main()
