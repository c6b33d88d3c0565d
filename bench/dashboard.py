"""`python -m bench.dashboard [--people N] [--engine sqlite|postgresql|both]`: the provider's
dashboard for N funds (the JSON first page, sorted by balance, and the whole list as XLSX,
through the API in-process) against bare SQL of the same figures in the same run (target: each
within 2x).

The bare-SQL baseline reads, with one raw query each on the DBAPI connection: every fund's pots
summed over all postings to the date, the plans, receipts by source, the plan year's money used
(from each fund's own plan-year start, net of reversals, summed from the postings) and three
months' hours; then works out weeks held, surplus, overdrawn, sorts and takes the first page in
plain Python; the first page's balance, contingency, overdrawn and plan-year use must equal the
dashboard's to the penny. The XLSX's baseline is the same for every fund, written as the same
workbook with the same library. It leaves out what SQL alone cannot say (the instalment schedule
behind arrears, the bank's replay and rates), so it is a floor, not a rival implementation. It
reads no checkpoints (the app's derived tables): it is what bare SQL over the books costs.
Benchmarks report, they do not gate: a missed target still exits 0.
"""
from __future__ import annotations

import argparse
import calendar
import os
import sys
import time
from datetime import date, timedelta

from isf_ledger.db import db
from isf_ledger.money import format_pence
from isf_ledger.auth.users import create_user

from . import books as b
from .engines import make, postgres_problem
from .report import timed

REPEATS = 3


def say(text: str = "") -> None:
    print(text, flush=True)


def _median(fn) -> tuple[float, object]:
    return timed(fn, REPEATS)


def bare_sql(raw, ph: str, as_of: date, per_page: int | None = 50) -> list[tuple]:
    """The same figures from bare SQL (see the module docstring): the first page by balance
    (per_page None: every fund)."""
    cur = raw.cursor()
    pots = {}
    cur.execute(f"""SELECT a.person_id, a.kind, SUM(p.amount_pence) FROM postings p
                    JOIN accounts a ON a.id = p.account_id
                    WHERE a.person_id IS NOT NULL AND p.date <= {ph} GROUP BY a.person_id, a.kind""", (as_of,))
    for pid, kind, pence in cur.fetchall():
        pots.setdefault(pid, {})[kind] = int(pence)
    cur.execute(f"""SELECT person_id, annual_budget_pence, effective_from FROM plan_versions
                    WHERE effective_from <= {ph} ORDER BY person_id, effective_from, version""", (as_of,))
    plans, first_plan = {}, {}
    for pid, budget, start in cur.fetchall():
        plans[pid] = (budget, start)
        first_plan.setdefault(pid, start if isinstance(start, date) else date.fromisoformat(start))
    cur.execute(f"""SELECT person_id, source, SUM(amount_pence) FROM receipts WHERE date <= {ph}
                    GROUP BY person_id, source""", (as_of,))
    received = {(pid, s): int(v) for pid, s, v in cur.fetchall()}
    # The plan year's use: support, shared support and spend (and their rate adjustments) on the
    # fund's available pot from the plan year's first day (twelve months at a time from the first
    # plan's start) to as_of, net of reversals of those: summed from the postings.
    starts = {pid: _plan_year_start(first, as_of) for pid, first in first_plan.items()}
    cast = "DATE " if ph == "%s" else ""
    years = ", ".join(f"({int(pid)}, {cast}'{start.isoformat()}')" for pid, start in sorted(starts.items()))
    kinds = "('fee', 'fee_refund', 'delivery', 'rate_adjustment', 'shared_charge', 'spend')"  # forecast.USES_BUDGET
    used = {}
    if starts:
        cur.execute(f"""WITH years(pid, start) AS (VALUES {years})
                        SELECT a.person_id, SUM(p.amount_pence) FROM postings p
                        JOIN accounts a ON a.id = p.account_id
                        JOIN years y ON y.pid = a.person_id AND p.date >= y.start
                        JOIN transactions t ON t.id = p.transaction_id
                        WHERE a.kind = 'available' AND p.date >= {ph} AND p.date <= {ph}
                          AND (t.kind IN {kinds} OR t.id IN (
                               SELECT r.id FROM transactions r JOIN transactions o ON o.id = r.reverses_id
                               WHERE r.kind = 'reversal' AND o.kind IN {kinds} AND r.date >= {ph} AND r.date <= {ph}))
                        GROUP BY a.person_id""", (min(starts.values()), as_of, min(starts.values()), as_of))
        used = {pid: -int(v) for pid, v in cur.fetchall()}
    cur.execute(f"""SELECT person_id, status, SUM(quantity_hundredths) FROM deliveries
                    WHERE date > {ph} AND date <= {ph} GROUP BY person_id, status""",
                (as_of - timedelta(days=92), as_of))
    hours = cur.fetchall()
    cur.execute("SELECT p.id, p.name, c.name, p.council_reference FROM people p JOIN councils c ON c.id = p.council_id")
    rows = []
    for pid, name, council, ref in cur.fetchall():
        avail = pots.get(pid, {}).get("available", 0)
        budget = plans.get(pid, (0, None))[0]
        weeks = round(avail * 52 / budget, 2) if budget else None
        surplus = max(0, avail - round(4 * budget / 52))
        rows.append((pid, name, council, ref, avail, pots.get(pid, {}).get("contingency", 0), weeks, surplus,
                     max(0, -avail), used.get(pid, 0), received.get((pid, "council"), 0)))
    rows.sort(key=lambda r: (-r[4], r[0]))
    del hours
    return rows if per_page is None else rows[:per_page]


