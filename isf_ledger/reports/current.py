"""Today's dashboard from each fund's kept figures (models/figures.py): one page of rows, sorted
along an index and filtered in the database, and the totals added up in one query.

The figures in a row are the slow path's (reports.dashboard.fund_figures), never a formula of
their own: `refresh` works the stale rows out again through it, for those funds alone (every
fund at once when most are stale, as on a new day), and writes each back only if no write
changed it meanwhile (its version, raised by the triggers). Any other date takes the slow path.
Entry points, when `stale`, run `refresh` in a unit of work of its own whose connection has the
WRITES option (a GET's transaction on SQLite is otherwise a read that cannot take the write lock
once another writer has committed), then read. A row is made for each fund by the
trigger on funds (funds are never removed), so the rows are the funds.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from ..models import FundFigureRow
from ..models.figures import ALERT_COLUMNS, NO_WEEKS
from .dashboard import ALERTS, HOURS, THRESHOLDS, SORTS, SUMMED, FundFigures, fund_figures, totals_of, weeks_held

F = FundFigureRow
ROUNDS = 3  # a row a write changed while it was worked out is worked out again, this many times at most
# The kept column each of dashboard.SORTS sorts by (tests check every key has one).
SORT_COLUMNS = {"name": F.name_key, "person_id": F.person_id, "council": F.council_key, "balance": F.available,
                "weeks_held": F.weeks_held, "surplus": F.surplus, "overdrawn": F.overdrawn, "arrears": F.arrears,
                "contingency": F.contingency, "bank_value": F.bank_value, "alerts": F.alert_count, "spent": F.spent}
assert set(SORT_COLUMNS) == set(SORTS) and tuple(ALERT_COLUMNS) == tuple(ALERTS)
ALERT_COLUMN = {a: getattr(F, f"alert_{a}") for a in ALERTS}


def _stale(today: date):
    return sa.or_(F.figures_on.is_(None), F.figures_on < today, F.figures_on > today)  # along the index


def stale(session, today: date) -> bool:
    """Whether any row is to be worked out again before today's dashboard is read (a read)."""
    return session.scalar(sa.select(F.person_id).where(_stale(today)).limit(1)) is not None


WRITES = {"isf_write": True}  # the connection's option for refresh's transaction (SQLite: BEGIN IMMEDIATE)


def refresh(session, today: date) -> int:
    """Work out again, as at `today`, every row not already worked out for today since its last
    change, and write each back unless a write changed it meanwhile. Returns how many were written."""
    written = 0
    for _ in range(ROUNDS):
        versions = dict(session.execute(sa.select(F.person_id, F.version).where(_stale(today))).all())
        if not versions:
            break
        every = session.scalar(sa.select(sa.func.count()).select_from(F))
        # Most stale (a new day, a new rate): the slow path's one pass over every fund is cheaper.
        funds = (fund_figures(session, today) if 2 * len(versions) > every
                 else fund_figures(session, today, person_ids=sorted(versions)))
        rows = [_row(f, today, versions[f.person_id]) for f in funds if f.person_id in versions]
        done = session.execute(_WRITE, rows).rowcount if rows else 0
        written += done
        if done == len(rows):
            break
    return written


def mark_all_stale(session) -> None:
    """Every row to be worked out again on its next read (the rebuild)."""
    session.execute(F.__table__.update().values(figures_on=None, version=F.version + 1))


def _row(f: FundFigures, today: date, version: int) -> dict:
    values = {"figures_on": today, "name": f.name, "name_key": f.name.casefold(), "council": f.council,
              "council_key": f.council.casefold(), "council_reference": f.council_reference,
              "closed_on": f.closed_on, "available": f.available, "contingency": f.contingency,
              "bank_value": f.bank_value, "annual_budget": f.annual_budget,
              "weeks_held": NO_WEEKS if f.weeks_held is None else int(f.weeks_held * 100), "surplus": f.surplus,
              "surplus_lasting": f.surplus_lasting, "arrears": f.arrears, "overdrawn": f.overdrawn,
              "spent": f.spent, "spent_on_support": f.spent_on_support, "pace": f.pace,
              **{s: f.hours.get(s, 0) for s in HOURS}, "queries_overdue": f.queries_overdue,
              "alert_count": len(f.alerts), **{f"alert_{a}": a in f.alerts for a in ALERTS}}
    return {"b_pid": f.person_id, "b_version": version, **{f"v_{k}": v for k, v in values.items()}}


