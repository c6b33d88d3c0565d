"""Finance's pages: the dashboard (finance's home), a fund's page for finance and brokers, a
receipt with the fee it will bear shown before it is recorded, and reversing a ledger line with a
reason. Thin pages over the operations the API uses: the dashboard's figures are
reports.dashboard's, a receipt is accounts.receipts.record_receipt loaded by the API's ReceiptIn,
a reversal is accounts.reversals.reverse loaded by ReverseIn.

A write that asks to be checked first (a receipt, a reversal) is three steps on one URL: the
form (GET), the check-answers page (POST with `step=check`: the schema loads what was typed and,
for a receipt, the fee is worked out as record_receipt will work it out), and the write (POST
with `step=confirm`: loaded again by the same schema, written once per form key).
"""
from __future__ import annotations

from datetime import date
from math import ceil

import sqlalchemy as sa
from marshmallow import Schema, fields, validate
from flask import Response, g, render_template, request, url_for
from markupsafe import Markup

from .. import clock
from ..auth.scopes import PERSON, TRANSACTION
from ..accounts.fees import fee_on, fee_rate_on
from ..accounts.instalments import arrears
from ..ledger.lines import ledger_lines
from ..models import Council, Delivery, DeliveryReversal, Person, Transaction
from ..accounts.plans import plans_of
from ..accounts.positions import fund_position
from ..accounts.receipts import record_receipt
from ..ledger.reversals import reverse
from ..accounts.schemas.receipts import ReceiptIn
from ..accounts.schemas.transactions import ReverseIn
from ..accounts.spend import spend_of
from ..db import db
from ..errors import Conflict, Invalid
from ..work import end_reads, unit_of_work
from ..accounts.hours import quantity
from ..reports import current
from ..reports import dashboard as dash
from ..reports import statements as st
from ..api.finance import XLSX
from ..reports.render_pdf import hours
from ..models.statements import Statement, StatementDelivery
from .forms import NOT_FIELDS, PageForm
from .frame import visible
from .jobs import launch as launch_jobs
from .views import bp, signed_in
from ..clock import add_months, month_start, parse_month  # month_end is a view here: clock.month_end

PER_PAGE = 50
ALERT_WORDS = {"overdrawn": "Overdrawn", "underspending": "Underspending", "overspending": "Overspending",
               "many_refusals": "Many refusals", "many_provider_cancellations": "Many cancelled by us",
               "arrears": "Arrears"}
# The dashboard's columns: (sort key, heading, the figure in FundFigures, money?)
COLUMNS = (("name", "Name", "name", False), ("council", "Council", "council", False),
           ("balance", "Balance", "available", True), ("weeks_held", "Weeks held", "weeks_held", False),
           ("surplus", "Surplus above threshold", "surplus", True), ("arrears", "Arrears", "arrears", True),
           ("contingency", "Contingency", "contingency", True), ("bank_value", "Bank of hours", "bank_value", True),
           ("spent", "Used this plan year", "spent", True), ("alerts", "Alerts", "alerts", False))
SOURCE_LABELS = {"council": "The council", "health": "Health (the NHS)",
                 "client_contribution": "The person's own contribution", "other": "Other"}


@bp.app_template_filter("alert_words")
def alert_words(alert: str) -> str:
    return ALERT_WORDS.get(alert, alert.replace("_", " ").capitalize())


# --- The dashboard ----------------------------------------------------------------------------