def bare_rows(raw) -> list[tuple]:
    """The first page's 50 kept rows (fund_figures), by balance, along its index: the floor a
    page of the kept figures is measured against."""
    cur = raw.cursor()
    cur.execute("SELECT * FROM fund_figures ORDER BY available DESC, person_id LIMIT 50")
    return cur.fetchall()


def bare_workbook(raw, ph: str, as_of: date) -> int:
    """The XLSX's baseline: every fund's figures from bare_sql, written as the same workbook (the
    same columns, write-only openpyxl, money as Decimal) with no app: the lower bound of a
    document is its queries plus writing it with the same library, as for month end."""
    from decimal import Decimal
    from io import BytesIO

    from openpyxl import Workbook
    rows = bare_sql(raw, ph, as_of, None)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Funds")
    ws.append(["Person", "Name", "Council", "Reference", "Balance", "Weeks held", "Surplus above threshold", "Arrears",
               "Contingency", "Bank liability", "Overdrawn", "Used this plan year", "Budget pace", "Alerts"])
    money = lambda pence: Decimal(pence).scaleb(-2)  # noqa: E731
    for pid, name, council, ref, avail, cont, weeks, surplus, over, used, _ in rows:
        ws.append([pid, name, council, ref, money(avail), Decimal(str(weeks)) if weeks is not None else None,
                   money(surplus), money(0), money(cont), money(0), money(over), money(used), money(0),
                   "overdrawn" if over else ""])
    ts = wb.create_sheet("Totals")
    ts.append(["As at", as_of.isoformat()])
    ts.append(["Balance", money(sum(r[4] for r in rows))])
    buf = BytesIO()
    wb.save(buf)
    return len(buf.getvalue())


def _plan_year_start(first: date, day: date) -> date:
    """Plan years run twelve months at a time from the first plan's start (domain.md)."""
    k = (day.year - first.year) * 12 + day.month - first.month
    k -= k % 12
    while True:
        months = first.month - 1 + k
        y, m = first.year + months // 12, months % 12 + 1
        start = date(y, m, min(first.day, calendar.monthrange(y, m)[1]))
        if start <= day:
            return start
        k -= 12


def _profile_queries(app, fn) -> None:
    """Print where one request's time goes: each query's time, and the rest (Python)."""
    import sqlalchemy as sa
    with app.app_context():
        engine = db.engine
    spent = []

    def before(conn, cursor, statement, *_):
        conn.info["t"] = time.perf_counter()

    def after(conn, cursor, statement, *_):
        spent.append((time.perf_counter() - conn.info["t"], " ".join(statement.split())[:110]))

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    t = time.perf_counter()
    fn()
    total = time.perf_counter() - t
    sa.event.remove(engine, "before_cursor_execute", before)
    sa.event.remove(engine, "after_cursor_execute", after)
    say(f"  one request: {total * 1000:.0f} ms, {len(spent)} queries taking {sum(s for s, _ in spent) * 1000:.0f} ms:")
    for s, q in sorted(spent, reverse=True)[:8]:
        say(f"    {s * 1000:7.1f} ms  {q}")


