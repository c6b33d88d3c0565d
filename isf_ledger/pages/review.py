"""The council reviewer's pages (issue 24, "The council reviewer"): their council's people, found
by name or council reference, with balance, surplus, arrears and alerts; and one person's review:
plan against actual by domain and outcome, hours per week against the plan, contingency draws
with their reasons and who authorised them, spend with payees and receipts, the provider's share
against what was paid elsewhere, shared support with its working, queries and their answers,
statements, the year ahead, and the review pack to download.

Nothing here writes. The figures are the review pack's (reports.review_pack.review_pack), the
dashboard's (reports.dashboard.fund_figures, for one council) and the forecast's
(reports.forecast), so the page, the workbook and the API say the same. Who may see a person is
the one visibility rule (frame.visible): an auditor only their council's people.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import Response, g, render_template, request

from .. import clock
from ..auth.scopes import PERSON
from ..accounts.hours import hours_used
from ..models import Council, Person
from ..accounts.plans import plans_of
from ..accounts.queries import queries_of
from ..db import db
from ..reports.dashboard import fund_figures
from ..reports.forecast import forecast, plan_year
from ..models.statements import Statement
from ..reports.review_pack import PROVIDER_HEADINGS, provider_share, render_review_pack, review_pack
from .frame import visible
from .people import PACE_TAGS, share
from .views import bp, signed_in
from ..clock import add_months, month_start

ALERT_WORDS = {
    "overdrawn": "Below zero", "underspending": "Money building up", "overspending": "Spending fast",
    "many_refusals": "Many refusals", "many_provider_cancellations": "Many missed visits",
    "arrears": "Payments due", "queries_overdue": "Query waiting",
}
HEADING_WORDS = {"management_fee_total": "The provider's fee", "support_charged_total": "Support from the provider",
                 "shared_support_total": "Shared support"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def reviewer_home():
    """An auditor's home: their council's people, searched by name or council reference (`q`)."""
    today = clock.today()
    council = db.session.get(Council, g.user.council_id)
    wanted = (request.args.get("q") or "").strip()[:200]
    funds = fund_figures(db.session, today, council_id=g.user.council_id) if council else []
    if wanted:
        key = wanted.casefold()
        funds = [f for f in funds if key in f.name.casefold() or key in (f.council_reference or "").casefold()]
    funds.sort(key=lambda f: (f.name.casefold(), f.person_id))
    return render_template("pages/review_people.html", council=council, funds=funds, wanted=wanted,
                           today=today, alert_words=ALERT_WORDS, title=f"{council.name if council else 'Your council'}'s people")


def _period(person_id: int, today: date, wanted: str | None = None) -> tuple[tuple[date, date], list[dict]]:
    """The review's period: the plan year in force today (its whole months so far), or an earlier
    plan year asked for by its first day (`wanted`, YYYY-MM-DD, from the page's own links), else
    the last twelve months; and every plan year so far, newest first, for choosing another."""
    plans = plans_of(db.session, person_id)
    current = plan_year(plans, today)
    if current is None:
        return (add_months(month_start(today), -11), today), []
    years, start = [], plans[0].effective_from
    while start <= today:
        years.append((start, add_months(start, 12) - timedelta(days=1)))
        start = add_months(start, 12)
    chosen = next(((a, b) for a, b in years if a.isoformat() == wanted), current)
    period = (chosen[0], min(chosen[1], today))
    choices = [{"start": a.isoformat(), "from": a, "to": b, "now": (a, b) == current, "shown": (a, b) == chosen}
               for a, b in reversed(years)]
    return period, choices


def _plan_against_actual(pack: dict) -> list[dict]:
    """The review pack's plan against actual, by domain with its outcomes."""
    planned, actual = pack["planned"], pack["actual"]
    rows = []
    for d in sorted({d for d, _ in planned} | {d for _, d in actual}):
        got = {h: actual.get((h, d), 0) for h in ("support_charged_total", "shared_support_total", "spend_total")}
        plan = sum(v for (dd, _), v in planned.items() if dd == d)
        rows.append({"domain": d, "outcomes": sorted(o for dd, o in planned if dd == d), "planned": plan,
                     **got, "actual": sum(got.values()), "difference": plan - sum(got.values())})
    return rows


def _weeks(pack: dict) -> tuple[list[dict], int]:
    """Hours used (delivered and from the bank) each week against the plan, and the bar's scale."""
    rows = []
    for w in pack["hours"]["weeks"]:
        used = hours_used(w)
        rows.append({"week": w["week"], "planned": w["planned"], "used": used, "refused": w["refused"],
                     "unplanned": w["unplanned"], "provider_cancelled": w["provider_cancelled"]})
    scale = max([1] + [max(r["planned"], r["used"]) for r in rows])
    for r in rows:
        r["used_pct"], r["planned_pct"] = share(r["used"], scale), share(r["planned"], scale)
    return rows, scale


def review_page(person_id: int):
    person = g.person if isinstance(g.get("person"), Person) else db.session.get(Person, person_id)
    today = clock.today()
    wanted = request.args.get("year")
    (start, end), years = _period(person_id, today, wanted)
    pack = review_pack(db.session, person_id, start, end)
    weeks, _ = _weeks(pack)
    totals = pack["totals"]
    provider = provider_share(totals)
    by_part = [(HEADING_WORDS[h], totals[h]) for h in PROVIDER_HEADINGS]
    year = forecast(db.session, person_id, today)
    pace = PACE_TAGS.get(year["pace"]) if year and year["pace"] else None
    statements = db.session.execute(
        sa.select(Statement.month, sa.func.max(Statement.number)).where(Statement.person_id == person_id)
        .group_by(Statement.month).order_by(Statement.month.desc())).all()
    return render_template(
        "pages/review_person.html", person=person, pack=pack, position=pack["position"],
        period=pack["period"], plan_rows=_plan_against_actual(pack), weeks=weeks,
        weekly=pack["planned_weekly_hours"], contingency=pack["contingency"], spend=pack["spend"],
        share_of=provider, by_part=by_part, shared=pack["shared"], queries=queries_of(db.session, person_id),
        statements=[{"month": m.strftime("%Y-%m"), "number": n} for m, n in statements],
        year=year, pace=pace, today=today, hundredths=_hundredths, years=years,
        chosen=next((y["start"] for y in years if y["shown"] and not y["now"]), None), title=f"Review: {person.name}")


def _hundredths(n: int) -> str:
    """Hundredths of an hour as the quantity string ('700' -> '7.00')."""
    return str((Decimal(n) / 100).quantize(Decimal("0.01")))


@bp.get("/people/<int:person_id>/review")
@signed_in
@visible(PERSON)
def review(person_id: int):
    """A person's review (auditors, finance, brokers): nothing on it writes."""
    return review_page(person_id)


@bp.get("/people/<int:person_id>/review-pack.xlsx")
@signed_in
@visible(PERSON)
def review_pack_download(person_id: int):
    """The review pack for the review's period (the plan year so far, in whole months, or the
    earlier plan year the page shows: `?year=` its first day), as the API's
    `review-pack` makes it: the one route for every role that may see the person (the reviewer's
    page and finance's fund page both link here)."""
    (start, end), _ = _period(person_id, clock.today(), request.args.get("year"))
    pack = review_pack(db.session, person_id, start, end)
    first, last = pack["period"]["from"], pack["period"]["to"]
    name = f"review-pack-{person_id}-{first:%Y-%m}-to-{last:%Y-%m}.xlsx"
    return Response(render_review_pack(pack), mimetype=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
