"""The dashboard as at today from each fund's kept figures (models/figures.py): one page of
rows, sorted along an index and filtered in the database, and the totals from one pass over the
kept rows; the same figures as reports.dashboard.fund_figures (the slow path, which any other
date still takes) works out, to the penny (tests/test_fund_figures.py).

Before reading, the rows that are stale (something they depend on was written, or the calendar
reached the day validity.valid_until gave them) are worked out again by the slow path for those
funds alone and written back, each only if no write changed it meanwhile (its version). The
budget's pace and the overspending alert move every day: they are worked out here, in SQL, from
the kept plan year, budget and use. The recent hours shown are read for the page's funds.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from ..accounts.reconciliation import reconcile
from ..db import among
from ..models import Council, Fund, FundFigureRow, Person
from ..models.figures import NO_WEEKS, STALE
from ..money import format_pence
from .dashboard import ALERTS, THRESHOLDS, FundFigures, fund_figures, hours_window, last_reconciled, recent_hours
from .validity import valid_until

NEVER = date(9999, 12, 31)
F = FundFigureRow
REFRESH_ROUNDS = 3  # a row a write changed while it was worked out is worked out again, up to this


def refresh(session, today: date, person_ids=None) -> int:
    """Work out again, as at `today`, the rows that are stale (or `person_ids`' rows) and write
    each back unless a write changed it meanwhile; commits. Returns how many were written."""
    written = 0
    for _ in range(REFRESH_ROUNDS):
        q = sa.select(F.person_id, F.version)
        q = (q.where(sa.or_(F.stale_on <= today, F.figures_on > today)) if person_ids is None
             else q.where(among(session, F.person_id, sorted(person_ids))))
        versions = dict(session.execute(q).all())
        if not versions:
            break
        read: dict = {}
        funds = fund_figures(session, today, person_ids=sorted(versions), read=read)
        valid_until(session, funds, today, **read)
        rows = [_row(f, today, versions[f.person_id]) for f in funds]
        if session.get_bind().dialect.name == "sqlite":
            session.commit()  # the read's snapshot ends; the writes take the write lock
        done = session.execute(_WRITE, rows).rowcount if rows else 0
        session.commit()
        written += done
        if done == len(rows):
            break
        person_ids = None
    return written


def _row(f: FundFigures, today: date, version: int) -> dict:
    year = f.year
    values = {"figures_on": today, "stale_on": f.until or NEVER, "name_key": f.name.casefold(),
              "council_key": f.council.casefold(), "available": f.available, "contingency": f.contingency,
              "bank_value": f.bank_value, "annual_budget": f.annual_budget,
              "weeks_held": NO_WEEKS if f.weeks_held is None else int(f.weeks_held * 100),
              "threshold": f.threshold, "surplus": f.surplus, "overdrawn": f.overdrawn, "arrears": f.arrears,
              "spent": f.spent, "spent_on_support": f.spent_on_support, "year_start": year[0] if year else None,
              "year_start_day": year[0].toordinal() if year else 0,
              "year_days": (year[1] - year[0]).days + 1 if year else 0, "lasting": f.surplus_lasting,
              "many_refusals": "many_refusals" in f.alerts,
              "many_cancellations": "many_provider_cancellations" in f.alerts, "queries_overdue": f.queries_overdue}
    return {"b_pid": f.person_id, "b_version": version, **{f"v_{k}": v for k, v in values.items()}}


WRITTEN = ("figures_on", "stale_on", "name_key", "council_key", "available", "contingency", "bank_value",
           "annual_budget", "weeks_held", "threshold", "surplus", "overdrawn", "arrears", "spent",
           "spent_on_support", "year_start", "year_start_day", "year_days", "lasting", "many_refusals",
           "many_cancellations", "queries_overdue")
_WRITE = (F.__table__.update()
          .where(F.person_id == sa.bindparam("b_pid"), F.version == sa.bindparam("b_version"))
          .values({c: sa.bindparam(f"v_{c}", type_=F.__table__.c[c].type) for c in WRITTEN}))


def mark_all_stale(session) -> None:
    session.execute(F.__table__.update().values(stale_on=STALE, version=F.version + 1))


# --- Reading -------------------------------------------------------------------------------------

def _pace(today: date):
    """The budget's pace today: ROUND_HALF_UP(budget x days gone / days in the plan year)."""
    gone = sa.literal(today.toordinal()) - F.year_start_day + 1
    return sa.case((F.year_start.is_not(None), (2 * F.annual_budget * gone + F.year_days) // (2 * F.year_days)),
                   else_=0)


def _fired(today: date) -> dict:
    pace = _pace(today)
    return {
        "overdrawn": F.available < 0,
        "underspending": sa.and_(F.surplus > 0, F.lasting),
        # spent_on_support > pace x (1 + OVERSPEND_MARGIN), in whole numbers
        "overspending": sa.and_(pace > 0, 10 * F.spent_on_support > 11 * pace),
        "many_refusals": F.many_refusals,
        "many_provider_cancellations": F.many_cancellations,
        "arrears": F.arrears > 0,
        "queries_overdue": F.queries_overdue > 0,
    }


def _count(condition):
    return sa.case((condition, 1), else_=0)


SORT_COLUMNS = {"name": F.name_key, "person_id": F.person_id, "council": F.council_key, "balance": F.available,
                "weeks_held": F.weeks_held, "surplus": F.surplus, "overdrawn": F.overdrawn, "arrears": F.arrears,
                "contingency": F.contingency, "bank_value": F.bank_value, "spent": F.spent}


def _filtered(session, q, today: date, council: str | None, alert: str | None, name: str | None):
    if council:
        q = q.where(Council.name == council)
    if alert:
        q = q.where(_fired(today).get(alert, sa.false()))  # no such alert: no fund
    if name:
        find = sa.func.strpos if session.get_bind().dialect.name == "postgresql" else sa.func.instr
        q = q.where(find(F.name_key, name.casefold()) > 0)
    return q


def current_funds(session, today: date, *, sort: str = "name", page: int = 1, per_page: int = 50,
                  council: str | None = None, alert: str | None = None, name: str | None = None,
                  fresh: bool = True) -> list[FundFigures]:
    """One page of funds as at today, sorted by `sort` (as dashboard.SORTS), filtered by the
    council's name, an alert and part of the person's name. `fresh`: refresh the stale rows first."""
    if fresh:
        refresh(session, today)
    fired = _fired(today)
    key = sort.lstrip("-")
    column = sum(_count(c) for c in fired.values()) if key == "alerts" else SORT_COLUMNS[key]
    order = column.desc() if sort.startswith("-") else column.asc()
    q = (sa.select(F, Person.name, Person.council_reference, Council.name, Fund.closed_on, _pace(today),
                   *(v.label(k) for k, v in fired.items()))
         .join(Person, Person.id == F.person_id).join(Council, Council.id == Person.council_id)
         .join(Fund, Fund.person_id == F.person_id))
    q = _filtered(session, q, today, council, alert, name)
    rows = session.execute(q.order_by(order, F.person_id).limit(per_page).offset((page - 1) * per_page)).all()
    ids = [r[0].person_id for r in rows]
    hours = recent_hours(session, hours_window(today), today, ids) if ids else {}
    out = []
    for r in rows:
        k, name_, ref, council_name, closed_on, pace = r[:6]
        f = FundFigures(k.person_id, name_, council_name, ref, closed_on, available=k.available,
                        contingency=k.contingency, bank_value=k.bank_value, annual_budget=k.annual_budget,
                        surplus=k.surplus, surplus_lasting=k.lasting, arrears=k.arrears, overdrawn=k.overdrawn,
                        spent=k.spent, spent_on_support=k.spent_on_support, pace=int(pace),
                        queries_overdue=k.queries_overdue)
        f.weeks_held = None if k.weeks_held == NO_WEEKS else Decimal(k.weeks_held).scaleb(-2)
        f.hours = {s: hours.get(k.person_id, {}).get(s, 0) for s in ("delivered", "refused", "provider_cancelled")}
        f.alerts = [a for a, on in zip(ALERTS, r[6:]) if on]
        out.append(f)
    return out


def count_funds(session, today: date, council: str | None = None, alert: str | None = None,
                name: str | None = None) -> int:
    """How many funds the filters leave."""
    q = (sa.select(sa.func.count()).select_from(F).join(Person, Person.id == F.person_id)
         .join(Council, Council.id == Person.council_id))
    return session.scalar(_filtered(session, q, today, council, alert, name))


def council_names(session) -> list[str]:
    """The councils that fund someone, as the dashboard's filter lists them."""
    q = sa.select(Council.name).where(sa.exists().where(Person.council_id == Council.id))
    return sorted(session.scalars(q), key=str.casefold)


def current_totals(session, today: date) -> dict:
    """dashboard.totals from the kept rows: one pass over them, and client money."""
    fired = _fired(today)
    row = session.execute(sa.select(
        sa.func.count(), *(sa.func.coalesce(sa.func.sum(c), 0) for c in (
            F.available, F.contingency, F.bank_value, F.surplus, F.arrears, F.overdrawn)),
        *(sa.func.coalesce(sa.func.sum(_count(c)), 0) for c in fired.values()))).one()
    n, available, contingency, bank, surplus, arrears, overdrawn = (int(x) for x in row[:7])
    rec = reconcile(session, today, funds=(available + contingency, overdrawn))
    return {
        "funds": n, "balance": format_pence(available), "contingency": format_pence(contingency),
        "bank_liability": format_pence(bank), "surplus_above_threshold": format_pence(surplus),
        "arrears": format_pence(arrears), "overdrawn": format_pence(overdrawn),
        "provider_must_make_good": format_pence(rec["funds_overdrawn"]),
        "alerts": {a: int(v) for a, v in zip(fired, row[7:])},
        "reconciliation": {"funds_total": format_pence(rec["funds_total"]),
                           "client_money_held": format_pence(rec["client_money_held"]),
                           "difference": format_pence(rec["difference"]), "reconciles": rec["reconciles"],
                           "bank_difference": None if rec["bank_difference"] is None
                           else format_pence(rec["bank_difference"]),
                           "last_reconciled": last_reconciled(session, today)},
    }


def current_dashboard(session, today: date, *, page: int = 1, per_page: int = 50, sort: str = "name") -> dict:
    """dashboard.dashboard as at today, from the kept figures."""
    funds = current_funds(session, today, sort=sort, page=page, per_page=per_page)
    totals = current_totals(session, today)
    return {"as_of": today.isoformat(), "sort": sort, "page": page, "per_page": per_page, "total": totals["funds"],
            "funds": [f.as_json() for f in funds], "totals": totals, "thresholds": THRESHOLDS}