def run(name: str, people: int, seed: int, profile: bool = False, keep: bool = False, copy: bool = False) -> None:
    key = f"dashboard_{people}_{seed}" if keep else None
    engine = b.kept_engine(name, key)
    try:
        engine.upgrade()
        app = engine.app()

        def build():
            source = b.kept_marker(make("sqlite", key)) if (copy and key) else None
            if source and os.path.exists(source):
                sqlite = make("sqlite", key)
                say(f"[{name}] copying the {people:,} funds' books built through the posting engine on SQLite "
                    f"({sqlite.path}, migrated to the same head)")
                sqlite.upgrade()
                b.copy_books(sqlite.path, engine, say)
                engine.after_build()
                return b.kept(sqlite, None, say)
            say(f"[{name}] building {people:,} funds with a year of history through the posting engine")
            built = b.build(app, people, 1, seed, say, engine.maintain)
            engine.after_build()
            return built

        books = b.kept(engine, build, say) if key else build()
        say(f"[{name}] built in {books.built.seconds:.1f} s: {books.built.postings:,} postings")
        if key:
            engine.after_build()  # the migration may have just filled a table
        with app.app_context():
            _, token = create_user(db.session, _directory(), name=f"bench-finance-{os.getpid()}-{time.time_ns()}", role="finance")
            db.session.commit()
            db.engine.dispose()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        as_of = books.as_of.isoformat()

        # The books' last day is today, as a finance lead opens the dashboard: the kept figures
        # (reports/current.py) are read; the first request works every fund's row out.
        from isf_ledger import clock
        clock.today = lambda: books.as_of

        def page():
            r = client.get(f"/api/v1/dashboard?as_of={as_of}&sort=-balance&per_page=50", headers=headers)
            assert r.status_code == 200, r.get_json()
            return r.get_json()

        def workbook():
            r = client.get(f"/api/v1/dashboard?as_of={as_of}&format=xlsx", headers=headers)
            assert r.status_code == 200
            return len(r.data)

        began = time.perf_counter()
        page()  # warm: the first request builds the app's caches and works out every kept row
        t_first = time.perf_counter() - began
        if profile:
            _profile_queries(app, page)
        t_json, doc = _median(page)
        t_xlsx, size = _median(workbook)
        raw = engine.raw()
        try:
            t_sql, first = _median(lambda: bare_sql(raw, engine.placeholder(), books.as_of))
            t_sql_xlsx, _ = _median(lambda: bare_workbook(raw, engine.placeholder(), books.as_of))
            t_rows, _ = _median(lambda: bare_rows(raw))
        finally:
            raw.close()
        assert [f["person_id"] for f in doc["funds"]] == [r[0] for r in first], "the two first pages differ"
        # The same figures, to the penny: balance, contingency, overdrawn and the plan year's use.
        mine = [(f["person_id"], f["balance"], f["contingency"], f["overdrawn"], f["plan_year_used"])
                for f in doc["funds"]]
        theirs = [(r[0], format_pence(r[4]), format_pence(r[5]), format_pence(r[8]), format_pence(r[9]))
                  for r in first]
        assert mine == theirs, f"the figures differ: {[(m, t) for m, t in zip(mine, theirs) if m != t][:3]}"
        say(f"[{name}] {people:,} funds, as at {as_of}, median of {REPEATS}:")
        say(f"  dashboard JSON first page (sorted by balance): {t_json * 1000:8.0f} ms")
        say(f"  dashboard XLSX, every fund ({size / 1024:.0f} KiB):   {t_xlsx * 1000:8.0f} ms")
        say(f"  bare SQL of the same figures, first page:      {t_sql * 1000:8.0f} ms")
        say(f"  bare SQL, every fund, written as the workbook: {t_sql_xlsx * 1000:8.0f} ms")
        say(f"  the first request of the day (every row worked out): {t_first * 1000:8.0f} ms")
        say(f"  bare indexed query of the page's 50 kept rows:  {t_rows * 1000:8.1f} ms "
            f"(JSON / it: {t_json / t_rows:.1f}x, target within 2x)")
        ratio = t_json / t_sql if t_sql else float("inf")
        xratio = t_xlsx / t_sql_xlsx if t_sql_xlsx else float("inf")
        say(f"  JSON / bare SQL: {ratio:.2f}x {'PASS' if ratio <= 2 else 'MISS'} (target within 2x); "
            f"XLSX / bare SQL + workbook: {xratio:.2f}x {'PASS' if xratio <= 2 else 'MISS'} "
            f"(XLSX / bare SQL alone: {t_xlsx / t_sql:.2f}x)")
        say("  load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
        say(f"  totals: overdrawn {doc['totals']['overdrawn']}, reconciles {doc['totals']['reconciliation']['reconciles']}")
        with app.app_context():
            db.engine.dispose()
    finally:
        engine.close()


def _directory():
    from isf_ledger.accounts.people import DIRECTORY
    return DIRECTORY


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--profile", action="store_true", help="also print each query's time in one request")
    p.add_argument("--copy-from-sqlite", action="store_true",
                   help="with --keep-books: PostgreSQL's books copied from SQLite's kept books of the same key "
                        "(the same rows, built through the posting engine) rather than built again")
    p.add_argument("--keep-books", action="store_true",
                   help="keep the books for the next run with the same --people and --seed (built once, then "
                        "reused and migrated; see bench/engines.py CACHE_DIR); without it they are thrown away")
    args = p.parse_args(argv)
    os.environ.setdefault("ISF_ENV", "development")  # its own throwaway databases: no secret key to keep
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if "postgresql" in engines and (problem := postgres_problem()):
        say(f"PostgreSQL not reachable ({problem}): skipped")
        engines.remove("postgresql")
    for name in engines:
        run(name, args.people, args.seed, args.profile, args.keep_books, args.copy_from_sqlite)
    return 0


if __name__ == "__main__":
    sys.exit(main())
