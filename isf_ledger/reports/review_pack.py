"""The council review pack (domain.md "Who uses it": council reviewers; issue 16 item 1): one
person's fund over a period as an XLSX workbook a reviewer can audit against the support plan.

A pack covers whole calendar months, like the statements it must agree with: `from` and `to`
are widened to the months that hold them. Each month's money is read with the statements'
headings (figures.HEADINGS), so a month's row equals that month's issued statement; the
position at the end (balance, contingency, bank, surplus, arrears, forecast) is the last
month's statement figures (statement_figures.statement_figures). Everything is read set-based: the
same number of queries whatever the length of the period or the number of lines.

Sheets: Summary; Months (each month as its statement says it); Ledger (a row a transaction, on
the fund's side: what it put into (+) or took from (-) the person's available and contingency
pots, and the available balance after it); Plan vs actual (budget lines by domain and outcome against charges and spend tagged
by domain, with a chart); Hours by month and Hours by week (hours used, delivered and from the bank, against
planned_weekly_hours);
Shared support (each charge with its working); Contingency (set-asides and draws with reasons
and who authorised them); Spend (payees and receipt files); Provider's share (the fee, the
provider's own support and shared support against everything paid elsewhere).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..accounts.hours import hours_used
from ..ledger.kinds import kind_of
from ..ledger.lines import ledger_lines
from ..accounts.hours import hours_by_period
from ..ledger.post import fund_balance
from ..models import Account, ContingencyMovement, Person, PlanVersion, Posting, Transaction
from ..accounts.plans import windows
from ..accounts.spend import spend_of
from ..money import round_half_up
from ..models.shared_support import Arrangement, ChargeLine, ChargeRun
from ..sheets import QUANTITY, words
from .render_pdf import day
from .render_xlsx import LABELS, ORDER
from .statement_figures import statement_figures
from ..db import month_label
from ..sheets import DATE, append, fit_columns, print_to_width, table
from .figures import HEADINGS, MONEY_HEADINGS, OUTGOING, actual_by_domain
from ..clock import month_end, month_start, month_starts

# The provider's own take from a fund (invariant 4): its fee and its charges for support,
# shared support included (the provider runs the sleep-in or background support too).
PROVIDER_HEADINGS = ("management_fee_total", "support_charged_total", "shared_support_total")
ELSEWHERE_HEADINGS = ("spend_total",)


def period_of(start: date, end: date) -> tuple[date, date]:
    return month_start(start), month_end(end)




def _month_money(session, person_id: int, first: date, last: date) -> list[dict]:
    """Each month's statement money in one query: movements by month, pot and heading, running
    from the balances the day before the period."""
    original = aliased(Transaction)
    kind = sa.func.coalesce(original.kind, Transaction.kind)
    label = month_label(session, Posting.date)
    q = (sa.select(label, Account.kind, kind, sa.func.sum(Posting.amount_pence))
         .join(Account, Account.id == Posting.account_id)
         .join(Transaction, Transaction.id == Posting.transaction_id)
         .outerjoin(original, original.id == Transaction.reverses_id)
         .where(Account.person_id == person_id, Posting.date >= first, Posting.date <= last)
         .group_by(label, Account.kind, kind))
    moved: dict[str, dict] = defaultdict(lambda: {"available": defaultdict(int), "contingency": 0})
    for month, pot, k, pence in session.execute(q):
        if pot == "available":
            heading = HEADINGS[k]
            moved[month]["available"][heading] += -int(pence) if heading in OUTGOING else int(pence)
        else:
            moved[month]["contingency"] += int(pence)
    before = fund_balance(session, person_id, first - timedelta(days=1))
    available, contingency = before.get("available", 0), before.get("contingency", 0)
    out = []
    for m in month_starts(first, last):
        key = m.strftime("%Y-%m")
        t = {h: moved[key]["available"].get(h, 0) for h in MONEY_HEADINGS} if key in moved else dict.fromkeys(MONEY_HEADINGS, 0)
        opening = available
        available = (opening + t["receipts_total"] - sum(t[h] for h in OUTGOING) + t["contingency_drawn"])
        contingency += moved[key]["contingency"] if key in moved else 0
        out.append({"month": key, "opening_balance": opening, **t, "closing_balance": available,
                    "contingency_remaining": contingency})
    return out


def _planned_by_line(plans: list[PlanVersion], first: date, last: date) -> dict[tuple[str, str], int]:
    """Each budget line's part of the period: its annual amount x the days its version was in
    force in the period / 365, rounded half up once per line."""
    parts: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for plan, start, end in windows(plans):
        a, b = max(start, first), min(end or last, last)
        if a > b:
            continue
        days = (b - a).days + 1
        for line in plan.budget_lines:
            parts[(line.domain, line.outcome)] += Decimal(line.annual_amount_pence) * days / 365
    return {k: round_half_up(v) for k, v in parts.items()}


def shared_working(session, person_id: int, first: date, last: date) -> list[dict]:
    """The person's shared-support charge lines for the months from `first` to `last`, each with
    how its share was worked out (the review pack's, the reviewer's and the person's pages). One query."""
    q = (sa.select(ChargeLine, ChargeRun.month, Arrangement.name, Arrangement.domain, Transaction.date)
         .join(ChargeRun, ChargeRun.id == ChargeLine.run_id)
         .join(Arrangement, Arrangement.id == ChargeRun.arrangement_id)
         .outerjoin(Transaction, Transaction.id == ChargeLine.transaction_id)
         .where(ChargeLine.person_id == person_id, ChargeRun.month >= first, ChargeRun.month <= last)
         .order_by(ChargeRun.month, ChargeLine.id))
    return [{"month": month.strftime("%Y-%m"), "arrangement": name, "domain": domain, "days": line.days,
             "weight": line.weight, "weight_days": line.weight_days, "total_weight_days": line.total_weight_days,
             "capacity": line.capacity, "cost": line.cost_pence, "share": line.share_pence,
             "charged": line.amount_pence, "reason": line.reason, "transaction_id": line.transaction_id,
             "description": None}
            for line, month, name, domain, _ in session.execute(q)]


def _contingency(session, person_id: int, first: date, last: date) -> list[dict]:
    reversal = aliased(Transaction)
    q = (sa.select(ContingencyMovement, reversal.id)
         .outerjoin(reversal, reversal.reverses_id == ContingencyMovement.transaction_id)
         .where(ContingencyMovement.person_id == person_id, ContingencyMovement.date >= first,
                ContingencyMovement.date <= last)
         .order_by(ContingencyMovement.date, ContingencyMovement.id))
    return [{"date": m.date, "kind": m.kind, "amount": m.amount_pence, "reason": m.reason,
             "authorised_by": m.authorised_by, "transaction_id": m.transaction_id, "reversed_by": rid}
            for m, rid in session.execute(q)]


def review_pack(session, person_id: int, start: date, end: date) -> dict:
    """Every figure of the pack, read set-based."""
    first, last = period_of(start, end)
    person = session.get(Person, person_id)
    plans = list(session.scalars(sa.select(PlanVersion).where(PlanVersion.person_id == person_id)
                                 .order_by(PlanVersion.effective_from, PlanVersion.version)))
    months = _month_money(session, person_id, first, last)
    position = statement_figures(session, [person_id], month_start(last))[person_id]
    totals = {h: sum(m[h] for m in months) for h in MONEY_HEADINGS}
    actual = actual_by_domain(session, person_id, first, last)
    hours = hours_by_period(session, [person_id], first, last).get(person_id, {"months": [], "weeks": []})
    in_force = [p for p, s, e in windows(plans) if s <= last and (e is None or e >= first)]
    return {"person": {"id": person.id, "name": person.name, "council": person.council.name,
                       "council_reference": person.council_reference},
            "period": {"from": first, "to": last}, "months": months, "totals": totals, "position": position,
            "plans": plans, "planned": _planned_by_line(plans, first, last), "actual": actual, "hours": hours,
            "planned_weekly_hours": in_force[-1].planned_weekly_hours if in_force else {},
            "lines": ledger_lines(session, person_id, start=first, end=last),
            "shared": shared_working(session, person_id, first, last),
            "contingency": _contingency(session, person_id, first, last),
            "spend": spend_of(session, person_id, start=first, end=last)}


# --- The workbook ------------------------------------------------------------------------

GBP = '"£"#,##0.00;-"£"#,##0.00'


def _p(pence: int) -> Decimal:
    return Decimal(pence) / 100


def _d(text: str) -> Decimal:
    return Decimal(text)


def provider_share(totals: dict) -> dict:
    """The provider's take (fee, its support, shared support) against what went elsewhere, in
    pence and as a percentage (two places) of all the money used."""
    provider = sum(totals[h] for h in PROVIDER_HEADINGS)
    elsewhere = sum(totals[h] for h in ELSEWHERE_HEADINGS)
    used = provider + elsewhere

    def pct(x):
        return (Decimal(x) * 100 / used).quantize(Decimal("0.01")) if used else Decimal("0.00")
    return {"provider": provider, "elsewhere": elsewhere, "used": used,
            "provider_percent": pct(provider), "elsewhere_percent": pct(elsewhere)}


def fund_side(line: dict, person_id: int) -> dict[str, int]:
    """What a ledger line moved in the person's own pots, in pence, as the fund sees it: money
    in positive, money out negative (the other legs are the provider's and the client bank's)."""
    out = {"available": 0, "contingency": 0}
    for leg in line["postings"]:
        for pot in out:
            if leg["account"] == f"person:{person_id}:{pot}":
                out[pot] += leg["amount"]
    return out


def render_review_pack(pack: dict) -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    wb = Workbook()

    def sheet(title, header=None, ws=None):
        ws = ws or wb.create_sheet(title)
        ws.title = title
        if header:
            append(ws, header)
            for c in ws[ws.max_row]:
                c.font = bold
        return ws

    def money_cols(ws, *cols):
        for col in cols:
            for cell in ws[col][1:]:
                cell.number_format = GBP

    p, pos, totals = pack["person"], pack["position"], pack["totals"]
    first, last = pack["period"]["from"], pack["period"]["to"]
    ws = sheet("Summary", ws=wb.active)
    append(ws, [f"Review pack: {p['name']}"])
    ws["A1"].font = Font(bold=True, size=14)
    append(ws, ["Council", p["council"]])
    append(ws, ["Council reference", p["council_reference"]])
    append(ws, ["Period from", first])
    append(ws, ["Period to", last])
    append(ws, [])
    append(ws, ["Figure", "Amount (GBP)", "What it means"])
    for c in ws[ws.max_row]:
        c.font = bold
    year = pos.get("plan_year") or {}
    rows = [
        ("Annual budget", _d(year["annual_budget"]) if year else Decimal(0), "the plan in force at the period's end"),
        ("Received", _p(totals["receipts_total"]), "money paid into the fund in the period"),
        ("Management fee", _p(totals["management_fee_total"]), "the provider's fee on what was received"),
        ("Support charged", _p(totals["support_charged_total"]), "support the provider gave, refused or unplanned"),
        ("Shared support", _p(totals["shared_support_total"]), "the person's share of shared support"),
        ("Spend", _p(totals["spend_total"]), "paid to others on the person's behalf"),
        ("Returned to the council", _p(totals["clawback_total"]), "clawback agreed with notice"),
        ("Paid out when the fund closed", _p(totals["closed_out_total"]), "the balance of a closed fund"),
        ("Contingency set aside", _p(totals["contingency_set_aside"]), ""),
        ("Contingency drawn", _p(totals["contingency_drawn"]), ""),
        ("Used in the plan year", _d(year["used_to_date"]) if year else None,
         f"the fee, support, shared support and spend from {day(year['start'])} to {day(last.isoformat())}" if year
         else "no plan in force"),
        ("Balance (available)", _d(pos["closing_balance"]), f"at {day(last.isoformat())}"),
        ("Contingency held", _d(pos["contingency"]["remaining"]), f"at {day(last.isoformat())}"),
        ("Bank (value of saved hours)", _d(pos["surplus"]["bank_value"]), "earmarked, not surplus"),
        ("Bank (hours)", _d(pos["hours"]["bank_balance"]), "hours saved and not yet used"),
        ("Surplus above threshold", _d(pos["surplus_above_threshold"]),
         f"above {pos['surplus']['threshold_weeks']} weeks of budget ({pos['surplus']['threshold']})"),
        ("Arrears: council", _d(pos["arrears"]["council"]["arrears"]), "due and not received"),
        ("Arrears: person's contribution", _d(pos["arrears"]["person"]["arrears"]), "due and not received"),
        ("Forecast at the plan year's end",
         _d(pos["forecast"]["balance"]) if pos.get("forecast") else None,
         f"if money is used as in the last three months; year ends {day(pos['forecast']['plan_year_end'])}"
         if pos.get("forecast") else "no plan in force"),
    ]
    for r in rows:
        append(ws, list(r))
        ws.cell(ws.max_row, 2).number_format = QUANTITY if r[0] == "Bank (hours)" else GBP
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 16
    ws.column_dimensions["C"].width = 60

    ws = sheet("Months", ["Month", "Opening balance"] + [LABELS[h] for h in ORDER]
               + ["Closing balance", "Contingency held"])
    for m in pack["months"]:
        append(ws, [m["month"], _p(m["opening_balance"])] + [_p(m[h]) for h in ORDER]
                   + [_p(m["closing_balance"]), _p(m["contingency_remaining"])])
    money_cols(ws, *(get_column_letter(i) for i in range(2, ws.max_column + 1)))

    # The ledger as the person's fund sees it: a row a transaction, money in positive and money
    # out negative in each of the fund's pots, and the available balance after it.
    ws = sheet("Ledger", ["Transaction", "Date", "Service date", "What", "Description", "Reason",
                          "Reverses", "Reversed by", "Available (GBP)", "Contingency (GBP)",
                          "Available after (GBP)"])
    balance = pack["months"][0]["opening_balance"] if pack["months"] else 0
    for line in pack["lines"]:
        pots = fund_side(line, p["id"])
        if not any(pots.values()):
            continue
        balance += pots["available"]
        append(ws, [line["id"], line["date"], line["service_date"], kind_of(line["kind"]).label,
                    line["description"], line["reason"], line["reverses_id"], line["reversed_by"],
                    _p(pots["available"]), _p(pots["contingency"]), _p(balance)])
    money_cols(ws, "I", "J", "K")

    ws = sheet("Plan vs actual", ["Domain", "Outcome", "Planned for the period (GBP)", "Support (GBP)",
                                  "Shared support (GBP)", "Spend (GBP)", "Actual (GBP)", "Difference (GBP)"])
    domains = sorted({d for d, _ in pack["planned"]} | {d for _, d in pack["actual"]})
    for d in domains:
        outcomes = sorted(o for dd, o in pack["planned"] if dd == d) or [""]
        planned = sum(v for (dd, _), v in pack["planned"].items() if dd == d)
        got = [pack["actual"].get((h, d), 0) for h in ("support_charged_total", "shared_support_total", "spend_total")]
        append(ws, [words(d) if d else "(no domain)", "; ".join(outcomes), _p(planned), *map(_p, got), _p(sum(got)),
                    _p(planned - sum(got))])
    plan_rows = ws.max_row
    append(ws, ["Management fee (not a domain)", "", None, None, None, None,
                _p(totals["management_fee_total"]), None])
    money_cols(ws, *"CDEFGH")
    if plan_rows > 1:
        chart = BarChart()
        chart.type = "col"
        chart.title = "Plan against actual by domain"
        chart.y_axis.title = "GBP"
        for col in (3, 7):
            chart.add_data(Reference(ws, min_col=col, min_row=1, max_row=plan_rows), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=plan_rows))
        chart.width, chart.height = 22, 10
        ws.add_chart(chart, "J2")
    append(ws, [])
    append(ws, ["Budget lines of the plans in the period"])
    append(ws, ["Plan version", "From", "To", "Domain", "Outcome", "Annual amount (GBP)"])
    for plan, s, e in windows(pack["plans"]):
        if s <= last and (e is None or e >= first):
            for line in plan.budget_lines:
                append(ws, [plan.version, s, e, words(line.domain), line.outcome, _p(line.annual_amount_pence)])

    weekly = pack["planned_weekly_hours"]
    note = "Planned weekly hours: " + (", ".join(f"{words(k).lower()} {v}" for k, v in sorted(weekly.items()))
                                       or "none")
    for title, rows, label in (("Hours by month", pack["hours"]["months"], "month"),
                               ("Hours by week", pack["hours"]["weeks"], "week")):
        ws = sheet(title, [label.capitalize(), "Planned", "Delivered", "Refused", "Unplanned", "Banked",
                           "Used from bank", "Provider cancelled", "Bank balance", "Used",
                           "Used against planned"])
        for r in rows:
            used = hours_used(r)  # delivered and from the bank, as on the statement
            append(ws, [r[label]] + [_p(r[k]) for k in ("planned", "delivered", "refused", "unplanned", "banked",
                                                         "bank_used", "provider_cancelled", "bank_balance")]
                       + [_p(used), _p(used - r["planned"])])
        for row in ws.iter_rows(min_row=2, min_col=2):
            for c in row:
                c.number_format = QUANTITY
        append(ws, [])
        append(ws, [note])
        append(ws, ["Used = delivered + used from the bank. Refused and unplanned hours are charged but were "
                    "not used."])

    ws = sheet("Shared support", ["Month", "Arrangement", "Domain", "Days", "Weight", "Weight x days",
                                  "All weight x days", "Places", "Month's cost (GBP)", "Share (GBP)",
                                  "Charged (GBP)", "Why a difference", "Transaction"])
    for s in pack["shared"]:
        append(ws, [s["month"], s["arrangement"], words(s["domain"]) if s["domain"] else None, s["days"], s["weight"], s["weight_days"],
                    s["total_weight_days"], s["capacity"], _p(s["cost"]), _p(s["share"]), _p(s["charged"]),
                    s["reason"], s["transaction_id"]])
    money_cols(ws, "I", "J", "K")
    append(ws, [])
    append(ws, ["Share = month's cost x the person's weight x days / everyone's weight x days and the empty "
                "place-days, split by largest remainder so the shares sum to the cost."])

    ws = sheet("Contingency", ["Date", "Movement", "Amount (GBP)", "Reason", "Authorised by", "Transaction",
                               "Reversed by"])
    for m in pack["contingency"]:
        append(ws, [m["date"], "set aside" if m["kind"] == "set_aside" else "draw", _p(m["amount"]), m["reason"],
                    m["authorised_by"], m["transaction_id"], m["reversed_by"]])
    money_cols(ws, "C")

    ws = sheet("Spend", ["Date", "Payee", "Category", "Domain", "Description", "Invoice", "Amount (GBP)",
                         "Receipt file", "Receipt SHA-256", "Transaction", "Reversed by"])
    for s, rid, f in pack["spend"]:
        append(ws, [s.date, s.payee, s.category, words(s.domain), s.description, s.invoice_reference, _p(s.amount_pence),
                    f.original_name if f else "none", f.sha256 if f else None, s.transaction_id, rid])
    money_cols(ws, "G")

    share = provider_share(totals)
    ws = sheet("Provider's share", ["Where the money went", "Amount (GBP)", "Share of money used (%)"])
    for h in PROVIDER_HEADINGS:
        append(ws, [f"To the provider: {LABELS[h].lower()}", _p(totals[h]), None])
    append(ws, ["The provider in all", _p(share["provider"]), share["provider_percent"]])
    append(ws, ["Paid elsewhere: spend to third parties", _p(share["elsewhere"]), share["elsewhere_percent"]])
    append(ws, ["Money used in all", _p(share["used"]), Decimal(100) if share["used"] else Decimal(0)])
    money_cols(ws, "B")
    for cell in ws["C"][1:]:
        cell.number_format = QUANTITY  # a percentage, to two places
    append(ws, [])
    append(ws, ["Shared support is counted as the provider's: it runs the shared sleep-in or background support. "
                "Money returned to the council is neither, and is left out."])
    ws.column_dimensions["A"].width = 48

    for ws in wb.worksheets:  # dates as dates; tables frozen, filtered and fitted; all fit to print
        for row in ws.iter_rows(min_row=2):
            for c in row:
                if isinstance(c.value, date):
                    c.number_format = DATE
        if ws.title in ("Summary", "Provider's share"):
            fit_columns(ws, from_row=2)
            print_to_width(ws, landscape=False)
        else:
            table(ws, last_row=plan_rows if ws.title == "Plan vs actual" else None)

    out = BytesIO()
    wb.save(out)
    return out.getvalue()