@bp.get("/dashboard")
@signed_in
def dashboard():
    """Every fund with its figures and alerts (the API's dashboard read), sorted by any column,
    filtered by council, alert and name, a page at a time; the totals and the reconciliation."""
    as_of = clock.today()
    sort = request.args.get("sort", "name")
    if sort.lstrip("-") not in dash.SORTS:
        sort = "name"
    council, alert = request.args.get("council", ""), request.args.get("alert", "")
    name = request.args.get("name", "").strip()[:200]
    # Today's figures, kept beside the ledger: one page of rows (reports/current.py).
    if current.stale(db.session, as_of):
        end_reads()
        with unit_of_work() as session:
            session.connection(execution_options=current.WRITES)
            current.refresh(session, as_of)
    totals = current.totals(db.session, as_of)
    count = current.count_of(db.session, council, alert, name) if council or alert or name else totals["funds"]
    pages = max(1, ceil(count / PER_PAGE))
    try:
        page = min(max(1, int(request.args.get("page", "1"))), pages)
    except ValueError:
        page = 1
    shown = current.page_of(db.session, sort=sort, page=page, per_page=PER_PAGE, council=council, alert=alert,
                            name=name)
    councils = current.councils_of(db.session)
    keep = {k: v for k, v in (("council", council), ("alert", alert), ("name", name), ("sort", sort)) if v}
    return render_template("pages/finance_dashboard.html", title="Dashboard", as_of=as_of, totals=totals,
                           funds=shown, count=count, page=page,
                           pages=pages, sort=sort, council=council, alert=alert, name=name, councils=councils,
                           keep=keep, columns=COLUMNS, page_items=[
                               {"number": n, "href": dashboard_url(keep, page=n), "current": n == page}
                               for n in range(1, pages + 1)], alerts=dash.ALERTS, xlsx=url_for("pages.dashboard_xlsx", sort=sort))


def dashboard_url(keep: dict, **changes) -> str:
    args = {**keep, **changes}
    return url_for("pages.dashboard", **{k: v for k, v in args.items() if v not in ("", None, 1)})


bp.add_app_template_global(dashboard_url, "dashboard_url")


# --- A fund's page for finance and brokers ------------------------------------------------------

def fund_page(person_id: int):
    """Balances, the plan and its versions, instalments and arrears, the ledger lines (with a
    reverse action for finance), deliveries, contingency, spend and statements with how each was
    sent. A handful of queries whatever the number of funds."""
    person = g.person if isinstance(g.get("person"), Person) else db.session.get(Person, person_id)
    today = clock.today()
    held = fund_position(db.session, person_id, today)
    plans = plans_of(db.session, person_id)
    council = db.session.get(Council, person.council_id)
    owed = arrears(db.session, person, today)
    lines = list(reversed(ledger_lines(db.session, person_id)))
    deliveries = db.session.execute(
        sa.select(Delivery, DeliveryReversal.id).outerjoin(DeliveryReversal, DeliveryReversal.delivery_id == Delivery.id)
        .where(Delivery.person_id == person_id).order_by(Delivery.date.desc(), Delivery.id.desc()).limit(100)).all()
    spend = list(reversed(spend_of(db.session, person_id)))
    statements = db.session.execute(
        sa.select(Statement.id, Statement.month, Statement.version, Statement.number, Statement.issued_at)
        .where(Statement.person_id == person_id).order_by(Statement.month.desc(), Statement.version.desc())).all()
    sent: dict[int, list] = {}
    if statements:
        for sid, method, status in db.session.execute(
                sa.select(StatementDelivery.statement_id, StatementDelivery.method, StatementDelivery.status)
                .where(StatementDelivery.statement_id.in_([s.id for s in statements]))):
            sent.setdefault(sid, []).append((method, status))
    return render_template("pages/finance_fund.html", title=person.name, person=person, council=council,
                           held=held, plans=plans, owed=owed, lines=lines, deliveries=deliveries, spend=spend,
                           statements=statements, sent=sent, today=today,
                           may_reverse=g.user.role in ("admin", "finance"))


def radio_items(form: PageForm, name: str, options: dict[str, str]) -> list[dict]:
    """GOV.UK radios' items for `options` (value -> words), the one typed checked."""
    return [{"value": k, "text": v, "checked": form.values.get(name) == k} for k, v in options.items()]


bp.add_app_template_global(radio_items, "radio_items")


def _step(form: PageForm) -> str | None:
    """Which step a posted form is at: `check`, `confirm`, or `change` (back to the form from the
    check-answers page, with what was typed)."""
    if request.method != "POST":
        return None
    step = request.form.get("step")
    if step == "change":
        form.values = {k: v for k, v in request.form.items() if k not in NOT_FIELDS and k != "step"}
    return step


# --- A receipt, checked before it is recorded -----------------------------------------------

RECEIPT_LABELS = {"date": "Date received", "amount": "Amount", "source": "Who paid it",
                  "reference": "Reference (optional)", "fee_exempt": "Exempt from the fee"}


