"""Books for the benchmark, written only through the product: people.create_person, plans.add_plan,
and for every person one `ledger.post` of their whole history (receipts, fees, support charges)
after `ledger.lock_funds`, committed per person. Receipt rows are written beside the postings with
the transaction ids post() gave them, as receipts.record_receipt writes them, so the self-audit's
fee check has something to check.

Each person's history, from their start to END:
- a council receipt every four weeks (13 a year) into `available`, and its management fee as its
  own transaction (fees.fee_entry, at the rate of the person's plan);
- a support charge on each day support was given (about 4 days in 5, so about 290 a year):
  available -p, support_income +p, client_money +p, provider_bank -p.
That is about 317 transactions a year a person, like the books of shared/performance.md
(316,810 transactions for 1,000 people x 1 year); this charge has 4 legs, so postings come to
about 1,240 a person-year rather than that file's 641.

Every figure comes from random.Random(seed, person number), never from a database id.
"""
from __future__ import annotations

import dataclasses
import os
import random
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from isf_ledger.workflows.self_audit import audit
from isf_ledger.accounts.fees import fee_entry, fee_on
from isf_ledger.ledger.post import Entry, lock_funds, person_accounts, post, provider_accounts
from isf_ledger.models import Receipt
from isf_ledger.accounts.people import create_person
from isf_ledger.accounts.plans import add_plan
from isf_ledger.accounts.receipts import SOURCE_NAMES
from isf_ledger.db import db, utcnow

from .engines import CACHE_DIR

# The books end here; every balance is asked as at this day. Fixed, so every run is alike.
END = date(2026, 10, 31)
COUNCILS = (("Northshire County Council", "NCC"), ("Southvale Borough Council", "SBC"),
            ("Eastmere City Council", "ECC"))
SUPPORT_DAYS_IN_100 = 80
FIRST = ("Ana", "Ben", "Chloe", "Daniel", "Eleanor", "Farah", "George", "Hannah", "Imran", "Jack")
LAST = ("Smith", "Jones", "Taylor", "Brown", "Patel", "Khan", "Evans", "Hughes", "Walker", "Wood")


def years_before(end: date, years: int) -> date:
    """The first day of a history of `years` whole years ending on `end`."""
    return end.replace(year=end.year - years) + timedelta(days=1)


def month_before(end: date) -> date:
    return end.replace(day=1)


@dataclass
class Built:
    people: int = 0
    transactions: int = 0
    postings: int = 0
    receipts: int = 0
    seconds: float = 0.0


@dataclass
class Books:
    """What the measurements need to know about the books they run on."""

    as_of: date
    typical: int  # a person with the default history (the middle one)
    one_month: int  # a person whose history is the last month
    five_years: int  # a person with five years of daily history
    built: Built
    audit_seconds: float = 0.0
    audit_problems: int = 0
    audit_lines: list | None = None


