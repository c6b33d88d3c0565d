"""`python -m bench.bank [--people N] [--engine sqlite|postgresql|both] [--runs R]`

A year's client bank statement matched against the ledger (issue 27): N people (default 1,000)
each with a year of client-money movements (12 council receipts, each with its reference, and
8 payments out), posted through the ledger's own engine; the bank's statement of that year as a
CSV of one line per movement (2 days late at most), but a twentieth of the council's receipts
paid in BACS batches (one line for the day's receipts of several people): at 1,000 people,
20,000 movements on about 19,400 lines. Then, in the same run:

1. ours: `accounts.bank_statements.import_statement` (read the CSV, refuse nothing, skip no line,
   store every line, match each by reference, amount within 4 days, or a batch's sum) against
   the bare lower bound: the same CSV read by the csv module, the same lines inserted (multi-row
   INSERTs, the same identity), one SQL join of the lines to the movements on amount and date
   within 4 days, and its pairs inserted as matches. Target within 3x.
2. the matching alone, on lines already stored (our movements query and matcher) against the bare
   join alone (for information).

Each side runs R times (default 3) in a transaction rolled back after, so each sees the same
books; the median is compared. The matched count is printed beside the time: the bare join
pairs every line with every movement of its amount in the window (a line may pair with several,
a batch with none); ours matches one way or offers a guess.
"""
from __future__ import annotations

import argparse
import csv
import io
import random
import statistics
import sys
import time
from datetime import date, timedelta

import sqlalchemy as sa

from isf_ledger.accounts.bank_files import read_statement
from isf_ledger.accounts.bank_statements import _line_window, _Matcher, import_statement, movements
from isf_ledger.ledger.post import PERSON_ACCOUNTS, Entry, lock_funds, post, provider_accounts
from isf_ledger.db import db
from isf_ledger.money import format_pence

from .engines import make, postgres_problem
from .report import Row, fmt_time, table

START = date(2026, 1, 1)
BATCH = 20  # one council receipt in this many is paid in a BACS batch


def say(text: str = "") -> None:
    print(text, flush=True)


def build(app, people: int, seed: int) -> bytes:
    """The people, their year of movements (through `post`), and the bank's CSV of them."""
    from isf_ledger.accounts.councils import create_council
    from isf_ledger.models import Account, Fund, Person, Receipt

    rng = random.Random(seed)
    with app.app_context():
        s = db.session
        council = create_council(s, "Northshire County Council")
        s.execute(sa.insert(Person), [{"id": i, "name": f"Person {i}", "council_id": council.id,
                                       "council_reference": f"N{i:07d}"} for i in range(1, people + 1)])
        s.execute(sa.insert(Fund), [{"person_id": i, "opened_on": START} for i in range(1, people + 1)])
        s.execute(sa.insert(Account), [{"code": f"person:{i}:{k}", "kind": k, "person_id": i, "name": f"Fund {i}: {k}"}
                                       for i in range(1, people + 1) for k in PERSON_ACCOUNTS])
        s.commit()
        if s.get_bind().dialect.name == "postgresql":
            s.execute(sa.text("SELECT setval(pg_get_serial_sequence('people', 'id'), (SELECT MAX(id) FROM people))"))
            s.commit()
        cm = provider_accounts(s)["client_money"]
        available = {a.person_id: a for a in s.scalars(sa.select(Account).where(Account.kind == "available"))}
        lines, batches = [], {}
        for lo in range(1, people + 1, 100):
            ids = list(range(lo, min(people, lo + 99) + 1))
            funds = lock_funds(s, ids)
            entries, receipts = [], []
            for pid in ids:
                for month in range(12):
                    day = date(2026, month + 1, 1 + rng.randrange(3))
                    pence = rng.randrange(100_000, 300_000)
                    ref = f"NCC{pid:05d}{month + 1:02d}"
                    e = Entry("receipt", day, [(cm, -pence), (available[pid], pence)], pid, f"Council payment {ref}")
                    entries.append(e)
                    receipts.append((e, ref))
                for _ in range(8):
                    day = START + timedelta(days=5 + rng.randrange(355))
                    pence = rng.randrange(500, 20_000)
                    entries.append(Entry("spend", day, [(available[pid], -pence), (cm, pence)], pid, "Bought"))
            entries.sort(key=lambda e: e.date)
            post(s, entries, funds)
            s.execute(sa.insert(Receipt), [{"person_id": e.person_id, "date": e.date, "amount_pence": -e.legs[0][1],
                                            "source": "council", "reference": ref, "fee_exempt": True, "fee_rate": 0,
                                            "fee_pence": 0, "transaction_id": e.posted_id} for e, ref in receipts])
            s.commit()
            for e in entries:
                amount = -sum(p for a, p in e.legs if a.id == cm.id)
                if e.kind == "receipt" and rng.randrange(BATCH) == 0:
                    batches[e.date] = batches.get(e.date, 0) + amount
                    continue
                text = e.description.replace("Council payment ", "NORTHSHIRE CC ") if e.kind == "receipt" \
                    else f"CARD {e.posted_id}"
                lines.append((e.date + timedelta(days=rng.randrange(3)), text, amount))
        lines += [(d, "NORTHSHIRE CC BACS", a) for d, a in batches.items()]
        if s.get_bind().dialect.name == "postgresql":
            s.execute(sa.text("ANALYZE"))
            s.commit()
    lines.sort()
    out = io.StringIO()
    out.write("Date,Description,Amount,Balance\n")
    balance = 0
    for day, text, pence in lines:
        balance += pence
        out.write(f"{day:%d/%m/%Y},{text},{format_pence(pence)},{format_pence(balance)}\n")
    return out.getvalue().encode()


