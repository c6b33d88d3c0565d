"""Finance's forms for one fund, each a thin page over the operation its API view calls, loaded
by the API view's own schema (so a rule is never written twice): a new person
(people.create_person, PersonIn), a delivery (hours.record_deliveries, DeliveryIn), spend with its
receipt file (spend.record_spend then receipt_files.attach_receipt_file, in one write), a
contingency set-aside and a draw (contingency.record_set_aside / record_draw), a name correction
(people.correct_name, PersonPatch), a fee refund (clawback.record_fee_refund), a clawback with the
surplus and the notice it needs shown (clawback.record_clawback, the letter from notice_letter),
closing a fund (closing.close_fund), checked first, a plan version (the API view's own
plans.new_version, PlanIn), a council's rules with their history (councils.change_rules,
CouncilPatch) and the rate card (the API view's own rates.new_rate, RateIn). Shared arrangements
are in finance_shared.py.

Every form is pages/finance_form.html over a list of FormField; a refusal (the schema's or the
operation's) is shown beside its field with what was typed kept, and nothing is written; a form
is written once per its key (PageForm.write), so a double submit writes once.

Closing a fund is checked before it is done: the check-answers page runs close_fund itself in the
request's transaction and rolls it back, so what it says will be paid out and the final
statement's figures are the operation's own, never a second working of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask import Response, g, render_template, request, url_for

from .. import clock
from ..api.clawback import CloseIn, FeeRefundIn, ClawbackIn
from ..auth.scopes import PERSON
from ..accounts.clawback import notice_letter, record_clawback, record_fee_refund, surplus_on
from ..workflows.closing import close_fund
from ..accounts.contingency import contingency_of, record_draw, record_set_aside
from ..accounts.hours import DeliveryIn as Session, banking_notice_hours, record_deliveries  # one session of support, as the API records it
from ..models import Rate
from ..accounts.councils import known_names
from ..accounts.people import correct_name, create_person, name_history
from ..accounts.receipt_files import attach_receipt_file, read_upload
from ..accounts.schemas.contingency import DrawIn, SetAsideIn
from ..accounts.schemas.deliveries import DeliveryIn
from ..accounts.schemas.people import PersonIn, PersonPatch
from ..accounts.schemas.spend import SpendIn
from ..accounts.spend import SUGGESTED_CATEGORIES, record_spend
from ..db import db
from ..errors import LedgerError
from ..work import end_reads
from ..money import format_pence
from ..auth.users import FINANCE, User
from .finance import _step
from .forms import PageForm
from .frame import visible
from .views import bp, signed_in

DOMAIN_WORDS = {"staying_safe": "Staying safe", "communication": "Communication",
                "work_leisure_learning": "Work, leisure and learning",
                "essential_living_tasks": "Essential living tasks", "personal_care": "Personal care",
                "health": "Health"}
STATUS_WORDS = {"delivered": "Delivered", "refused": "Refused by the person on the day (charged)",
                "unplanned": "Extra support, not in the plan (charged)",
                "banked": "Saved for later: the person gave notice (not charged)",
                "bank_used": "Saved hours used (charged)", "provider_cancelled": "Cancelled by us (not charged)"}
DONE_WORDS = {"person": "The person and their fund are created.", "delivery": "The delivery is recorded.",
              "spend": "The spend is recorded.", "set_aside": "The money is set aside in the contingency.",
              "draw": "The draw on the contingency is recorded.", "name": "The name is corrected.",
              "fee_refund": "The fee refund is recorded.", "clawback": "The clawback is recorded.",
              "closed": "The fund is closed and its final statement issued.",
              "plan": "The new plan version is added."}
bp.add_app_template_global(DONE_WORDS, "done_words")


@dataclass(frozen=True)
class FormField:
    name: str
    kind: str = "input"  # input, radios, checkbox, textarea, file
    hint: str | None = None
    type: str = "text"
    classes: str | None = None
    inputmode: str | None = None
    autocomplete: str | None = None
    options: dict = field(default_factory=dict)


def DATE(name="date", hint="For example, 2026-11-09"):
    return FormField(name, type="date", hint=hint, classes="govuk-input--width-10")


def MONEY(name="amount", hint="In pounds, for example 45.60"):
    return FormField(name, hint=hint, classes="govuk-input--width-10", inputmode="decimal")


def show(form: PageForm, fields: list[FormField], *, title: str, action: str, button: str, person=None,
         back: tuple[str, str] | None = None, **extra):
    """The form page, with the error count in its title."""
    if back is None:
        back = (f"Back to {person.name}", url_for("pages.person", person_id=person.id))
    caption = extra.pop("caption", person.name if person is not None else None)
    return render_template("pages/finance_form.html", title=title, form=form, fields=fields, action=action,
                           button=button, caption=caption,
                           back_text=back[0], back_href=back[1], error_count=len(form.errors), **extra)


def done(person_id: int, what: str, anchor: str = "") -> str:
    return url_for("pages.person", person_id=person_id, done=what) + anchor


def submitted(form: PageForm, operation) -> Response | None:
    """A posted form loaded by its schema and written once: the redirect, or None to show it again."""
    if request.method == "POST" and form.load():
        return form.write(operation)
    return None


# --- 1. A new person --------------------------------------------------------------------------

PERSON_LABELS = {"name": "Full name", "council": "Council", "council_reference": "Council's reference (optional)"}


@bp.route("/people/new", methods=["GET", "POST"])
@signed_in
def new_person():
    """A person and their fund, opened today (as POST /api/v1/people): finance may name a council
    not yet known, which creates it; a broker must name a known one."""
    form = PageForm(PersonIn(), labels=PERSON_LABELS, messages={"name": "Enter the person's full name",
                                                                "council": "Enter the council that funds them"})
    sent = submitted(form, lambda: done(create_person(
        db.session, **form.data, may_name_council=g.user.role in FINANCE).id, "person"))
    if sent is not None:
        return sent
    fields = [FormField("name", classes="govuk-!-width-two-thirds", autocomplete="off"),
              FormField("council", hint=council_hint(g.user.role in FINANCE), classes="govuk-!-width-two-thirds"),
              FormField("council_reference", hint="The council's number for this person, if they gave one",
                        classes="govuk-input--width-20")]
    return show(form, fields, title="Add a new person", action=url_for("pages.new_person"), button="Add the person",
                back=("Back to the dashboard", url_for("pages.dashboard")) if g.user.role in FINANCE
                else ("Back to your home page", url_for("pages.home")),
                intro=["Their fund opens today."])


KNOWN_COUNCILS_SHOWN = 10  # more than this, and the hint names one as an example


def council_hint(may_add: bool) -> str:
    """The council field's hint: the known councils' names in full. "For example Northshire" led
    finance to type a short name, which adds a second council (with the provider's default rules)
    beside Northshire County Council."""
    known = known_names(db.session)
    if not known:
        names = ""
    elif len(known) == 1:
        names = f": {known[0]}"
    elif len(known) <= KNOWN_COUNCILS_SHOWN:
        names = ": " + ", ".join(known[:-1]) + " or " + known[-1]
    else:
        names = f", for example {known[0]}"
    return (f"The council that pays for their support, its full name{names}."
            + (" A name not known here adds a new council." if may_add else ""))


# --- 2. A delivery ------------------------------------------------------------------------------

DELIVERY_LABELS = {"date": "Date of the session", "start_time": "Start time", "service": "Service",
                   "quantity": "Hours", "status": "What happened", "domain": "Part of the plan",
                   "notice_given_at": "When the person gave notice (only for hours saved for later)"}


def services() -> dict[str, str]:
    """The rate card's services (one query)."""
    return {s: s.replace("_", " ").capitalize()
            for s in db.session.scalars(sa.select(Rate.service).distinct().order_by(Rate.service))}


@bp.route("/people/<int:person_id>/deliveries/new", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def new_delivery(person_id: int):
    """Record a session of support (as POST /api/v1/people/{id}/deliveries): charged at the rate
    card's rate unless saved for later or cancelled by us."""
    form = PageForm(DeliveryIn(), labels=DELIVERY_LABELS,
                    values={"date": clock.today().isoformat(), "start_time": "10:00", "status": "delivered"},
                    messages={"status": "Choose what happened", "domain": "Choose the part of the plan",
                              "service": "Choose the service"})
    sent = submitted(form, lambda: _delivery(person_id, form.data))
    if sent is not None:
        return sent
    fields = [DATE(), FormField("start_time", type="time", hint="For example, 10:00",
                                classes="govuk-input--width-5"),
              FormField("service", kind="radios", options=services()),
              FormField("quantity", hint="For example, 3.50 for three and a half hours",
                        classes="govuk-input--width-5", inputmode="decimal"),
              FormField("status", kind="radios", options=STATUS_WORDS),
              FormField("notice_given_at", type="datetime-local", hint="For example, 2026-11-06T09:00",
                        classes="govuk-input--width-20"),
              FormField("domain", kind="radios", options=DOMAIN_WORDS)]
    return show(form, fields, person=g.person, title="Record a delivery",
                action=url_for("pages.new_delivery", person_id=person_id), button="Record the delivery")


def _delivery(person_id: int, data: dict) -> str:
    record_deliveries(db.session, person_id, [Session(**data)], user_id=g.user.id,
                      notice_hours=banking_notice_hours())
    return done(person_id, "delivery", "#deliveries")


# --- 3. Spend with its receipt file ------------------------------------------------------------

SPEND_LABELS = {"date": "Date paid", "amount": "Amount", "payee": "Who was paid", "category": "What kind of spend",
                "domain": "Part of the plan", "description": "What it was for",
                "invoice_reference": "Invoice number (optional)", "one_off": "One-off",
                "file": "The receipt (optional)"}


@bp.route("/people/<int:person_id>/spend/record", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def record_spend_page(person_id: int):
    """Pay someone from the fund (as POST /api/v1/people/{id}/spend) and attach the receipt's photo
    or PDF (as POST /api/v1/spend/{id}/receipt-file), both in one write: a refused file writes no
    spend either."""
    form = PageForm(SpendIn(), labels=SPEND_LABELS, also=("file",), values={"date": clock.today().isoformat()},
                    messages={"domain": "Choose the part of the plan", "description": "Enter what it was for",
                              "payee": "Enter who was paid"})
    sent = submitted(form, lambda: _spend(person_id, form.data))
    if sent is not None:
        return sent
    if "file" in form.errors:
        form.errors["file"] += ". Choose the file again."
    fields = [DATE(), MONEY(), FormField("payee", classes="govuk-!-width-two-thirds"),
              FormField("description", kind="textarea"),
              FormField("category", hint="For example: " + ", ".join(c.replace("_", " ") for c in SUGGESTED_CATEGORIES),
                        classes="govuk-!-width-two-thirds"),
              FormField("domain", kind="radios", options=DOMAIN_WORDS),
              FormField("invoice_reference", classes="govuk-input--width-20"),
              FormField("one_off", kind="checkbox", hint="This will not happen again (for example a holiday)"),
              FormField("file", kind="file", hint="A photo or a PDF of the receipt, at most 10 MB. "
                                                  "You can add it later if you do not have it yet.")]
    return show(form, fields, person=g.person, title="Record spend", multipart=True,
                action=url_for("pages.record_spend_page", person_id=person_id), button="Record the spend")


def _spend(person_id: int, data: dict) -> str:
    spend = record_spend(db.session, person_id, user_id=g.user.id, **data)
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        attach_receipt_file(db.session, spend, read_upload(upload.stream), upload.filename, g.user.id)
    return done(person_id, "spend", "#spend")



def facts_rows(facts) -> list[dict]:
    """(key, value) pairs as a GOV.UK summary list's rows."""
    return [{"key": {"text": k}, "value": {"text": v}} for k, v in facts]


bp.add_app_template_global(facts_rows, "facts_rows")


# --- 4. Contingency: set money aside, draw on it ---------------------------------------------------

def contingency_facts(person_id: int) -> list[tuple[str, str]]:
    view = contingency_of(db.session, person_id, clock.today())
    return [("The plan year's contingency", money(view.contingency_amount)), ("Set aside so far", money(view.set_aside)),
            ("Still to set aside", money(view.remaining_to_set_aside)), ("Drawn so far", money(view.drawn)),
            ("Held today", money(view.held))]


def money(pence: int) -> str:
    from .views import money as words
    return words(pence)


@bp.route("/people/<int:person_id>/contingency/set-aside", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def set_aside(person_id: int):
    """Set money aside from what is available into the contingency (as POST
    /api/v1/people/{id}/contingency/set-aside): at most the plan year's contingency in all."""
    form = PageForm(SetAsideIn(), labels={"date": "Date", "amount": "Amount to set aside"},
                    values={"date": clock.today().isoformat()})
    sent = submitted(form, lambda: (record_set_aside(db.session, person_id, user_id=g.user.id, **form.data),
                                    done(person_id, "set_aside"))[1])
    if sent is not None:
        return sent
    return show(form, [DATE(), MONEY()], person=g.person, title="Set money aside in the contingency",
                action=url_for("pages.set_aside", person_id=person_id), button="Set the money aside",
                facts=contingency_facts(person_id))


@bp.route("/people/<int:person_id>/contingency/draw", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def draw(person_id: int):
    """Draw on the contingency for an extra need, with the reason and who agreed it (as POST
    /api/v1/people/{id}/contingency/draws): never more than it holds."""
    form = PageForm(DrawIn(), labels={"date": "Date", "amount": "Amount to draw", "reason": "What the money is for",
                                      "authorised_by": "Who agreed it"},
                    values={"date": clock.today().isoformat()},
                    messages={"reason": "Enter what the money is for", "authorised_by": "Enter who agreed it"})
    sent = submitted(form, lambda: (record_draw(db.session, person_id, user_id=g.user.id, **form.data),
                                    done(person_id, "draw"))[1])
    if sent is not None:
        return sent
    return show(form, [DATE(), MONEY(), FormField("reason", kind="textarea"),
                       FormField("authorised_by", classes="govuk-!-width-two-thirds")],
                person=g.person, title="Draw on the contingency", action=url_for("pages.draw", person_id=person_id),
                button="Record the draw", facts=contingency_facts(person_id))


# --- 5. A name correction ------------------------------------------------------------------------

@bp.route("/people/<int:person_id>/name", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def correct_person_name(person_id: int):
    """Correct the person's name (as PATCH /api/v1/people/{id}), kept in its history; statements
    already issued keep the name they were issued with."""
    person = g.person
    form = PageForm(PersonPatch(), labels={"name": "Their name, as it should be"}, values={"name": person.name},
                    messages={"name": "Enter the person's name"})
    sent = submitted(form, lambda: (correct_name(db.session, person, form.data["name"], user_id=g.user.id),
                                    done(person_id, "name"))[1])
    if sent is not None:
        return sent
    changes = name_history(db.session, person_id)
    who = dict(db.session.execute(sa.select(User.id, User.name).where(
        User.id.in_({c.changed_by for c in changes if c.changed_by is not None}))).all()) if changes else {}
    return render_template("pages/finance_name.html", title="Correct the name", form=form, person=person,
                           fields=[FormField("name", classes="govuk-!-width-two-thirds", autocomplete="off")],
                           action=url_for("pages.correct_person_name", person_id=person_id), button="Correct the name",
                           caption=person.name, back_text=f"Back to {person.name}",
                           back_href=url_for("pages.person", person_id=person_id), error_count=len(form.errors),
                           intro=["Statements already sent keep the name they were sent with."],
                           changes=changes, by_whom=who)


# --- 6. A fee refund -----------------------------------------------------------------------------

@bp.route("/people/<int:person_id>/fee-refund", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def fee_refund(person_id: int):
    """The provider pays management fee back into the fund (as POST /api/v1/people/{id}/fee-refunds):
    never more than the fee the fund has paid."""
    form = PageForm(FeeRefundIn(), labels={"date": "Date", "amount": "Amount to refund", "reason": "Why it is refunded"},
                    values={"date": clock.today().isoformat()}, messages={"reason": "Enter why the fee is refunded"})
    sent = submitted(form, lambda: (record_fee_refund(db.session, person_id, user_id=g.user.id, **form.data),
                                    done(person_id, "fee_refund", "#ledger"))[1])
    if sent is not None:
        return sent
    return show(form, [DATE(), MONEY(), FormField("reason", kind="textarea")], person=g.person,
                title="Refund management fee", action=url_for("pages.fee_refund", person_id=person_id),
                button="Refund the fee", intro=["The money goes back into what the person has available."])


# --- 7. A clawback, with the surplus and the notice it needs -----------------------------------------

CLAWBACK_LABELS = {"date": "Date the council takes it back", "amount": "Amount", "reference": "Reference (optional)",
                   "notice_given_on": "Date the person was told (the notice letter's date)",
                   "method": "How the council takes it", "override_reason":
                       "Why the rules on notice or on how much may be taken back do not apply (only if they do not)"}
METHOD_WORDS = {"repayment": "We pay it back to the council", "deduction": "The council takes it off a payment it owes"}


@bp.route("/people/<int:person_id>/clawback", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def clawback(person_id: int):
    """The council recovers surplus (as POST /api/v1/people/{id}/clawbacks): the surplus today, what
    may be recovered and the notice it needs shown on the form, the letter to download."""
    form = PageForm(ClawbackIn(), labels=CLAWBACK_LABELS, values={"date": clock.today().isoformat(),
                                                                 "method": "repayment"})
    sent = submitted(form, lambda: (record_clawback(db.session, person_id, user_id=g.user.id, **form.data),
                                    done(person_id, "clawback", "#ledger"))[1])
    if sent is not None:
        return sent
    s = surplus_on(db.session, person_id, clock.today())
    facts = [("Available today", money(s.available)), ("Bank of hours, worth", money(s.bank_value)),
             (f"Kept back ({s.threshold_weeks} weeks of the budget)", money(s.threshold)),
             ("Surplus above that", money(s.surplus)),
             ("The council may take back today", money(s.recoverable) + (
                 "" if s.contribution_spent_first else " (the council's share of the surplus)")),
             ("Notice the person must have", f"{s.notice_days} days"),
             ("So the earliest date to take it back", (clock.today() + timedelta(days=s.notice_days)).isoformat())]
    fields = [DATE(), MONEY(), FormField("method", kind="radios", options=METHOD_WORDS),
              DATE("notice_given_on"), FormField("reference", classes="govuk-input--width-20"),
              FormField("override_reason", kind="textarea")]
    return show(form, fields, person=g.person, title="Record a clawback of surplus",
                action=url_for("pages.clawback", person_id=person_id), button="Record the clawback", facts=facts,
                links=[{"href": url_for("pages.surplus_notice", person_id=person_id), "download": True,
                        "text": "Download the notice letter to the person (PDF)"}])


@bp.get("/people/<int:person_id>/surplus-notice.pdf")
@signed_in
@visible(PERSON)
def surplus_notice(person_id: int):
    """The surplus notice letter (as GET /api/v1/people/{id}/surplus-notice with no amount or date):
    all that may be recovered today, from the earliest date the notice allows."""
    from ..api.clawback import since_statement
    from ..reports.render_notice import render_notice
    letter = notice_letter(db.session, person_id)
    letter["since_statement"] = since_statement(db.session, person_id, clock.today())
    return Response(render_notice(letter), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="surplus-notice-{person_id}.pdf"'})


# --- 8. Closing a fund, checked first ---------------------------------------------------------------

CLOSE_LABELS = {"date": "Date the fund closes", "destination": "Where the money goes", "reference": "Reference",
                "reason": "Why the fund closes"}
DESTINATION_WORDS = {"council": "Back to the council", "transfer": "To the person's new fund holder"}
REASON_WORDS = {"moved_provider": "They moved to another provider", "direct_payment": "They now take a direct payment",
                "died": "They died", "other": "Another reason"}


@bp.route("/people/<int:person_id>/close", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def close(person_id: int):
    """Close the fund (as POST /api/v1/people/{id}/close): the form, then a check-answers page with
    what will be paid out and the final statement (close_fund run and rolled back), then the close."""
    person = g.person
    form = PageForm(CloseIn(), labels=CLOSE_LABELS, values={"date": clock.today().isoformat()},
                    messages={"destination": "Choose where the money goes", "reference": "Enter a reference",
                              "reason": "Choose why the fund closes"})
    step = _step(form)
    if step in ("check", "confirm") and form.load():
        if step == "confirm":
            sent = form.write(lambda: (close_fund(db.session, person_id, user_id=g.user.id, **form.data),
                                       done(person_id, "closed", "#statements"))[1])
            if sent is not None:
                return sent
        else:
            try:
                would = close_fund(db.session, person_id, user_id=g.user.id, **form.data)
                final = _final_figures(person_id, would["final_statement_number"])
            except LedgerError as e:
                end_reads()
                form.refuse_error(e)
            else:
                end_reads()  # a dry run: nothing of it is kept
                return render_template("pages/finance_close_check.html", title="Check before the fund closes",
                                       person=person, form=form, would=would, final=final,
                                       destination=DESTINATION_WORDS[form.data["destination"]],
                                       reason=REASON_WORDS.get(would["reason"], would["reason"]))
    fields = [DATE(), FormField("destination", kind="radios", options=DESTINATION_WORDS),
              FormField("reference", hint="For example, the council's or the new holder's payment reference",
                        classes="govuk-input--width-20"),
              FormField("reason", kind="radios", options=REASON_WORDS)]
    return show(form, fields, person=person, title="Close the fund", step="check",
                action=url_for("pages.close", person_id=person_id), button="Continue",
                intro=["You will see what will be paid out and the final statement before the fund closes.",
                       "Once closed, nothing more can be recorded for this fund."])


def _final_figures(person_id: int, number: int) -> dict:
    from ..models.statements import Statement
    stmt = db.session.scalar(sa.select(Statement).where(Statement.person_id == person_id, Statement.number == number))
    return dict(stmt.figures)



# --- 9. A plan version ---------------------------------------------------------------------------

PLAN_LABELS = {"effective_from": "Starts on", "effective_to": "Ends on (optional)", "annual_budget": "Budget for a year",
               "payment_cycle": "How often the council pays", "management_fee_rate": "Management fee rate",
               "contingency_amount": "Contingency for the plan year",
               "weekly_client_contribution": "The person's own contribution each week",
               "surplus_threshold_weeks": "Weeks of the budget kept back before there is a surplus",
               "surplus_notice_days": "Days of notice before a surplus is taken back",
               "bank_expiry_days": "Days before saved hours run out",
               "surplus_alert_weeks": "Weeks of the budget held before an underspending alert",
               "contribution_spent_first": "The person's own contribution is spent first"}
CYCLE_WORDS = {"four_weekly": "Every four weeks", "monthly": "Every month", "weekly": "Every week"}
RULE_WORDS = {"": "As the council's rules say", "true": "Yes", "false": "No"}
RULE_FIELDS = ("surplus_threshold_weeks", "surplus_notice_days", "bank_expiry_days", "surplus_alert_weeks")
BLANK_LINES = 2  # empty budget lines offered beyond those the plan has


class PlanForm(PageForm):
    """PlanIn over flat fields: budget line N's `line-N-domain`, `line-N-outcome`,
    `line-N-annual_amount`; a service's planned hours `hours-SERVICE` and its rate `rate-SERVICE`.
    Built into the API's JSON shape, then loaded by PlanIn; a refusal inside a line or a service is
    shown beside that field."""

    def __init__(self, schema, services: list[str], **kw):
        super().__init__(schema, **kw)
        self.services = services
        self.rows: list[int] = []  # the budget_lines index -> the row it came from

    def given(self) -> dict:
        from .forms import typed
        v = {k: x.strip() for k, x in self.values.items()}
        given = {k: typed(self.schema.fields[k], x) for k, x in v.items()
                 if k in self.schema.fields and x != "" and k not in ("planned_weekly_hours", "rate_overrides",
                                                                      "budget_lines")}
        given["planned_weekly_hours"] = {s: v[f"hours-{s}"] for s in self.services if v.get(f"hours-{s}")}
        given["rate_overrides"] = {s: v[f"rate-{s}"] for s in self.services if v.get(f"rate-{s}")}
        lines, self.rows = [], []
        for n in range(self.line_count()):
            line = {k: v.get(f"line-{n}-{k}", "") for k in ("domain", "outcome", "annual_amount")}
            if any(line.values()):
                lines.append({k: x for k, x in line.items() if x})
                self.rows.append(n)
        given["budget_lines"] = lines
        return given

    def line_count(self) -> int:
        typed_rows = {int(k.split("-")[1]) for k in self.values if k.startswith("line-") and k.split("-")[1].isdigit()}
        return min(50, max(typed_rows, default=-1) + 1)

    def refuse(self, details: dict) -> None:
        flat: dict = {}
        for name, msgs in (details or {}).items():
            if name in ("planned_weekly_hours", "rate_overrides") and isinstance(msgs, dict):
                prefix = "hours" if name == "planned_weekly_hours" else "rate"
                for service, why in msgs.items():
                    target = f"{prefix}-{service}"
                    why = why.get("value", why) if isinstance(why, dict) else why
                    flat[target if target in self.also_now() else "_form"] = (
                        f"{service.replace('_', ' ').capitalize()}: {_first_text(why)}")
            elif name == "budget_lines" and isinstance(msgs, dict):
                for i, why in msgs.items():
                    row = self.rows[int(i)] if str(i).isdigit() and int(i) < len(self.rows) else None
                    for k, m in (why.items() if isinstance(why, dict) else [("outcome", why)]):
                        text = LINE_MISSING[k] if "Missing data" in str(m) else str(_first_text(m))
                        flat[f"line-{row}-{k}" if row is not None else "_form"] = (
                            f"Budget line {row + 1}: {text}" if row is not None else text)
            else:
                flat[name] = msgs
        self.also = tuple(self.also_now())
        super().refuse(flat)

    def also_now(self) -> set[str]:
        return ({f"hours-{s}" for s in self.services} | {f"rate-{s}" for s in self.services}
                | {f"line-{n}-{k}" for n in range(max(self.line_count(), 1)) for k in ("domain", "outcome", "annual_amount")})


def select_items(options: dict[str, str], chosen: str) -> list[dict]:
    """GOV.UK select's items for `options` (value -> words), the one typed selected."""
    return [{"value": k, "text": v, "selected": k == chosen} for k, v in options.items()]


bp.add_app_template_global(select_items, "select_items")


LINE_MISSING = {"domain": "choose the part of the plan", "outcome": "enter the outcome",
                "annual_amount": "enter the amount a year"}


def _first_text(msgs) -> str:
    while isinstance(msgs, (list, tuple, dict)):
        msgs = (list(msgs.values()) if isinstance(msgs, dict) else list(msgs) or ["is not valid"])[0]
    return str(msgs)


def plan_values(plan) -> dict[str, str]:
    """The form filled in from the plan version in force (a new version is a change to it)."""
    if plan is None:
        return {"effective_from": clock.today().isoformat(), "payment_cycle": "four_weekly",
                "management_fee_rate": "0.10"}
    out = {"effective_from": clock.today().isoformat(), "annual_budget": format_pence(plan.annual_budget_pence),
           "payment_cycle": plan.payment_cycle or "", "management_fee_rate": f"{plan.management_fee_rate}",
           "contingency_amount": format_pence(plan.contingency_amount_pence),
           "weekly_client_contribution": format_pence(plan.weekly_client_contribution_pence),
           "contribution_spent_first": "" if plan.contribution_spent_first is None
           else str(plan.contribution_spent_first).lower()}
    for name in RULE_FIELDS:
        if getattr(plan, name) is not None:
            out[name] = str(getattr(plan, name))
    for service, hours_ in plan.planned_weekly_hours.items():
        out[f"hours-{service}"] = str(hours_)
    for service, rate in plan.rate_overrides.items():
        out[f"rate-{service}"] = str(rate)
    for n, line in enumerate(plan.budget_lines):
        out.update({f"line-{n}-domain": line.domain, f"line-{n}-outcome": line.outcome,
                    f"line-{n}-annual_amount": format_pence(line.annual_amount_pence)})
    return out


@bp.route("/people/<int:person_id>/plans/new", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def new_plan(person_id: int):
    """A new version of the support plan (as POST /api/v1/people/{id}/plans): budget lines by
    domain, planned hours and rates by service, and the council's rules overridden for this person."""
    from ..api.plans import new_version
    from ..accounts.plans import plans_of
    from ..accounts.schemas.plans import PlanIn
    plans = plans_of(db.session, person_id)
    current = plans[-1] if plans else None
    names = sorted(set(services()) | (set(current.planned_weekly_hours) | set(current.rate_overrides)
                                      if current else set()))
    form = PlanForm(PlanIn(), names, labels=PLAN_LABELS, values=plan_values(current))
    sent = submitted(form, lambda: (new_version(person_id, form.data, user_id=g.user.id),
                                    done(person_id, "plan", "#plans"))[1])
    if sent is not None:
        return sent
    lines = max(form.line_count(), 0) + BLANK_LINES
    return render_template("pages/finance_plan.html", title="Add a plan version", person=g.person, form=form,
                           services=names, lines=range(lines), domains={"": "Choose a part", **DOMAIN_WORDS},
                           cycles=CYCLE_WORDS, rule_words=RULE_WORDS, rule_fields=RULE_FIELDS,
                           version=(current.version + 1) if current else 1, error_count=len(form.errors))



# --- 10. Council rules with their history ---------------------------------------------------------

RULE_LABELS = {**{k: v for k, v in PLAN_LABELS.items() if k in (*RULE_FIELDS, "contribution_spent_first")},
               "payment_cycle": "How often the council pays",
               "voids_funded_by_council": "The council pays for sessions we cancel at short notice"}


def rule_words(name: str, value) -> str:
    if value is None:
        return "The provider's default"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return CYCLE_WORDS.get(value, str(value)) if name == "payment_cycle" else str(value)


class RulesForm(PageForm):
    """CouncilPatch over every rule at once: a rule left empty is the provider's default (JSON's
    null), and a rule unchanged is no change (change_rules leaves no row for it)."""

    def given(self) -> dict:
        from ..accounts.schemas.councils import RULE_FIELDS as RULES
        from .forms import typed
        given = {k: typed(self.schema.fields[k], self.values[k].strip()) if self.values.get(k, "").strip() else None
                 for k in RULES}
        if self.values.get("effective_from", "").strip():
            given["effective_from"] = self.values["effective_from"].strip()
        return given


@bp.get("/councils")
@signed_in
def councils():
    """Every council, each with a link to its rules (two queries)."""
    from ..models import Council
    rows = db.session.execute(sa.select(Council.id, Council.name).order_by(Council.name)).all()
    return render_template("pages/finance_councils.html", title="Councils", councils=rows)


@bp.route("/councils/<int:council_id>/rules", methods=["GET", "POST"])
@signed_in
def council_rules(council_id: int):
    """A council's rules as set and as in force today, changed from a date (as PATCH
    /api/v1/councils/{id}), and every change before, oldest first."""
    from ..accounts.councils import PROVIDER_DEFAULTS, change_rules, rule_history, rule_on
    from ..models import Council, CouncilRuleChange
    from ..accounts.schemas.councils import CouncilPatch
    from ..errors import NotFound
    from ..auth.users import MAX_ID
    council = db.session.get(Council, council_id) if council_id <= MAX_ID else None
    if council is None:
        raise NotFound(f"no council with id {council_id}")
    as_set = {k: getattr(council, k) for k in PROVIDER_DEFAULTS}
    form = RulesForm(CouncilPatch(), labels={**RULE_LABELS, "effective_from": "The changes apply from"},
                     values={"effective_from": clock.today().isoformat(),
                             **{k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                                for k, v in as_set.items()}})

    def save() -> str:
        data = dict(form.data)
        day = data.pop("effective_from", None) or clock.today()
        change_rules(db.session, council, data, effective_from=day, user_id=g.user.id)
        return url_for("pages.council_rules", council_id=council_id, saved=1)

    sent = submitted(form, save)
    if sent is not None:
        return sent
    today = clock.today()
    history = rule_history(db.session, [council.id])
    in_force = {k: rule_on(db.session, k, council, None, today, history) for k in PROVIDER_DEFAULTS}
    changes = list(db.session.scalars(sa.select(CouncilRuleChange).where(CouncilRuleChange.council_id == council_id)
                                      .order_by(CouncilRuleChange.id)))
    who = dict(db.session.execute(sa.select(User.id, User.name).where(
        User.id.in_({c.changed_by for c in changes if c.changed_by is not None}))).all()) if changes else {}
    import json
    yes_no = {"": "The provider's default", "true": "Yes", "false": "No"}
    fields = [DATE("effective_from"),
              FormField("payment_cycle", kind="radios", options={"": "The provider's default", **CYCLE_WORDS})]
    fields += [FormField(k, classes="govuk-input--width-5", inputmode="numeric",
                         hint=f"Leave empty for the provider's default ({PROVIDER_DEFAULTS[k]})")
               for k in ("surplus_threshold_weeks", "surplus_notice_days", "bank_expiry_days", "surplus_alert_weeks")]
    fields += [FormField(k, kind="radios", options=yes_no) for k in ("contribution_spent_first", "voids_funded_by_council")]
    return render_template(
        "pages/finance_council.html", title=f"{council.name}: rules", form=form, fields=fields, caption="Council",
        action=url_for("pages.council_rules", council_id=council_id), button="Save the rules",
        back_text="Back to the councils", back_href=url_for("pages.councils"), error_count=len(form.errors),
        council=council, facts=[(RULE_LABELS[k], rule_words(k, v)) for k, v in in_force.items()],
        intro=["The rules in force today:"],
        history=[{"field": RULE_LABELS.get(c.field, c.field), "old": rule_words(c.field, json.loads(c.old_value)),
                  "new": rule_words(c.field, json.loads(c.new_value)), "from": c.effective_from,
                  "who": who.get(c.changed_by, "Not known"), "at": c.changed_at} for c in changes])



# --- 11. The rate card -----------------------------------------------------------------------------

def decimal_text(value) -> str:
    """An exact figure as the API writes it: two places, or more where it has them (21.5025)."""
    from decimal import Decimal
    d = Decimal(str(value))
    return f"{d:,.2f}" if d == d.quantize(Decimal("0.01")) else f"{d.normalize():,}"


def rate_text(rate) -> str:
    """A unit rate in pounds: £21.50, or £21.5025."""
    return f"£{decimal_text(rate)}"


bp.add_app_template_filter(rate_text, "rate_text")
bp.add_app_template_filter(decimal_text, "decimal_text")


@bp.route("/rates", methods=["GET", "POST"])
@signed_in
def rate_card():
    """The rate card, every entry, and a new entry from a date (as POST /api/v1/rates): deliveries
    already charged from that date are charged again at the new rate."""
    from ..api.rates import new_rate
    from ..accounts.schemas.rates import RateIn
    form = PageForm(RateIn(), labels={"service": "Service", "unit": "Charged by the", "rate": "Rate",
                                      "effective_from": "From"},
                    values={"effective_from": clock.today().isoformat(), "unit": "hour"},
                    messages={"unit": "Choose whether it is charged by the hour or by the night"})
    sent = submitted(form, lambda: (new_rate(form.data, user_id=g.user.id), url_for("pages.rate_card", saved=1))[1])
    if sent is not None:
        return sent
    entries = db.session.scalars(sa.select(Rate).order_by(Rate.service, Rate.effective_from)).all()
    fields = [FormField("service", hint="Lower-case words joined by _, for example day_support or waking_night",
                        classes="govuk-!-width-one-half"),
              FormField("unit", kind="radios", options={"hour": "Hour", "night": "Night"}),
              MONEY("rate", hint="In pounds, for example 21.50"), DATE("effective_from")]
    return render_template("pages/finance_rates.html", title="The rate card", form=form, fields=fields,
                           action=url_for("pages.rate_card"), button="Add the rate", caption=None,
                           back_text="Back to the dashboard", back_href=url_for("pages.dashboard"),
                           error_count=len(form.errors), entries=entries,
                           intro=["Support already charged from the new rate's date is charged again at it."])


def may(endpoint: str) -> bool:
    """The signed-in user may open the page `endpoint` (the access table's word, as signed_in reads it)."""
    from ..auth.access import roles_for
    user = g.get("user")
    return user is not None and user.role in roles_for(f"{endpoint}.get")


bp.add_app_template_global(may, "may")


# The forms a fund's page links to, in the order it lists them (each shown to the roles that may open it).
FUND_ACTIONS = [("pages.new_plan", "Add a plan version"), ("pages.new_delivery", "Record a delivery"),
                ("pages.record_spend_page", "Record spend and its receipt"),
                ("pages.set_aside", "Set money aside in the contingency"), ("pages.draw", "Draw on the contingency"),
                ("pages.correct_person_name", "Correct the name"), ("pages.fee_refund", "Refund management fee"),
                ("pages.clawback", "Record a clawback of surplus"), ("pages.close", "Close the fund")]
bp.add_app_template_global(FUND_ACTIONS, "fund_actions")
