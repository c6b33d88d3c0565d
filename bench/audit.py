"""`python -m bench audit [--people N] [--quick] [--engine sqlite|postgresql|both]`: the self-audit
(`isf-ledger audit`) on 1,000,000+ postings, its seconds and peak Python memory (tracemalloc),
beside the bare GROUP BY over postings (the first thing any audit must do) measured in the same
run on the same books. The default 820 people x 1 year come to about 1.02 million postings."""
from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

from isf_ledger.workflows.self_audit import audit
from isf_ledger.db import db

from . import books as b
from .engines import make, postgres_problem
from .report import Row, table

BARE = ("SELECT transaction_id, SUM(amount_pence), COUNT(*) FROM postings GROUP BY transaction_id "
        "HAVING SUM(amount_pence) <> 0 OR COUNT(*) < 2")


def run_audit(app) -> int:
    with app.app_context():
        found = audit(db.session)
        db.session.rollback()
        db.session.remove()
    return sum(len(v) for v in found.values())


def run_bare(raw) -> int:
    cur = raw.cursor()
    cur.execute(BARE)
    rows = cur.fetchall()
    if hasattr(raw, "rollback"):
        raw.rollback()
    return len(rows)


def timed(fn, runs: int) -> tuple[float, int]:
    """Median seconds of `runs` calls, then the peak of Python memory over one more call."""
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - began)
    tracemalloc.start()
    try:
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return statistics.median(seconds), peak


def run_engine(name: str, args, say) -> bool:
    engine = make(name)
    try:
        engine.upgrade()
        app = engine.app()
        say(f"[{name}] building {args.people:,} people x 1 year through the posting engine")
        books = b.build(app, args.people, 1, args.seed, say, engine.maintain)
        counted = b.counts(app)
        say(f"[{name}] built in {books.built.seconds:.1f} s: "
            + ", ".join(f"{n:,} {t}" for t, n in counted.items()) + f"; {engine.size()}")
        for note in (engine.maintenance_note(), engine.after_build()):
            if note:
                say(f"[{name}] {note}")
        problems = run_audit(app)  # also warms the caches, as the bare query's first run does
        if problems:
            say(f"[{name}] THE BOOKS DO NOT HOLD: {problems} problem(s); no measurements taken")
            return False
        raw = engine.raw()
        try:
            run_bare(raw)
            bare_s, bare_peak = timed(lambda: run_bare(raw), args.runs)
        finally:
            raw.close()
        audit_s, audit_peak = timed(lambda: run_audit(app), args.runs)
        with app.app_context():
            db.engine.dispose()
        say()
        say(table(f"{name}: the self-audit on {counted['postings']:,} postings, {counted['receipts']:,} receipts "
                  f"(median of {args.runs})",
                  [Row("audit, every check, seconds", audit_s, bare_s, None)]))
        say(f"  peak Python memory (tracemalloc): audit {audit_peak / 2**20:.1f} MiB, "
            f"bare GROUP BY {bare_peak / 2**20:.1f} MiB")
        return True
    finally:
        engine.close()


def main(argv, say) -> int:
    p = argparse.ArgumentParser(prog="python -m bench audit", description=__doc__)
    p.add_argument("--people", type=int, default=None, help="people with a year's history (default 820)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 100 people unless --people is given")
    p.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--runs", type=int, default=3, help="timed runs of each side (default 3)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.people is None:
        args.people = 100 if args.quick else 820
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if "postgresql" in engines and postgres_problem():
        say(f"PostgreSQL not reachable ({postgres_problem()}): skipped")
        engines.remove("postgresql")
    return 0 if all([run_engine(name, args, say) for name in engines]) else 1
