"""A council review pack for one year of one person, against bare SQL of the same figures, in
the same run.

`python -m bench.review_pack [--engine sqlite|postgresql|both] [--others 200] [--repeat 5]`

Books: the person under review and `--others` people alike (so the queries must find one
person's rows among many), each with a plan from 2026-01-01, thirteen four-weekly council
receipts and their fees, deliveries on about five days a week in two domains, a refusal a
month, two spends a month, a contingency set-aside and a draw, written through the
operations the API uses.

Measured (best of `--repeat`): `review_pack` (every figure of the pack, set-based), rendering it
to XLSX, and the lower bound: the bare SQL of the same figures (raw DBAPI: the opening balance,
the months by pot and kind, every ledger line and posting, deliveries by day and status, money by
domain, spend, contingency and charge lines), and the ratio of the figures to the bare SQL.
"""
from __future__ import annotations

import argparse
import random
import time
from datetime import date, time as clock_time, timedelta
from decimal import Decimal

from isf_ledger.db import db

from .engines import make, postgres_problem
from .report import Row, table, timed

START, END = date(2026, 1, 1), date(2026, 12, 31)

BARE = [
    # opening balance: checkpoints before the year
    """SELECT a.kind, SUM(m.net_pence) FROM account_months m JOIN accounts a ON a.id = m.account_id
        WHERE a.person_id = {ph} AND m.month < {ph} GROUP BY a.kind""",
    # the months by pot and kind (a reversal under its original)
    """SELECT substr(CAST(p.date AS TEXT), 1, 7), a.kind, COALESCE(o.kind, t.kind), SUM(p.amount_pence)
         FROM postings p JOIN accounts a ON a.id = p.account_id JOIN transactions t ON t.id = p.transaction_id
         LEFT JOIN transactions o ON o.id = t.reverses_id
        WHERE a.person_id = {ph} AND p.date >= {ph} AND p.date <= {ph}
        GROUP BY substr(CAST(p.date AS TEXT), 1, 7), a.kind, COALESCE(o.kind, t.kind)""",
    # every ledger line, and its postings
    """SELECT t.id, t.kind, t.date, t.service_date, t.description, t.reverses_id, r.id, t.reason
         FROM transactions t LEFT JOIN transactions r ON r.reverses_id = t.id
        WHERE t.person_id = {ph} AND t.date >= {ph} AND t.date <= {ph} ORDER BY t.date, t.id""",
    """SELECT p.transaction_id, a.code, p.amount_pence FROM postings p JOIN transactions t ON t.id = p.transaction_id
         JOIN accounts a ON a.id = p.account_id
        WHERE t.person_id = {ph} AND t.date >= {ph} AND t.date <= {ph} ORDER BY p.id""",
    # hours by day and status
    """SELECT d.date, d.status, SUM(d.quantity_hundredths) FROM deliveries d
         LEFT JOIN delivery_reversals r ON r.delivery_id = d.id
        WHERE r.id IS NULL AND d.person_id = {ph} AND d.date >= {ph} AND d.date <= {ph} GROUP BY d.date, d.status""",
    # money by domain
    """SELECT t.kind, COALESCE(d.domain, s.domain), SUM(p.amount_pence) FROM postings p
         JOIN accounts a ON a.id = p.account_id JOIN transactions t ON t.id = p.transaction_id
         LEFT JOIN deliveries d ON d.transaction_id = t.id LEFT JOIN spend s ON s.transaction_id = t.id
        WHERE a.person_id = {ph} AND a.kind = 'available' AND p.date >= {ph} AND p.date <= {ph}
          AND t.kind IN ('delivery', 'spend') GROUP BY t.kind, COALESCE(d.domain, s.domain)""",
    """SELECT s.*, f.sha256 FROM spend s LEFT JOIN spend_receipt_files f ON f.spend_id = s.id
        WHERE s.person_id = {ph} AND s.date >= {ph} AND s.date <= {ph} ORDER BY s.date, s.id""",
    """SELECT * FROM contingency_movements WHERE person_id = {ph} AND date >= {ph} AND date <= {ph}
        ORDER BY date, id""",
    """SELECT l.* FROM shared_charge_lines l JOIN shared_charge_runs r ON r.id = l.run_id
        WHERE l.person_id = {ph} AND r.month >= {ph} AND r.month <= {ph}""",
]
PARAMS = [lambda pid: (pid, START)] + [lambda pid: (pid, START, END)] * (len(BARE) - 1)


