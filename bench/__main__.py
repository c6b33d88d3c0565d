"""`python -m bench [--people N] [--years Y] [--quick] [--engine sqlite|postgresql|both]`;
`python -m bench audit [--quick]` for the self-audit alone (see bench/audit.py);
`python -m bench posting [--quick]` for writing through the posting engine (see bench/posting.py)."""
from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

from isf_ledger.db import db

from . import books as b
from .balance import PersonBalance, WrongAnswer, every_balance
from .engines import make, postgres_problem
from .reads import measure_reads
from .report import Row, fmt_time, table


def say(text: str = "") -> None:
    print(text, flush=True)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_engine(name: str, args) -> bool:
    """Build, audit and measure on one engine; False when the books do not hold."""
    began = time.perf_counter()
    engine = make(name)
    try:
        engine.upgrade()
        app = engine.app()
        say(f"[{name}] building {args.people:,} people x {args.years} year(s), plus one person with 5 years "
            f"and one with 1 month, through the posting engine (a commit per person)")
        books = b.build(app, args.people, args.years, args.seed, say, engine.maintain)
        counted = b.counts(app)
        built = books.built
        say(f"[{name}] built in {built.seconds:.1f} s ({built.seconds / built.people * 1000:.0f} ms a person): "
            + ", ".join(f"{n:,} {t}" for t, n in counted.items()) + f"; {engine.size()}")
        if (counted["transactions"], counted["postings"]) != (built.transactions, built.postings):
            raise WrongAnswer(f"posted {built.transactions} transactions / {built.postings} postings, "
                              f"the database holds {counted['transactions']} / {counted['postings']}")
        note = engine.maintenance_note()
        if note:
            say(f"[{name}] {note}")
        note = engine.after_build()
        if note:
            say(f"[{name}] {note}")
        b.run_audit(app, books)
        say(f"[{name}] audit ({books.audit_seconds:.1f} s):")
        for line in books.audit_lines:
            say(f"    {line}")
        if books.audit_problems:
            say(f"[{name}] THE BOOKS DO NOT HOLD: {books.audit_problems} problem(s); no measurements taken")
            return False
        say(f"[{name}] the books hold")
        with app.app_context():
            db.engine.dispose()  # the measurements start from a cold pool, as a fresh process would

        raw = engine.raw()
        try:
            rows = measure(app, raw, engine.placeholder(), books, args)
        finally:
            raw.close()
        with app.app_context():
            db.engine.dispose()
        say()
        say(table(f"{name}: {args.people:,} people x {args.years} year(s), as of {books.as_of.isoformat()} "
                  f"({counted['postings']:,} postings)", rows))
        say()
        say(f"[{name}] done in {time.perf_counter() - began:.1f} s")
        return True
    finally:
        engine.close()


def measure(app, raw, ph, books: b.Books, args) -> list[Row]:
    calls = args.calls
    pb = PersonBalance(app, raw, ph, books)
    for pid in (books.typical, books.one_month, books.five_years):
        pb.check(pid)
    t = pb.time_calls({
        "api": lambda: pb.api(books.typical),
        "bare": lambda: pb.bare(books.typical),
        "api_1m": lambda: pb.api(books.one_month),
        "api_5y": lambda: pb.api(books.five_years),
        "bare_5y": lambda: pb.bare(books.five_years),
    }, calls)
    runs = args.runs
    every = every_balance(app, raw, ph, books.as_of, runs)
    return [
        Row(f"1. API balance, one person ({args.years}y), median of {calls}", t["api"].median, t["bare"].median, 30),
        Row(f"1. API balance, one person ({args.years}y), p95 of {calls}", t["api"].p95, t["bare"].p95, 30),
        Row("2. API balance, 5 years vs 1 month, median", t["api_5y"].median, t["api_1m"].median, 1.2),
        Row("2. API balance, 5 years vs 1 month, p95", t["api_5y"].p95, t["api_1m"].p95, 1.2),
        Row("   (bare sum, 5 years vs one person's {}y), median".format(args.years),
            t["bare_5y"].median, t["bare"].median, None),
        Row(f"3. every fund's balance, balances(), median of {runs}", every["ours"].median,
            every["bare"].median, 2),
        *measure_reads(app, raw, ph, books, calls, runs),
    ]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["audit"]:
        from .audit import main as audit_main

        return audit_main(argv[1:], say)
    if argv[:1] == ["posting"]:
        from .posting import main as posting_main

        return posting_main(argv[1:], say)
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--people", type=int, default=None, help="people with the default history (default 1000)")
    p.add_argument("--years", type=int, default=1, help="years of history each (default 1)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 100 people unless --people is given")
    p.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--calls", type=int, default=300, help="API calls timed per measure (default 300)")
    p.add_argument("--runs", type=int, default=7, help="runs of every fund's balance (default 7)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.people is None:
        args.people = 100 if args.quick else 1000
    if args.people < 1 or args.years < 1:
        p.error("--people and --years must be at least 1")

    began = time.perf_counter()
    say(f"python -m bench: {args.people:,} people x {args.years} year(s), engine {args.engine}; "
        f"{os.cpu_count()} cores, load average {load()} (other work on the machine shares the cores)")
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    status = 0
    if "postgresql" in engines:
        problem = postgres_problem()
        if problem:
            say(f"PostgreSQL not reachable ({problem}): " + ("skipped" if args.engine == "both" else "cannot run"))
            engines.remove("postgresql")
            if args.engine == "postgresql":
                status = 2
    for name in engines:
        try:
            if not run_engine(name, args):
                status = 1
        except Exception:  # noqa: BLE001 - report, carry on with the next engine, fail the run
            traceback.print_exc()
            say(f"[{name}] CRASHED")
            status = 1
        say()
    say(f"total {fmt_time(time.perf_counter() - began)}; load average now {load()}; exit {status}")
    return status


if __name__ == "__main__":
    sys.exit(main())
