"""A council's monthly actuals: per person it funds, the month's hours against the plan and their
cost, shared support, and the empty places the council funds as their own line (domain.md
"Councils", "Shared support").

Set-based: hours from accounts/hours.hours_by_period for all the council's people at once,
charges from one query over the month's deliveries, shared support from one over the month's
charge lines. Costs are the deliveries' own charges (the rate on the day), not reversed ones;
later rate adjustments are not in them (the ledger's statements carry those).

The CSV is for finance systems: one header row, one row per person, then a row per arrangement
whose empty places this council funds; ISO dates, plain decimals with two places, no currency
signs or thousands separators.
"""
from __future__ import annotations

import io
from collections import defaultdict
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from ..accounts.hours import hours_by_period
from ..models import Council, Delivery, DeliveryReversal, Person
from ..sheets import DATE, GBP, QUANTITY, Writer, append, fit_streamed, styled, table, words
from ..models.shared_support import Arrangement, ChargeLine, ChargeRun
from ..money import format_hundredths, format_pence
from ..clock import month_end, month_start

HOURS = ("planned", "delivered", "refused", "unplanned", "banked", "bank_used", "provider_cancelled")
COSTED = ("delivered", "refused", "unplanned", "bank_used")  # the charged statuses
COLUMNS = (["row_type", "month", "period_start", "period_end", "council", "council_reference", "person_id", "name"]
           + [f"{h}_hours" for h in HOURS] + [f"{s}_cost" for s in COSTED]
           + ["support_cost", "shared_support", "council_funded_voids", "total_cost"])


def actuals(session, council: Council, month: date) -> list[dict]:
    """The rows of the export, each a dict of COLUMNS, values as strings (money and hours with
    two places)."""
    first, last = month_start(month), month_end(month)
    base = {"month": first.strftime("%Y-%m"), "period_start": first.isoformat(), "period_end": last.isoformat(),
            "council": council.name}
    people = session.execute(sa.select(Person.id, Person.name, Person.council_reference)
                             .where(Person.council_id == council.id).order_by(Person.council_reference, Person.id)).all()
    ids = [p[0] for p in people]
    hours = hours_by_period(session, ids, first, last) if ids else {}
    cost: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    shared: dict[int, int] = defaultdict(int)
    if ids:
        q = (sa.select(Delivery.person_id, Delivery.status, sa.func.sum(Delivery.charge_pence))
             .join(Person, Person.id == Delivery.person_id)
             .outerjoin(DeliveryReversal, DeliveryReversal.delivery_id == Delivery.id)
             .where(Person.council_id == council.id, DeliveryReversal.id.is_(None),
                    Delivery.date >= first, Delivery.date <= last)
             .group_by(Delivery.person_id, Delivery.status))
        for pid, status, pence in session.execute(q):
            cost[pid][status] += int(pence)
        q = (sa.select(ChargeLine.person_id, sa.func.sum(ChargeLine.amount_pence))
             .join(ChargeRun, ChargeRun.id == ChargeLine.run_id).join(Person, Person.id == ChargeLine.person_id)
             .where(Person.council_id == council.id, ChargeRun.month == first)
             .group_by(ChargeLine.person_id))
        shared.update({pid: int(p) for pid, p in session.execute(q)})
    rows = []
    for pid, name, ref in people:
        h = (hours.get(pid, {}).get("months") or [{}])[0]
        c = cost.get(pid, {})
        support = sum(c.get(s, 0) for s in COSTED)
        row = {**base, "row_type": "person", "council_reference": ref or "", "person_id": str(pid), "name": name}
        row.update({f"{k}_hours": format_hundredths(h.get(k, 0)) for k in HOURS})
        row.update({f"{s}_cost": format_pence(c.get(s, 0)) for s in COSTED})
        row.update(support_cost=format_pence(support), shared_support=format_pence(shared.get(pid, 0)),
                   council_funded_voids="0.00", total_cost=format_pence(support + shared.get(pid, 0)))
        rows.append(row)
    voids = (sa.select(Arrangement.id, Arrangement.name, sa.func.sum(ChargeLine.amount_pence))
             .join(ChargeRun, ChargeRun.id == ChargeLine.run_id).join(Arrangement, Arrangement.id == ChargeRun.arrangement_id)
             .where(ChargeLine.person_id.is_(None), ChargeLine.council_id == council.id, ChargeRun.month == first)
             .group_by(Arrangement.id, Arrangement.name).order_by(Arrangement.id))
    for aid, aname, pence in session.execute(voids):
        row = {**base, "row_type": "council_funded_voids", "council_reference": "", "person_id": "",
               "name": f"Empty places: {aname} (arrangement {aid})"}
        row.update({k: "0.00" for k in COLUMNS if k.endswith(("_hours", "_cost")) and k not in row})
        row.update(support_cost="0.00", shared_support="0.00", council_funded_voids=format_pence(int(pence)),
                   total_cost=format_pence(int(pence)))
        rows.append(row)
    return rows


def to_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    w = Writer(out, lineterminator="\r\n")
    w.writerow(COLUMNS)
    w.writerows([r[k] for k in COLUMNS] for r in rows)
    return out.getvalue().encode("utf-8")


NUMERIC = {k for k in COLUMNS if k.endswith(("_hours", "_cost")) or k in ("shared_support", "council_funded_voids")}


def to_xlsx(rows: list[dict], council: Council, month: date) -> bytes:
    """The CSV's rows as a workbook for people: headings in words, dates as dates, money in £,
    hours to two places, the header frozen and filtered, fit to print."""
    from openpyxl import Workbook
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(f"Actuals {month:%Y-%m}")
    header = [HEADINGS.get(k, words(k)) for k in COLUMNS]
    fit_streamed(ws, [header, *([r[k] for k in COLUMNS] for r in rows)])  # before the first row is written
    table(ws, last_row=len(rows) + 1, columns=len(COLUMNS), fit=False)
    append(ws, header)
    for r in rows:
        append(ws, [_xlsx_value(ws, k, r[k]) for k in COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


HEADINGS = {"row_type": "Row", "person_id": "Person id", "council_funded_voids": "Empty places the council funds",
            "bank_used_hours": "Hours used from the bank", "bank_used_cost": "Bank used cost"}


ROW_TYPES = {"person": "Person", "council_funded_voids": "Empty places the council funds"}


def _xlsx_value(ws, column: str, text: str):
    if not text:
        return None
    if column in NUMERIC:
        return styled(ws, Decimal(text), QUANTITY if column.endswith("_hours") else GBP)
    if column in ("period_start", "period_end"):
        return styled(ws, date.fromisoformat(text), DATE)
    if column == "row_type":
        return ROW_TYPES.get(text, text)
    return int(text) if column == "person_id" else text