def build(app, people: int, seed: int) -> int:
    from isf_ledger.accounts.contingency import record_draw, record_set_aside
    from isf_ledger.accounts.hours import DeliveryIn, record_deliveries
    from isf_ledger.accounts.people import create_person
    from isf_ledger.accounts.plans import add_plan
    from isf_ledger.accounts.rates import add_rate
    from isf_ledger.accounts.receipts import record_receipt
    from isf_ledger.accounts.spend import record_spend

    with app.app_context():
        s = db.session
        add_rate(s, service="day_support", unit="hour", rate=Decimal("18.50"), effective_from=START)
        s.commit()
        first = None
        for n in range(people):
            rnd = random.Random(f"{seed}:{n}")
            p = create_person(s, name=f"Person {n}", council="Northshire", council_reference=f"R{n}",
                              opened_on=START, may_name_council=True)
            first = first or p.id
            add_plan(s, p.id, effective_from=START, annual_budget_pence=2_600_000, contingency_amount_pence=100_000,
                     planned_weekly_hours={"day_support": Decimal("20.00")},
                     budget_lines=[{"domain": "personal_care", "outcome": "Daily living", "annual_amount_pence": 1_600_000},
                                   {"domain": "work_leisure_learning", "outcome": "Out and about",
                                    "annual_amount_pence": 800_000}])
            for i in range(13):
                record_receipt(s, p.id, date=START + timedelta(days=28 * i), amount_pence=200_000, source="council")
            items, day = [], START
            while day <= END:
                if day.weekday() < 5 and rnd.random() < 0.95:
                    status = "refused" if day.day == 15 else "delivered"
                    items.append(DeliveryIn(day, clock_time(10), "day_support", Decimal(rnd.choice(("3.00", "4.00"))),
                                            status, rnd.choice(("personal_care", "work_leisure_learning"))))
                day += timedelta(days=1)
            record_deliveries(s, p.id, items)
            record_set_aside(s, p.id, date=date(2026, 1, 2), amount_pence=50_000)
            record_draw(s, p.id, date=date(2026, 6, 10), amount_pence=20_000, reason="extra support",
                        authorised_by="team leader")
            for m in range(1, 13):
                for k in (5, 20):
                    record_spend(s, p.id, date=date(2026, m, k), amount_pence=rnd.randint(500, 4000), payee="Taxi Co",
                                 category="transport", domain="work_leisure_learning", description="to class")
            s.commit()
        return first


def best(fn, repeat: int) -> tuple[float, object]:
    return timed(fn, repeat, min)


def run(name: str, args) -> None:
    from isf_ledger.reports.review_pack import render_review_pack, review_pack

    engine = make(name)
    try:
        engine.upgrade()
        app = engine.app()
        t = time.perf_counter()
        pid = build(app, 1 + args.others, args.seed)
        print(f"[{name}] built {1 + args.others} people x one year in {time.perf_counter() - t:.1f} s", flush=True)
        with app.app_context():
            def pack():
                out = review_pack(db.session, pid, START, END)
                db.session.rollback()
                return out
            ours, figures = best(pack, args.repeat)
            render, data = best(lambda: render_review_pack(figures), args.repeat)
        ph = engine.placeholder()
        conn = engine.raw()

        def bare():
            rows = 0
            cur = conn.cursor()
            for sql, params in zip(BARE, PARAMS):
                cur.execute(sql.replace("{ph}", ph), params(pid))
                rows += len(cur.fetchall())
            conn.rollback()
            return rows
        baseline, rows = best(bare, args.repeat)
        conn.close()
        t = figures["totals"]
        print(f"[{name}] person {pid}: {len(figures['lines'])} ledger lines, {rows} bare rows; received "
              f"{t['receipts_total'] / 100:.2f}, fee {t['management_fee_total'] / 100:.2f}, support "
              f"{t['support_charged_total'] / 100:.2f}, spend {t['spend_total'] / 100:.2f}, balance "
              f"{figures['position']['closing_balance']}; workbook {len(data) / 1024:.0f} KiB", flush=True)
        print(table(f"[{name}] review pack, one person, one year (best of {args.repeat})", [
            Row("pack figures (review_pack) vs bare SQL", ours, baseline, None),
            Row("figures + XLSX vs bare SQL", ours + render, baseline, None),
        ]), flush=True)
    finally:
        engine.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--others", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for name in engines:
        if name == "postgresql" and postgres_problem():
            print(f"[postgresql] skipped: {postgres_problem()}")
            continue
        run(name, args)


if __name__ == "__main__":
    main()