def fill_person(session, number: int, start: date, end: date, provider: dict, seed: int) -> tuple[int, int, int, int]:
    """Create one person with a plan and their history from start to end; returns
    (person id, transactions, postings, receipts). The caller commits."""
    rng = random.Random(f"{seed}:{number}")
    council, code = COUNCILS[rng.randrange(len(COUNCILS))]
    reference = f"{code}{number:07d}"
    person = create_person(session, name=f"{rng.choice(FIRST)} {rng.choice(LAST)}", council=council,
                           council_reference=reference, opened_on=start, may_name_council=True)
    budget = rng.randint(15_000, 60_000) * 100
    rate = Decimal("0.08") if rng.randrange(100) < 12 else Decimal("0.10")
    weekly_hours = Decimal(rng.randint(20, 70)) / 2
    add_plan(session, person.id, effective_from=start, annual_budget_pence=budget,
             payment_cycle="four_weekly", management_fee_rate=rate,
             contingency_amount_pence=budget // 12, planned_weekly_hours={"day_support": weekly_hours})
    funds = lock_funds(session, [person.id])
    fund = person_accounts(session, person.id)

    entries: list[Entry] = []
    receipts: list[tuple[Entry, Entry, date, int, int, str]] = []
    instalment = budget // 13
    day = start
    while day <= end:
        ref = f"{code} remittance {reference} {day.isoformat()}"
        what = f"{SOURCE_NAMES['council']} {ref}"
        received = Entry(kind="receipt", date=day, person_id=person.id, description=f"Received: {what}",
                         legs=[(provider["client_money"], -instalment), (fund["available"], instalment)])
        fee = fee_on(instalment, rate)
        fee_txn = fee_entry(person.id, day, fee, fund, provider, what)
        entries += [received, fee_txn]
        receipts.append((received, fee_txn, day, instalment, fee, ref))
        day += timedelta(days=28)
    # What support costs a day, so that charges use up most of what is left after the fee.
    per_day = budget * (100 - int(rate * 100)) * 97 // (100 * 100 * 365 * SUPPORT_DAYS_IN_100 // 100)
    day = start
    while day <= end:
        if rng.randrange(100) < SUPPORT_DAYS_IN_100:
            p = max(1, per_day * rng.randint(80, 120) // 100)
            entries.append(Entry(kind="delivery", date=day, person_id=person.id,
                                 description=f"Support on {day.isoformat()}: day support",
                                 legs=[(fund["available"], -p), (provider["support_income"], p),
                                       (provider["client_money"], p), (provider["provider_bank"], -p)]))
        day += timedelta(days=1)
    entries.sort(key=lambda e: e.date)  # stable: a receipt stays before its fee
    post(session, entries, funds)
    now = utcnow()
    session.execute(sa.insert(Receipt), [
        {"person_id": person.id, "date": d, "amount_pence": amount, "source": "council", "reference": ref,
         "fee_exempt": False, "fee_rate": rate, "fee_pence": fee, "transaction_id": r.posted_id,
         "fee_transaction_id": f.posted_id, "created_at": now}
        for r, f, d, amount, fee, ref in receipts])
    return person.id, len(entries), sum(len(e.legs) for e in entries), len(receipts)


def build(app, people: int, years: int, seed: int, say, maintain=lambda: None) -> Books:
    """Write the books: `people` people with `years` of history, then one with five years and one
    with the last month only. One database transaction (and commit) per person."""
    began = time.perf_counter()
    built = Built()
    start, end = years_before(END, years), END
    with app.app_context():
        session = db.session
        provider = provider_accounts(session)
        for account in provider.values():  # detached, so the commits to come leave them loaded
            session.expunge(account)
        session.commit()
        ids = []
        step = max(1, people // 10)
        for n in range(people):
            pid, t, p, r = fill_person(session, n, start, end, provider, seed)
            session.commit()
            maintain()
            ids.append(pid)
            built.people, built.transactions, built.postings, built.receipts = (
                built.people + 1, built.transactions + t, built.postings + p, built.receipts + r)
            if (n + 1) % step == 0 or n + 1 == people:
                elapsed = time.perf_counter() - began
                say(f"  built {n + 1:>6} people, {built.postings:>9,} postings, {elapsed:6.1f} s "
                    f"({elapsed / (n + 1) * 1000:.0f} ms a person)")
        extra = {}
        for label, first in (("five_years", years_before(END, 5)), ("one_month", month_before(END))):
            pid, t, p, r = fill_person(session, people + len(extra), first, end, provider, seed)
            session.commit()
            extra[label] = pid
            built.people, built.transactions, built.postings, built.receipts = (
                built.people + 1, built.transactions + t, built.postings + p, built.receipts + r)
        db.session.remove()
    built.seconds = time.perf_counter() - began
    return Books(as_of=END, typical=ids[len(ids) // 2], one_month=extra["one_month"],
                 five_years=extra["five_years"], built=built)


def kept_marker(engine) -> str:
    return os.path.join(CACHE_DIR, f"{engine.name}-{engine.keep}.json")


def kept(engine, build_books, say) -> Books:
    """Books kept from an earlier run of the same key (engine.keep), or built now and kept.

    A kept database is migrated again by the caller's `engine.upgrade()` before this, so books
    built before a migration are brought up to date by the migration itself (which must fill
    existing data). A build that did not finish leaves no marker and is built again."""
    import json
    marker = kept_marker(engine)
    if os.path.exists(marker):
        with open(marker) as f:
            data = json.load(f)
        say(f"[{engine.name}] reusing the books kept as {engine.keep!r} ({marker})")
        data["as_of"] = date.fromisoformat(data["as_of"])
        data["built"] = Built(**data["built"])
        return Books(**data)
    books = build_books()
    os.makedirs(CACHE_DIR, exist_ok=True)
    data = dataclasses.asdict(books)
    data["as_of"] = books.as_of.isoformat()
    with open(marker, "w") as f:
        json.dump(data, f)
    return books


def copy_books(sqlite_path: str, engine, say) -> None:
    """Copy books built (by `build`, through the posting engine) into a SQLite file into the
    engine's PostgreSQL database, migrated to the same head, table by table with COPY: the same
    rows and ids, every derived table (checkpoints) included. Building 10,000 people through the
    engine takes over an hour on PostgreSQL on 2 cores; the copy a few minutes. The copied rows
    were already checked by the database on the way into SQLite, so the copy runs with triggers
    and foreign keys off (session_replication_role = replica), as a restore does; the sequences
    are then set past the copied ids."""
    import sqlite3

    import psycopg

    src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True, isolation_level=None)
    src.execute("BEGIN")  # one snapshot for every table, whatever commits meanwhile
    have = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tables = [t for t in db.metadata.sorted_tables if t.name in have]
    began = time.perf_counter()
    with psycopg.connect(engine.dsn) as dst:
        dst.execute("SET session_replication_role = replica")
        dst.execute("TRUNCATE " + ", ".join(t.name for t in tables) + " CASCADE")
        for t in tables:
            cols = [c.name for c in t.columns]
            n = 0
            with dst.cursor().copy(f"COPY {t.name} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in src.execute(f"SELECT {', '.join(cols)} FROM {t.name}"):
                    copy.write_row(row)
                    n += 1
            for c in t.primary_key.columns:
                if len(t.primary_key.columns) == 1 and c.autoincrement is not False and c.type.python_type is int:
                    dst.execute(f"SELECT setval(pg_get_serial_sequence('{t.name}', '{c.name}'), "
                                f"(SELECT COALESCE(MAX({c.name}), 0) + 1 FROM {t.name}), false) "
                                f"WHERE pg_get_serial_sequence('{t.name}', '{c.name}') IS NOT NULL")
            if n > 100_000:
                say(f"  copied {n:,} {t.name} ({time.perf_counter() - began:.0f} s)")
        # transactions.id is taken from its sequence through transaction_ids (ledger._allocate_ids)
        dst.execute("SELECT setval(pg_get_serial_sequence('transactions', 'id'), "
                    "(SELECT COALESCE(MAX(id), 0) + 1 FROM transaction_ids), false)")
        dst.commit()
    src.close()
    say(f"  copied in {time.perf_counter() - began:.0f} s")


def counts(app) -> dict[str, int]:
    """What the database holds, counted by the database."""
    with app.app_context():
        out = {table: db.session.scalar(sa.text(f"SELECT COUNT(*) FROM {table}"))
               for table in ("people", "transactions", "postings", "account_months", "receipts")}
        db.session.remove()
    return out


def run_audit(app, books: Books) -> None:
    """The `isf-ledger audit` logic, once: every invariant re-derived from the database."""
    began = time.perf_counter()
    with app.app_context():
        found = audit(db.session)
        db.session.rollback()
        db.session.remove()
    books.audit_seconds = time.perf_counter() - began
    books.audit_problems = sum(len(v) for v in found.values())
    books.audit_lines = [f"{'ok ' if not v else 'BAD'} {name}" + "".join(f"\n      {line}" for line in v[:5])
                         for name, v in found.items()]