def ours(app, data: bytes) -> tuple[float, int, int]:
    with app.app_context():
        t = time.perf_counter()
        out = import_statement(db.session, data, "year.csv", None)
        db.session.flush()
        took = time.perf_counter() - t
        db.session.rollback()
        db.session.remove()
    return took, out["lines"], out["matched"]


def ours_matching(app, data: bytes) -> tuple[float, int]:
    """The matching alone: the lines stored first (not timed), then the movements read and each
    line matched, as import_statement does."""
    from isf_ledger.models import BankLine

    with app.app_context():
        s = db.session
        import_statement(s, data, "year.csv", None)  # stored and matched: read the lines back and match again
        lines = list(s.scalars(sa.select(BankLine)))
        t = time.perf_counter()
        matcher = _Matcher(movements(s, *_line_window(lines), unmatched_only=False))
        matched = sum(1 for how, _, _ in matcher.match_all(lines).values() if how)
        took = time.perf_counter() - t
        s.rollback()
        s.remove()
    return took, matched


def bare(app, data: bytes, engine_name: str) -> tuple[float, float, int]:
    """The lower bound: csv, multi-row INSERTs of the lines, one join on amount and date within
    4 days, its pairs inserted; (seconds in all, seconds of the join, pairs)."""
    with app.app_context():
        s = db.session
        cm = provider_accounts(s)["client_money"].id
        raw = s.connection().connection.dbapi_connection
        cur = raw.cursor()
        ph = "?" if engine_name == "sqlite" else "%s"
        t = time.perf_counter()
        rows = []
        reader = csv.reader(io.StringIO(data.decode()))
        next(reader)
        for i, (day, text, amount, balance) in enumerate(reader):
            d, m, y = day.split("/")
            pence = int(amount.replace(".", ""))
            when = f"{y}-{m}-{d}" if engine_name == "sqlite" else date(int(y), int(m), int(d))
            rows.append((when, pence, text, int(balance.replace(".", "")), f"bare:{i}"))
        cur.execute("INSERT INTO bank_statements (filename, format, closing_date, closing_balance_pence, uploaded_at) "
                    f"VALUES ('bare.csv', 'csv', {ph}, {ph}, CURRENT_TIMESTAMP)", (rows[-1][0], rows[-1][3]))
        cur.execute("SELECT MAX(id) FROM bank_statements")
        sid = cur.fetchone()[0]
        for i in range(0, len(rows), 1000):
            chunk = rows[i:i + 1000]
            values = ", ".join([f"({ph}, {ph}, '', {ph}, {ph}, {ph}, '', {ph}, {ph})"] * len(chunk))
            cur.execute("INSERT INTO bank_lines (statement_id, line_no, account, date, amount_pence, description, "
                        f"reference, balance_pence, identity) VALUES {values}",
                        [v for n, (d, p, txt, b, ident) in enumerate(chunk, i + 2) for v in (sid, n, d, p, txt, b, ident)])
        window = ("m.date BETWEEN date(l.date, '-4 days') AND date(l.date, '+4 days')" if engine_name == "sqlite"
                  else "m.date BETWEEN l.date - 4 AND l.date + 4")
        j = time.perf_counter()
        if engine_name == "sqlite":
            # SQLite has no hash join: left to itself it scans every line for every movement (a
            # minute at 20,000). Its best is the movements in a table indexed on (amount, date).
            cur.execute("CREATE TEMP TABLE bench_m (transaction_id INTEGER, date TEXT, amount INTEGER)")
            cur.execute(f"INSERT INTO bench_m SELECT transaction_id, date, -SUM(amount_pence) FROM postings "
                        f"WHERE account_id = {ph} GROUP BY transaction_id, date", (cm,))
            cur.execute("CREATE INDEX bench_m_amount ON bench_m (amount, date)")
            cur.execute(f"SELECT l.id, m.transaction_id FROM bank_lines l JOIN bench_m m ON m.amount = l.amount_pence "
                        f"AND {window} WHERE l.statement_id = {ph}", (sid,))
        else:
            cur.execute(f"SELECT l.id, m.transaction_id FROM bank_lines l JOIN (SELECT transaction_id, date, "
                        f"-SUM(amount_pence) AS amount FROM postings WHERE account_id = {ph} GROUP BY transaction_id, "
                        f"date) m ON m.amount = l.amount_pence AND {window} WHERE l.statement_id = {ph}", (cm, sid))
        pairs = cur.fetchall()
        joined = time.perf_counter() - j
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS bench_matches (line_id INTEGER, transaction_id BIGINT, how TEXT)")
        for i in range(0, len(pairs), 1000):
            chunk = pairs[i:i + 1000]
            cur.execute(f"INSERT INTO bench_matches VALUES {', '.join([f'({ph}, {ph}, {ph})'] * len(chunk))}",
                        [v for a, b in chunk for v in (a, b, "amount")])
        took = time.perf_counter() - t
        s.rollback()
        s.remove()
    return took, joined, len(pairs)


