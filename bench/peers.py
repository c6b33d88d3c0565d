"""The peers on the same books (issue 26 item 2): our own books, exported with `isf-ledger export`,
and every person's balance and one person's, timed in ledger-cli, hledger and beancount against
ours, in one run, with the ratios and the targets (performance.md: at least 100x the fastest tool
for every balance, 1,000x for one person's).

    python -m bench.peers [--people 1000] [--years 1] [--runs 3] [--keep]

Ours: `ledger.balances()` for every account as of the books' last day (what the dashboard and month
end read), in-process, median of --runs; one person's balance through the API in-process
(`GET /api/v1/people/{id}/balance`, token check, query, JSON), median of 100 calls. The tools: a
whole process each (they re-read the whole file for every question), median of --runs, with its
peak memory: `ledger -f books.ledger bal Liabilities:Funds` and `... bal <one account>`; `hledger`
the same on the same file; beancount 3 in a Python process of its own, `loader.load_file` (which
validates, as `bean-query` does before any query) then the sums by account over its entries (the
`beanquery` package is not installed here, so its `GROUP BY account` is done by the same loop).
Each tool's figure for the one person is checked against ours to the penny before any time is kept.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

from isf_ledger.db import db

from . import books as b
from .balance import PersonBalance, WrongAnswer, every_balance
from .engines import make

BEANCOUNT_SUMS = r"""
import sys
from collections import defaultdict
from decimal import Decimal
from beancount import loader
from beancount.core.data import Transaction
path, prefix = sys.argv[1], sys.argv[2]
entries, errors, _ = loader.load_file(path)
if errors:
    sys.exit(f"{len(errors)} errors, e.g. {errors[0]}")
sums = defaultdict(Decimal)
for e in entries:
    if isinstance(e, Transaction):
        for p in e.postings:
            if p.account.startswith(prefix):
                sums[p.account] += p.units.number
for account in sorted(sums):
    print(f"{sums[account]} {account}")
