"""What an arrangement and its charged months look like to whoever asks.

Finance and brokers see every member. A person sees their own membership and share with its
working, the empty places and the cost; the other members only as one total, so the parts still
visibly sum to the cost without showing anyone else's fund. An auditor sees the members their
council funds the same way.
"""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from ..models import Council, Person
from .. import clock
from ..auth.users import can_see_person
from ..money import format_decimal, format_pence
from ..sheets import GBP, Formula, append, fit_columns, print_to_width
from .apportion import Version, apportion, version_on
from .charges import account_code, history
from ..models.shared_support import Arrangement, ArrangementVersion, ChargeLine, ChargeRun, Membership, MembershipTerm


def arrangement_json(session, arrangement: Arrangement, user) -> dict:
    return arrangements_json(session, [arrangement], user)[0]


def arrangements_json(session, arrangements: list[Arrangement], user) -> list[dict]:
    """Each arrangement with its versions and the members `user` may see: five queries however
    many arrangements and members there are."""
    ids = [a.id for a in arrangements]
    if not ids:
        return []
    versions: dict[int, list[ArrangementVersion]] = {}
    for v in session.scalars(sa.select(ArrangementVersion).where(ArrangementVersion.arrangement_id.in_(ids))
                             .order_by(ArrangementVersion.effective_from, ArrangementVersion.id)):
        versions.setdefault(v.arrangement_id, []).append(v)
    council_ids = {a.council_id for a in arrangements if a.council_id}
    councils = dict(session.execute(sa.select(Council.id, Council.name).where(Council.id.in_(council_ids))).all()) \
        if council_ids else {}
    members = _members(session, ids, user)
    today = clock.today()
    out = []
    for arrangement in arrangements:
        mine = versions[arrangement.id]
        today_version = version_on([Version(v.effective_from, v.capacity) for v in mine], today) \
            or Version(mine[0].effective_from, mine[0].capacity)
        now = next(v for v in mine if v.effective_from == today_version.effective_from)
        out.append({"id": arrangement.id, "name": arrangement.name, "method": arrangement.method,
                    "domain": arrangement.domain, "council": councils.get(arrangement.council_id),
                    "account": account_code(arrangement.id), "capacity": now.capacity,
                    "per_night_pence": now.per_night_pence, "weekly_pence": now.weekly_pence,
                    "effective_from": mine[0].effective_from, "versions": mine,
                    "members": members.get(arrangement.id, [])})
    return out


def members_json(session, arrangement_id: int, user, only: int | None = None) -> list[dict]:
    return _members(session, [arrangement_id], user, only).get(arrangement_id, [])


def _members(session, arrangement_ids: list[int], user, only: int | None = None) -> dict[int, list[dict]]:
    """The members `user` may see of each arrangement, each with every review (its terms), by
    when they joined: three queries however many."""
    q = sa.select(Membership).where(Membership.arrangement_id.in_(arrangement_ids)).order_by(
        Membership.starts_on, Membership.person_id)
    if only is not None:
        q = q.where(Membership.id == only)
    memberships = session.scalars(q).all()
    if not memberships:
        return {}
    terms: dict[int, list[MembershipTerm]] = {}
    for t in session.scalars(sa.select(MembershipTerm).where(
            MembershipTerm.membership_id.in_([m.id for m in memberships]))
            .order_by(MembershipTerm.effective_from, MembershipTerm.id)):
        terms.setdefault(t.membership_id, []).append(t)
    people = {p.id: p for p in session.scalars(sa.select(Person).where(
        Person.id.in_({m.person_id for m in memberships})))}
    out: dict[int, list[dict]] = {}
    for m in memberships:
        if not can_see_person(user, people.get(m.person_id)):
            continue
        latest = terms[m.id][-1]
        out.setdefault(m.arrangement_id, []).append({
            "id": m.id, "person_id": m.person_id, "starts_on": m.starts_on, "ends_on": latest.ends_on,
            "weight": latest.weight, "agreed_on": latest.agreed_on, "recorded_by": latest.recorded_by,
            "terms": terms[m.id]})
    return out