WRITTEN = [c.name for c in F.__table__.columns if c.name not in ("person_id", "version")]
_WRITE = (F.__table__.update()
          .where(F.person_id == sa.bindparam("b_pid"), F.version == sa.bindparam("b_version"))
          .values({c: sa.bindparam(f"v_{c}", type_=F.__table__.c[c].type) for c in WRITTEN}))


def figures_of(k: FundFigureRow) -> FundFigures:
    """A kept row as the slow path's FundFigures."""
    f = FundFigures(k.person_id, k.name, k.council, k.council_reference, k.closed_on, available=k.available,
                    contingency=k.contingency, bank_value=k.bank_value, annual_budget=k.annual_budget,
                    surplus=k.surplus, surplus_lasting=k.surplus_lasting, arrears=k.arrears, overdrawn=k.overdrawn,
                    spent=k.spent, spent_on_support=k.spent_on_support, pace=k.pace,
                    queries_overdue=k.queries_overdue)
    f.weeks_held = weeks_held(k.available, k.annual_budget)  # its sign of zero as the slow path shows it
    f.hours = {s: getattr(k, s) for s in HOURS}
    f.alerts = [a for a in ALERTS if getattr(k, f"alert_{a}")]
    return f


def _filtered(session, q, council: str | None, alert: str | None, name: str | None):
    """As the dashboard page filters: the council's name exactly, an alert, part of the name."""
    if council:
        q = q.where(F.council == council)
    if alert:
        q = q.where(ALERT_COLUMN.get(alert, sa.false()))  # no such alert: no fund
    if name:
        find = sa.func.strpos if session.get_bind().dialect.name == "postgresql" else sa.func.instr
        q = q.where(find(F.name_key, name.casefold()) > 0)
    return q


def page_of(session, *, sort: str = "name", page: int = 1, per_page: int = 50, council: str | None = None,
            alert: str | None = None, name: str | None = None) -> list[FundFigures]:
    """One page of the kept funds, sorted by `sort` (as dashboard.SORTS: ties by person id), filtered."""
    column = SORT_COLUMNS[sort.lstrip("-")]
    order = [column.desc() if sort.startswith("-") else column.asc()]
    if column is not F.person_id:
        order.append(F.person_id.asc())
    q = _filtered(session, sa.select(F), council, alert, name).order_by(*order)
    return [figures_of(k) for k in session.scalars(q.limit(per_page).offset((page - 1) * per_page))]


def count_of(session, council: str | None = None, alert: str | None = None, name: str | None = None) -> int:
    q = _filtered(session, sa.select(sa.func.count()).select_from(F), council, alert, name)
    return session.scalar(q)


def councils_of(session) -> list[str]:
    """The councils of the kept funds, as the page's filter lists them."""
    q = sa.select(F.council).distinct()
    return sorted(session.scalars(q), key=str.casefold)


def totals(session, today: date) -> dict:
    """dashboard.totals from the kept rows, added up in one query."""
    count = lambda c: sa.func.coalesce(sa.func.sum(sa.case((c, 1), else_=0)), 0)  # noqa: E731
    row = session.execute(sa.select(sa.func.count(), *(sa.func.coalesce(sa.func.sum(getattr(F, k)), 0) for k in SUMMED),
                                    *(count(ALERT_COLUMN[a]) for a in ALERTS))
                          ).one()
    added = {"funds": int(row[0]), **{k: int(v) for k, v in zip(SUMMED, row[1:])},
             "alerts": {a: int(v) for a, v in zip(ALERTS, row[1 + len(SUMMED):])}}
    return totals_of(session, added, today, kept=True)


def dashboard(session, today: date, *, page: int = 1, per_page: int = 50, sort: str = "name") -> dict:
    """dashboard.dashboard as at today, from the kept rows (refresh them first)."""
    t = totals(session, today)
    return {"as_of": today.isoformat(), "sort": sort, "page": page, "per_page": per_page, "total": t["funds"],
            "funds": [f.as_json() for f in page_of(session, sort=sort, page=page, per_page=per_page)], "totals": t,
            "thresholds": THRESHOLDS}