"""


def say(text: str = "") -> None:
    print(text, flush=True)


def run_tool(cmd: list[str]) -> tuple[float, int, str]:
    """(seconds, peak resident KiB, stdout) of one whole process."""
    out = tempfile.TemporaryFile("w+")
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read()
    proc.stderr.close()
    out.seek(0)
    text = out.read()
    out.close()
    if proc.returncode != 0:
        raise WrongAnswer(f"{' '.join(cmd[:4])}... exited {proc.returncode}: {err[-400:]}")
    return seconds, usage.ru_maxrss, text


def figure_for(text: str, account: str) -> Decimal:
    """The amount on the line naming `account` (ledger, hledger and our beancount loop print one)."""
    for line in text.splitlines():
        if line.rstrip().endswith(account) or line.startswith(account):
            m = re.search(r"-?[\d,]+\.\d\d", line.replace(account, ""))
            if m:
                return Decimal(m.group(0).replace(",", ""))
    raise WrongAnswer(f"no figure for {account} in:\n{text[:500]}")


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.split("\n\n")[0])
    p.add_argument("--people", type=int, default=1000)
    p.add_argument("--years", type=int, default=1)
    p.add_argument("--runs", type=int, default=3, help="whole-process runs of each tool (default 3)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the built books for the next run (ISF_BENCH_CACHE)")
    args = p.parse_args(argv)
    tools = {name: shutil.which(name) for name in ("ledger", "hledger")}
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    say(f"python -m bench.peers: {args.people:,} people x {args.years} year(s), SQLite; {os.cpu_count()} cores, "
        f"load average {load}")
    engine = make("sqlite", f"peers-{args.people}x{args.years}-s{args.seed}" if args.keep else None)
    work = tempfile.mkdtemp(prefix="isf-peers-")
    app = None
    try:
        engine.upgrade()
        app = engine.app()

        def build():
            return b.build(app, args.people, args.years, args.seed, say, engine.maintain)
        books = b.kept(engine, build, say) if args.keep else build()
        counted = b.counts(app)
        say("  books: " + ", ".join(f"{n:,} {t}" for t, n in counted.items()))
        from isf_ledger.exports import plain_text as pt
        from isf_ledger.api.exports import export

        files = {}
        for fmt_name in ("beancount", "ledger"):
            t = time.perf_counter()
            with app.app_context():
                body, *_ = export(db.session, fmt_name, None, books.as_of.isoformat())
                path = os.path.join(work, f"books.{pt.EXTENSIONS[fmt_name]}")
                with open(path, "wb") as f:
                    for block in pt.in_blocks(body):
                        f.write(block)
                db.session.remove()
            files[fmt_name] = path
            say(f"  exported {fmt_name}: {os.path.getsize(path) / 2**20:.0f} MiB in {time.perf_counter() - t:.1f} s")

        # Ours, checked against bare SQL first (bench.balance).
        raw = engine.raw()
        try:
            every = every_balance(app, raw, "?", books.as_of, max(args.runs, 5))["ours"].median
            pb = PersonBalance(app, raw, "?", books)
            ours_one = Decimal(pb.check(books.typical))
            one = pb.time_calls({"api": lambda: pb.api(books.typical)}, 100, 10)["api"].median
        finally:
            raw.close()
        account = f"Liabilities:Funds:P{books.typical:04d}:Available"
        say(f"  ours: every balance {fmt(every)}, one person's (person {books.typical}, {ours_one}) {fmt(one)}")

        questions = {"every": "Liabilities:Funds", "one": account}
        commands = {}
        if tools["ledger"]:
            commands["ledger-cli"] = {q: [tools["ledger"], "-f", files["ledger"], "--flat", "bal", a]
                                      for q, a in questions.items()}
        if tools["hledger"]:
            commands["hledger"] = {q: [tools["hledger"], "-f", files["ledger"], "bal", "--flat", a]
                                   for q, a in questions.items()}
        commands["beancount"] = {q: [sys.executable, "-c", BEANCOUNT_SUMS, files["beancount"], a]
                                 for q, a in questions.items()}
        found = {}
        for tool, cmds in commands.items():
            for q, cmd in cmds.items():
                samples, peak, text = [], 0, ""
                for _ in range(args.runs):
                    seconds, kib, text = run_tool(cmd)
                    samples.append(seconds)
                    peak = max(peak, kib)
                got = figure_for(text, account)
                if -got != ours_one:  # the tools sign a liability as a credit
                    raise WrongAnswer(f"{tool}: {account} is {got}, ours {ours_one}")
                found[(tool, q)] = (statistics.median(samples), peak)
                say(f"  {tool:<10} {q:<5} {fmt(found[(tool, q)][0]):>10}  peak {peak / 1024:.0f} MiB  "
                    f"(agrees: {account} {-got})")
        missing = [n for n, w in tools.items() if w is None]
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        say()
        say(f"The peers on our books: {args.people:,} people x {args.years} year(s), {counted['transactions']:,} "
            f"transactions, {counted['postings']:,} postings (load average {load})")
        say(f"  {'question':<28} {'tool':<11} {'median':>10} {'peak':>9} {'ours':>10} {'ours faster':>12}")
        ok = True
        for q, label, ours, target in (("every", "every person's balance", every, 100),
                                       ("one", "one person's balance", one, 1000)):
            rows = [(tool, *found[(tool, q)]) for tool in commands]
            for tool, seconds, peak in rows:
                say(f"  {label:<28} {tool:<11} {fmt(seconds):>10} {peak / 1024:>5.0f} MiB {fmt(ours):>10} "
                    f"{seconds / ours:>11.0f}x")
            fastest = min(rows, key=lambda r: r[1])
            ratio = fastest[1] / ours
            ok &= ratio >= target
            say(f"  target: {label} at least {target:,}x faster than the fastest tool ({fastest[0]}): "
                f"{ratio:,.0f}x: {'PASS' if ratio >= target else 'MISS'}")
        if missing:
            say(f"  not installed, not measured: {', '.join(missing)}")
        return 0 if ok else 1
    finally:
        if app is not None:
            with app.app_context():
                db.engine.dispose()
        engine.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