def month_json(session, arrangement: Arrangement, month: date, user) -> dict | None:
    """The charged month from its charge lines (what was posted), or None if not charged."""
    run = session.scalar(sa.select(ChargeRun).where(ChargeRun.arrangement_id == arrangement.id,
                                                    ChargeRun.month == month))
    if run is None:
        return None
    lines = session.scalars(sa.select(ChargeLine).where(ChargeLine.run_id == run.id).order_by(ChargeLine.id)).all()
    latest = lines[-1]  # every line of one working shares its cost and totals
    parties: dict[int | None, list[ChargeLine]] = {}
    for line in lines:
        parties.setdefault(line.person_id, []).append(line)
    people = {p.id: p for p in session.scalars(sa.select(Person).where(
        Person.id.in_([pid for pid in parties if pid is not None])))}
    shares, others = [], {"members": 0, "share_pence": 0}
    for pid in sorted(p for p in parties if p is not None):
        rows = parties[pid]
        share = sum(r.amount_pence for r in rows)
        if not can_see_person(user, people.get(pid)):
            if share or rows[-1].days:
                others["members"] += 1
            others["share_pence"] += share
            continue
        last = rows[-1]
        shares.append({"person_id": pid, "name": people[pid].name, "share_pence": share,
                       "working": _working(last), "lines": rows})
    empty = None
    if None in parties:
        rows = parties[None]
        council = session.get(Council, rows[-1].council_id) if rows[-1].council_id else None
        empty = {"days": rows[-1].days, "place_days": rows[-1].weight_days,
                 "share_pence": sum(r.amount_pence for r in rows),
                 "funded_by": "council" if council else "provider", "council": council.name if council else None,
                 "lines": rows}
    total = sum(line.amount_pence for line in lines)
    worked = apportion(month, *history(session, [arrangement.id])[arrangement.id])
    return {"arrangement_id": arrangement.id, "name": arrangement.name, "month": f"{month:%Y-%m}",
            "method": arrangement.method, "domain": arrangement.domain, "cost_pence": latest.cost_pence,
            "cost_working": worked.cost_working, "nights": worked.nights, "places": latest.capacity,
            "total_weight_days": latest.total_weight_days, "shares": shares,
            "other_members": ({"members": others["members"], "share_pence": others["share_pence"]}
                              if user.role in ("person", "auditor") else None),
            "empty_places": empty, "total_pence": total, "sums_to_cost": total == latest.cost_pence,
            "run_id": run.id, "charged_at": run.created_at,
            "transaction_ids": [line.transaction_id for line in lines if line.transaction_id is not None]}


def _working(line: ChargeLine) -> dict:
    return {"days": line.days, "weight": line.weight, "weight_days": line.weight_days,
            "total_weight_days": line.total_weight_days, "places": line.capacity, "cost_pence": line.cost_pence}


def month_xlsx(report: dict) -> bytes:
    """The month's workbook: one row per party and a SUM formula for the total, beside the cost."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = f"Shared {report['month']}"
    append(ws, [f"{report['name']} (arrangement {report['arrangement_id']}): {report['month']}"])
    ws["A1"].font = Font(bold=True)
    append(ws, ["Cost of the month", _pounds(report["cost_pence"]), report["cost_working"]])
    append(ws, ["Places", report["places"], f"{report['method']} shares"])
    append(ws, [])
    append(ws, ["Who", "Days", "Weight", "Weight x days", "Of all weight x days", "Share (£)"])
    for c in ws[5]:
        c.font = Font(bold=True)
    first = ws.max_row + 1
    for s in report["shares"]:
        w = s["working"]
        append(ws, [s["name"] + f" (person {s['person_id']})", w["days"], _number(w["weight"]),
                    _number(w["weight_days"]), _number(report["total_weight_days"]),
                    _pounds(s["share_pence"])])
    if report.get("other_members"):
        o = report["other_members"]
        append(ws, [f"Other members ({o['members']})", None, None, None, None, _pounds(o["share_pence"])])
    if report["empty_places"]:
        e = report["empty_places"]
        who = "Empty places (" + (f"funded by {e['council']}" if e["council"] else "borne by the provider") + ")"
        append(ws, [who, e["days"], Decimal(1), _number(e["place_days"]), _number(report["total_weight_days"]),
                    _pounds(e["share_pence"])])
    last = ws.max_row
    ws.auto_filter.ref = f"A5:F{last}"  # the parties' table, under its header row
    ws.print_title_rows = "5:5"
    append(ws, ["Total", None, None, None, None, Formula(f"=SUM(F{first}:F{last})")])
    ws.cell(ws.max_row, 1).font = Font(bold=True)
    append(ws, ["The total equals the cost", None, None, None, None, Formula(f"=F{ws.max_row}=B2")])
    for row in ws.iter_rows(min_row=2, min_col=2, max_col=6):
        for c in row:
            if c.column in (2, 6) and c.row != 3:
                c.number_format = GBP
            elif c.column in (3, 4, 5) and c.row > 5 and isinstance(c.value, Decimal):
                c.number_format = "#,##0.####"
    ws.column_dimensions["A"].width = 44
    ws.column_dimensions["F"].width = 14
    fit_columns(ws, from_row=2)
    ws.freeze_panes = "A6"
    print_to_width(ws, landscape=False)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _number(value) -> Decimal:
    """A weight or weight x days as a number cell (a whole number without places)."""
    return Decimal(format_decimal(value))


def _pounds(pence: int) -> Decimal:
    return Decimal(format_pence(pence))