def run_engine(name: str, people: int, runs: int, seed: int) -> list[Row]:
    engine = make(name)
    try:
        engine.upgrade()
        app = engine.app()
        t = time.perf_counter()
        data = build(app, people, seed)
        n = data.count(b"\n") - 1
        read_statement(data)  # the file is one a bank could send
        say(f"[{name}] {people:,} people x 1 year: {people * 20:,} client-money movements posted and a statement of "
            f"{n:,} lines ({len(data) / 2**20:.1f} MiB) in {time.perf_counter() - t:.1f} s")
        mine, lines, matched = zip(*(ours(app, data) for _ in range(runs)))
        low, join, pairs = zip(*(bare(app, data, name) for _ in range(runs)))
        alone, matched_again = zip(*(ours_matching(app, data) for _ in range(runs)))
        say(f"[{name}] ours: {lines[0]:,} lines, {matched[0]:,} matched ({lines[0] - matched[0]:,} left for a guess "
            f"or a hand); bare join: {pairs[0]:,} line-movement pairs; runs (s): ours "
            + " ".join(f"{x:.2f}" for x in mine) + ", bare " + " ".join(f"{x:.2f}" for x in low))
        return [Row(f"[{name}] import and match {n:,} lines", statistics.median(mine), statistics.median(low), 3.0),
                Row(f"[{name}] matching alone (lines stored)", statistics.median(alone), statistics.median(join), None)]
    finally:
        engine.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bank")
    p.add_argument("--people", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=27)
    p.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    args = p.parse_args(argv)
    names = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    rows = []
    for name in names:
        if name == "postgresql" and postgres_problem():
            say(f"[postgresql] skipped: {postgres_problem()}")
            continue
        rows += run_engine(name, args.people, args.runs, args.seed)
    say()
    say(table("A year's bank statement matched to the ledger (issue 27)", rows))
    return 0 if all(r.passed is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
