"""What the council and the person are due to pay in, and what is in arrears.

Instalments are due in advance from each plan version's `effective_from`: every 28 days
(`four_weekly`, 13 a year), on the same day each month (`monthly`, 12) or every 7 days
(`weekly`, 52). Plan years run twelve months from the first plan's start and each holds n
instalments, counted again from the year's start (13 x 28 days is 364, so a year never gets a
14th). A year's money is split evenly, the pence left over on the year's last instalment. The annual budget includes the person's assessed contribution: the council is due
the budget less 52 weeks of contribution, the person the contribution.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from .councils import rule
from .models import Person, Receipt, Transaction
from .plans import PAYMENTS_A_YEAR, add_months, plans_of, windows


@dataclass(frozen=True)
class Instalment:
    due: date
    plan_id: int
    council_pence: int
    person_pence: int


def _share(total: int, n: int, index: int) -> int:
    base = total // n
    return total - base * (n - 1) if index == n - 1 else base


def _year_index(first: date, day: date) -> int:
    """Which plan year (0, 1, ...) a day falls in, the years running from the first plan's start."""
    k = ((day.year - first.year) * 12 + (day.month - first.month)) // 12
    return k if add_months(first, 12 * k) <= day else k - 1


def expected_instalments(session, person: Person, until: date) -> list[Instalment]:
    """Every instalment due up to `until`: in each plan year a version covers, n of them from the
    later of the version's start and the year's start; the year's remainder on the nth."""
    plans = plans_of(session, person.id)
    out: list[Instalment] = []
    if not plans:
        return out
    first = plans[0].effective_from
    for plan, start, end in windows(plans):
        cycle = rule("payment_cycle", person.council, plan)
        n = PAYMENTS_A_YEAR[cycle]
        person_year = plan.weekly_client_contribution_pence * 52
        council_year = plan.annual_budget_pence - person_year
        last_day = min(until, end) if end is not None else until
        k = _year_index(first, start)
        while True:
            anchor = max(start, add_months(first, 12 * k))
            if anchor > last_day:
                break
            year_end = add_months(first, 12 * (k + 1)) - timedelta(days=1)
            for i in range(n):
                if cycle == "monthly":
                    due = add_months(anchor, i)
                else:
                    due = anchor + timedelta(days=(28 if cycle == "four_weekly" else 7) * i)
                if due > year_end or due > last_day:
                    break
                out.append(Instalment(due, plan.id, _share(council_year, n, i), _share(person_year, n, i)))
            k += 1
    return out


def received(session, person_id: int, as_of: date) -> dict[str, int]:
    """Receipts by source dated on or before `as_of`, less those reversed on or before it."""
    q = (sa.select(Receipt.source, sa.func.sum(Receipt.amount_pence))
         .where(Receipt.person_id == person_id, Receipt.date <= as_of,
                ~sa.exists().where(Transaction.reverses_id == Receipt.transaction_id,
                                   Transaction.date <= as_of))
         .group_by(Receipt.source))
    return {source: int(total) for source, total in session.execute(q)}


def arrears(session, person: Person, as_of: date) -> dict:
    """Due and received to date, the council's and the person's contribution separately."""
    due = expected_instalments(session, person, as_of)
    got = received(session, person.id, as_of)
    out = {}
    for who, source, attr in (("council", "council", "council_pence"),
                              ("person", "client_contribution", "person_pence")):
        due_total = sum(getattr(i, attr) for i in due)
        paid = got.get(source, 0)
        out[who] = {"due": due_total, "received": paid, "arrears": max(0, due_total - paid)}
    return out
