"""The posting engine's one hook into each fund's current figures (models/figures.py): the money
a post() moves is added to the funds' rows in the same database transaction, as the checkpoints
are. A row whose surplus is or becomes above zero is marked stale: how long a surplus has lasted
needs the balance's history, which the dashboard reads again (reports/current.py)."""
from __future__ import annotations

import sqlalchemy as sa

from ..models import FundFigureRow, Transaction
from ..models.figures import STALE
from .kinds import REVERSAL

# What uses the plan year's budget (reports.dashboard.USED_KINDS, checked by tests), and the fee.
USES = frozenset(("fee", "fee_refund", "delivery", "rate_adjustment", "shared_charge", "spend"))
FEES = frozenset(("fee", "fee_refund"))

_t = FundFigureRow.__table__


def _statement():
    c, a = _t.c, sa.bindparam("b_a", type_=sa.BigInteger)
    day = sa.bindparam("b_day", type_=sa.Date)
    held = c.available + a
    above = held - c.bank_value - c.threshold
    x, y = held * 5200, c.annual_budget  # weeks held in hundredths: ROUND_HALF_UP(x / y)
    weeks = sa.case((y <= 0, c.weeks_held), (x >= 0, (2 * x + y) // (2 * y)), else_=-((-2 * x + y) // (2 * y)))
    in_year = sa.and_(c.year_start.is_not(None), day >= c.year_start)
    return (_t.update().where(c.person_id == sa.bindparam("b_pid")).values(
        version=c.version + 1, available=held, contingency=c.contingency + sa.bindparam("b_c", type_=sa.BigInteger),
        spent=c.spent + sa.case((in_year, sa.bindparam("b_u", type_=sa.BigInteger)), else_=0),
        spent_on_support=c.spent_on_support + sa.case((in_year, sa.bindparam("b_s", type_=sa.BigInteger)), else_=0),
        overdrawn=sa.case((held < 0, -held), else_=0), surplus=sa.case((above > 0, above), else_=0),
        weeks_held=weeks, stale_on=sa.case((sa.or_(c.surplus > 0, above > 0), STALE), else_=c.stale_on)))


_UPDATE = _statement()


def add_to_fund_figures(session, entries) -> None:
    """Add what `entries` (posted) moved on each fund's pots to its row, by fund and date."""
    unknown = {e.reverses_id for e in entries if e.reverses_id is not None and e.kind_reversed is None}
    kinds = dict(session.execute(sa.select(Transaction.id, Transaction.kind)
                                 .where(Transaction.id.in_(unknown))).all()) if unknown else {}
    moved: dict[tuple, list[int]] = {}
    for e in entries:
        if e.person_id is None:
            continue
        kind = e.kind
        if kind == REVERSAL.name and e.reverses_id is not None:
            kind = e.kind_reversed or kinds[e.reverses_id]
        row = moved.setdefault((e.person_id, e.posted_date), [0, 0, 0, 0])
        for account, pence in e.legs:
            if account.person_id is None:
                continue
            if account.kind == "available":
                row[0] += pence
                if kind in USES:
                    row[2] -= pence
                    if kind not in FEES:
                        row[3] -= pence
            else:
                row[1] += pence
    if moved:
        session.execute(_UPDATE, [{"b_pid": pid, "b_day": day, "b_a": a, "b_c": c, "b_u": u, "b_s": s}
                                  for (pid, day), (a, c, u, s) in sorted(moved.items())])
