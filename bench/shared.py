"""`python -m bench.shared [--arrangements N] [--engine sqlite|postgresql|both]`

The month's shared-support charge run (`isf-ledger shared charge YYYY-MM`, that is
shared_support.charges.charge_run) for N arrangements (default 2,000) of 3-4 members each, against the
bare insert of the same transactions and postings in the same run: the rows the run posted, read
back and inserted again through the DBAPI (ids allocated as the engine allocates them, postings
then headers, one commit), so both sides pay the ledger's own triggers. The run also reads each
arrangement's history, locks it and its members' funds, works out the split, writes a charge line
per share and keeps the monthly checkpoints; the ratio is what that costs.

The books are set up with bulk inserts (people, funds, accounts, arrangements, versions,
memberships), not measured. Two months are charged (September and October 2026); after the first,
the self-audit must hold and every arrangement's account must net to its month's cost. The bare
inserts are committed into the same tables (history cannot be deleted), after the audit.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from isf_ledger.workflows.self_audit import audit
from isf_ledger.accounts.councils import create_council
from isf_ledger.db import db, utcnow
from isf_ledger.shared_support.apportion import apportion
from isf_ledger.shared_support.charges import charge_run, history

from .engines import make, postgres_problem
from .report import Row, fmt_time, table
from isf_ledger.clock import month_end

START = date(2026, 9, 1)
MONTHS = (date(2026, 9, 1), date(2026, 10, 1))


def say(text: str = "") -> None:
    print(text, flush=True)


def build(app, n: int, seed: int) -> int:
    """n arrangements of 3-4 members (some with an empty place); returns the number of people."""
    rng = random.Random(seed)
    with app.app_context():
        s = db.session
        council = create_council(s, "Northshire County Council")
        people, funds, accounts, arrangements, versions, memberships, terms = [], [], [], [], [], [], []
        pid = 0
        for aid in range(1, n + 1):
            size = rng.choice((3, 4))
            weighted = rng.randrange(4) == 0
            arrangements.append({"id": aid, "name": f"Sleep-in, house {aid}", "method": "weighted" if weighted
                                 else "equal", "domain": "staying_safe", "council_id": council.id})
            accounts.append({"code": f"arrangement:{aid}", "kind": "shared_arrangement", "person_id": None,
                             "name": f"Shared arrangement {aid}"})
            per_night = rng.choice((6240, 6427, 5880))
            versions.append({"arrangement_id": aid, "effective_from": START, "capacity": size + rng.choice((0, 0, 1)),
                             "per_night_pence": per_night, "weekly_pence": None})
            for _ in range(size):
                pid += 1
                people.append({"id": pid, "name": f"Tenant {pid}", "council_id": council.id,
                               "council_reference": f"B{pid:07d}"})
                funds.append({"person_id": pid, "opened_on": START})
                accounts += [{"code": f"person:{pid}:{k}", "kind": k, "person_id": pid, "name": f"Fund {pid}: {k}"}
                             for k in ("available", "contingency")]
                memberships.append({"id": pid, "arrangement_id": aid, "person_id": pid, "starts_on": START})
                terms.append({"membership_id": pid, "effective_from": START, "ends_on": None, "agreed_on": START,
                              "weight": rng.choice((Decimal(1), Decimal("1.5"), Decimal(2))) if weighted
                              else Decimal(1), "recorded_by": "bench"})
        from isf_ledger.models import Account, Fund, Person
        from isf_ledger.models.shared_support import Arrangement, ArrangementVersion, Membership, MembershipTerm
        for model, rows in ((Person, people), (Fund, funds), (Account, accounts), (Arrangement, arrangements),
                            (ArrangementVersion, versions), (Membership, memberships), (MembershipTerm, terms)):
            s.execute(sa.insert(model), rows)
        s.commit()
        if s.get_bind().dialect.name == "postgresql":
            for table_name in ("people", "shared_arrangements", "shared_memberships"):
                s.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table_name}', 'id'), "
                                  f"(SELECT MAX(id) FROM {table_name}))"))
            s.commit()
            s.execute(sa.text("ANALYZE"))
            s.commit()
        return pid


def check(app, month: date, n: int) -> None:
    """The books hold and each arrangement's account nets to its month's cost."""
    with app.app_context():
        s = db.session
        problems = {k: v for k, v in audit(s).items() if v}
        if problems:
            raise SystemExit(f"THE BOOKS DO NOT HOLD: {problems}")
        nets = dict(s.execute(sa.text(
            "SELECT a.code, SUM(p.amount_pence) FROM postings p JOIN accounts a ON a.id = p.account_id "
            "WHERE a.kind = 'shared_arrangement' AND p.date = :d GROUP BY a.code"), {"d": month_end(month)}).all())
        worked = history(s, list(range(1, n + 1)))
        for aid, h in worked.items():
            cost = apportion(month, *h).cost_pence
            if nets.get(f"arrangement:{aid}") != cost:
                raise SystemExit(f"arrangement {aid}: its account nets to {nets.get(f'arrangement:{aid}')}, "
                                 f"the month costs {cost}")
        s.rollback()


def bare_insert(app, raw, engine_name: str, month: date) -> tuple[float, int, int]:
    """Insert again the transactions and postings the run posted for `month`; (seconds, txns, postings)."""
    with app.app_context():
        s = db.session
        txns = s.execute(sa.text(
            "SELECT id, kind, date, service_date, person_id, description FROM transactions "
            "WHERE kind IN ('shared_charge', 'shared_void') AND service_date = :d ORDER BY id"),
            {"d": month_end(month)}).all()
        legs = s.execute(sa.text(
            "SELECT p.transaction_id, p.account_id, p.date, p.amount_pence FROM postings p JOIN transactions t "
            "ON t.id = p.transaction_id WHERE t.kind IN ('shared_charge', 'shared_void') AND t.service_date = :d "
            "ORDER BY p.id"), {"d": month_end(month)}).all()
        s.rollback()
    ph = "?" if engine_name == "sqlite" else "%s"
    now = utcnow() if engine_name == "postgresql" else utcnow().isoformat(sep=" ")
    cur = raw.cursor()
    began = time.perf_counter()
    if engine_name == "sqlite":
        cur.execute("BEGIN IMMEDIATE")
        top = cur.execute("SELECT COALESCE(MAX(id), 0) FROM transactions").fetchone()[0]
        ids = list(range(top + 1, top + 1 + len(txns)))
    else:
        cur.execute("BEGIN")
        cur.execute("SELECT nextval(pg_get_serial_sequence('transactions', 'id')) FROM generate_series(1, %s)",
                    (len(txns),))
        ids = [r[0] for r in cur.fetchall()]
    new_id = {t.id: i for t, i in zip(txns, ids)}
    # Multi-row INSERTs, as the engine sends them: the cheapest way to write these rows.
    _insert_rows(cur, ph, "postings (transaction_id, account_id, date, amount_pence)",
                 [(new_id[p.transaction_id], p.account_id, p.date, p.amount_pence) for p in legs])
    _insert_rows(cur, ph, "transactions (id, kind, date, service_date, person_id, description, created_at)",
                 [(new_id[t.id], t.kind, t.date, t.service_date, t.person_id, t.description, now) for t in txns])
    cur.execute("COMMIT")
    return time.perf_counter() - began, len(txns), len(legs)


def _insert_rows(cur, ph, into: str, rows: list[tuple], per_statement: int = 1000) -> None:
    for i in range(0, len(rows), per_statement):
        chunk = rows[i:i + per_statement]
        values = ", ".join(["(" + ", ".join([ph] * len(chunk[0])) + ")"] * len(chunk))
        cur.execute(f"INSERT INTO {into} VALUES {values}", [v for row in chunk for v in row])


def run_engine(name: str, n: int, seed: int) -> None:
    engine = make(name)
    try:
        engine.upgrade()
        app = engine.app()
        t = time.perf_counter()
        people = build(app, n, seed)
        say(f"[{name}] {n:,} arrangements, {people:,} members: set up in {time.perf_counter() - t:.1f} s")
        rows = []
        for i, month in enumerate(MONTHS):
            with app.app_context():
                t = time.perf_counter()
                run = charge_run(db.session, month)
                db.session.commit()
                charged, problems = run.charged, [p.line() for p in run.not_charged]
                ours = time.perf_counter() - t
                db.session.remove()
            if charged != n or problems:
                raise SystemExit(f"charged {charged} of {n}: {problems[:3]}")
            if i == 0:
                check(app, month, n)
                say(f"[{name}] {month:%Y-%m}: the books hold; every arrangement's account nets to its cost")
            raw = engine.raw()
            try:
                bare, txns, legs = bare_insert(app, raw, name, month)
            finally:
                raw.close()
            say(f"[{name}] {month:%Y-%m}: charge run {fmt_time(ours)} ({txns:,} transactions, {legs:,} postings, "
                f"{ours / n * 1e3:.2f} ms an arrangement); bare insert {fmt_time(bare)}; ratio {ours / bare:.1f}x")
            rows.append(Row(f"charge run {month:%Y-%m}, {n:,} arrangements", ours, bare, None))
        with app.app_context():
            db.engine.dispose()
        say()
        say(table(f"{name}: the month's shared charge run against the bare insert of its postings", rows))
        say()
    finally:
        engine.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.shared", description=__doc__)
    p.add_argument("--arrangements", type=int, default=2000)
    p.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if "postgresql" in engines and postgres_problem():
        say(f"PostgreSQL not reachable ({postgres_problem()}): skipped")
        engines.remove("postgresql")
    for name in engines:
        run_engine(name, args.arrangements, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