@bp.route("/people/<int:person_id>/receipts/new", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def new_receipt(person_id: int):
    """Record a receipt: the form, then a check-answers page with the fee it will bear, then the
    receipt through record_receipt (as POST /api/v1/people/{id}/receipts)."""
    person = g.person
    form = PageForm(ReceiptIn(), labels=RECEIPT_LABELS,
                    values={"date": clock.today().isoformat(), "source": "council"})
    step = _step(form)
    if step in ("check", "confirm") and form.load():
        if step == "confirm":
            done = form.write(lambda: _record(person_id, form.data))
            if done is not None:
                return done
        else:
            rate = fee_rate_on(db.session, person_id, form.data["date"])
            fee = 0 if form.data["fee_exempt"] else fee_on(form.data["amount_pence"], rate)
            end_reads()
            return render_template("pages/finance_receipt_check.html", title="Check the receipt", person=person,
                                   form=form, fee=fee, rate=rate, net=form.data["amount_pence"] - fee,
                                   source_label=SOURCE_LABELS[form.data["source"]])
    return render_template("pages/finance_receipt.html", title="Record a receipt", person=person, form=form,
                           sources=SOURCE_LABELS, error_count=len(form.errors))


def _record(person_id: int, data: dict) -> str:
    receipt = record_receipt(db.session, person_id, user_id=g.user.id, **data)
    return url_for("pages.person", person_id=person_id, recorded=receipt.id) + "#ledger"


# --- Reversing a ledger line --------------------------------------------------------------------

@bp.route("/transactions/<int:transaction_id>/reverse", methods=["GET", "POST"])
@signed_in
@visible(TRANSACTION)
def reverse_line(transaction_id: int):
    """Reverse a ledger line: the reason asked, then a check-answers page, then the reversal
    through the same operation as POST /api/v1/transactions/{id}/reverse."""
    txn: Transaction = g.transaction
    line = ledger_lines(db.session, transaction_ids=[txn.id])[0]
    form = PageForm(ReverseIn(), labels={"reason": "Why is it being reversed?"},
                    messages={"reason": "Enter why this line is being reversed"})
    step = _step(form)
    if step in ("check", "confirm") and form.load():
        if step == "confirm":
            done = form.write(lambda: _reverse(txn, form.data))
            if done is not None:
                return done
        else:
            return render_template("pages/finance_reverse_check.html", title="Check the reversal", line=line,
                                   form=form, txn=txn)
    return render_template("pages/finance_reverse.html", title="Reverse a ledger line", line=line, form=form,
                           txn=txn, error_count=len(form.errors))


def _reverse(txn: Transaction, data: dict) -> str:
    done = reverse(db.session, txn, reason=data["reason"], day=data["date"], user_id=g.user.id)
    return url_for("pages.person", person_id=done[0].person_id, reversed=txn.id) + "#ledger"


@bp.app_template_filter("hundredths_hours")
def hundredths_hours(hundredths: int) -> str:
    return hours(quantity(hundredths))


@bp.get("/dashboard.xlsx")
@signed_in
def dashboard_xlsx():
    """The whole dashboard as a workbook: the API's `?format=xlsx`, for the signed-in browser."""
    as_of, sort = clock.today(), request.args.get("sort", "name")
    sort = sort if sort.lstrip("-") in dash.SORTS else "name"
    return Response(dash.render_xlsx(db.session, as_of, sort), mimetype=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="dashboard-{as_of}.xlsx"'})


def fund_line_amount(line: dict) -> int:
    """What a line moved in or out of the fund's available pot, in pence."""
    return sum(p["amount"] for p in line["postings"] if p["account"].endswith(":available"))


bp.add_app_template_global(fund_line_amount, "fund_line_amount")


def day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


bp.add_app_template_filter(day, "short_day")


def links_for_role(role: str) -> list[dict]:
    """The pages a finance user (or an admin) starts from."""
    if role in ("admin", "finance"):
        return [{"href": url_for("pages.dashboard"), "text": "Dashboard"},
                {"href": url_for("pages.month_end"), "text": "Month end"},
                {"href": url_for("pages.imports"), "text": "Imports"},
                {"href": url_for("pages.bank"), "text": "Bank"}] + (
                    _admin_links() if role == "admin" else [])
    return []


def _admin_links() -> list[dict]:
    from .admin import links_for_admin
    return links_for_admin()


# --- Month end ----------------------------------------------------------------------------------

MONTHS_SHOWN = 6  # the months ended before today that month end may still have to issue


class MonthIn(Schema):
    month = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-\d{2}$", error="Choose a month"),
                          error_messages={"required": "Choose the month to issue the statements for"})


def _months_to_issue(today: date) -> list[dict]:
    """The last MONTHS_SHOWN months that have ended: how many funds were open in each, how many
    have their statement, and so what month end would issue. Two queries a month."""
    out = []
    first = add_months(month_start(today), -1)
    for i in range(MONTHS_SHOWN):
        m = add_months(first, -i)
        due = st.due_funds(db.session, m, clock.month_end(m))
        issued = db.session.scalar(sa.select(sa.func.count()).select_from(Statement)
                                   .where(Statement.month == m, Statement.version == 1)) or 0
        out.append({"month": m.strftime("%Y-%m"), "name": f"{m:%B %Y}", "people": len(due), "issued": issued,
                    "to_issue": max(0, len(due) - issued)})
    return out


@bp.route("/month-end", methods=["GET", "POST"])
@signed_in
def month_end():
    """Months not yet issued and how many people; issuing one through statements.issue_month
    (as POST /api/v1/statements/{month}/issue); the result."""
    form = PageForm(MonthIn(), labels={"month": "Month to issue"})
    if request.method == "POST" and form.load():
        month = form.data["month"]
        done = form.write(lambda: _issue(month))
        if done is not None:
            launch_jobs()  # a month with many people: issued in the background (month_end.py)
            return done
    months = _months_to_issue(clock.today())
    if "month" not in form.values:
        form.values["month"] = next((m["month"] for m in months if m["to_issue"]), "")
    result = None
    if request.args.get("issued"):
        # The address's words are shown as words (escaped), never as markup.
        result = {"month": request.args["issued"], "html": Markup(
            '<span id="issued">{}</span> issued for {} ({} were already issued)').format(
                request.args.get("count", "0"), _month_words(request.args["issued"]), request.args.get("already", "0"))}
    return render_template("pages/finance_month_end.html", title="Month end", form=form, months=months,
                           result=result, error_count=len(form.errors),
                           items=radio_items(form, "month", {m["month"]: f'{m["name"]}: {m["to_issue"]} to issue'
                                                             for m in months}))


def _issue(month: str) -> str:
    from .month_end import in_background

    try:
        first = parse_month(month)
    except Exception:
        raise Invalid("month", "Choose a month")
    try:
        background = in_background(first)  # a long month: the same checks, then issued in the background
        if background is not None:
            return background
        done = st.issue_month(db.session, first, user_id=g.user.id)
    except Conflict as e:
        said = _month_refusal(first, e)
        if said is None:
            raise
        raise Conflict(said, {"month": [said]}, code=e.code) from None  # beside the field, still the API's 409
    return url_for("pages.month_end", issued=done.month, count=done.issued, already=done.already_issued)


def _month_words(month: str) -> str:
    """'2026-10' as 'October 2026' (anything else as it came)."""
    try:
        return f"{clock.parse_month(month):%B %Y}"
    except Exception:  # noqa: BLE001 - a hand-typed query string: shown as typed (escaped)
        return month


def _month_refusal(first: date, refused: Conflict) -> str | None:
    """Month end's refusals in plain English for the field, from the API's 409 details (which
    name months as YYYY-MM for programs): months are issued in order, and only once they end."""
    details, code = refused.details or {}, getattr(refused, "code", None)
    if code == "months_out_of_order":
        due = clock.parse_month(details["month"])
        issued = clock.parse_month(details["issued_through"])
        if issued < first:
            return f"Issue {due:%B %Y} first: months are issued in order."
        return (f"{first:%B %Y} comes before {issued:%B %Y}, which is already issued: months are issued "
                f"in order. The next month to issue is {due:%B %Y}.")
    if code == "month_not_ended":
        after = clock.add_months(first, 1)
        return f"{first:%B %Y} has not ended yet. Its statements can be issued from {after.day} {after:%B %Y}."
    return None
