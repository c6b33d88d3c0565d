"""Shared arrangements from the pages (sleep-ins and background support split between people):
the list and a new arrangement, one arrangement with its versions and its members (each with
every review of their membership), a new version of its cost or places, a member joining with
their consent, a review of a member, and a month's charge with its working. Thin pages over
shared_support.charges (the operations the API calls), loaded by the API's schemas; the month's
figures are shared_support.report.month_json's, as the API answers them.
"""
from __future__ import annotations

import sqlalchemy as sa
from marshmallow import Schema
from flask import g, render_template, url_for

from .. import clock
from ..db import db
from ..errors import NotFound
from ..shared_support import charges
from ..shared_support import schemas as s
from ..models.shared_support import Arrangement, Membership
from ..shared_support.report import arrangement_json, month_json
from ..auth.users import MAX_ID
from .finance_forms import DATE, DOMAIN_WORDS, FormField, MONEY, PageForm, show, submitted
from .views import bp, signed_in

METHOD_WORDS = {"equal": "Equal shares", "weighted": "Shares by an agreed weight"}
SHARED_DONE = {"created": "The arrangement is set up.", "version": "The new cost or number of places is saved.",
               "member": "The member is added.", "review": "The review is saved."}
COST_LABELS = {"capacity": "Number of places", "per_night": "Cost a night (or leave empty and give a weekly cost)",
               "weekly": "Cost a week (or leave empty and give a cost a night)", "effective_from": "From"}


def _arrangement(arrangement_id: int) -> Arrangement:
    found = db.session.get(Arrangement, arrangement_id) if arrangement_id <= MAX_ID else None
    if found is None:
        raise NotFound(f"no shared arrangement with id {arrangement_id}")
    return found


def _back(arrangement: Arrangement) -> tuple[str, str]:
    return f"Back to {arrangement.name}", url_for("pages.arrangement", arrangement_id=arrangement.id)


def cost_fields() -> list[FormField]:
    return [FormField("capacity", classes="govuk-input--width-3", inputmode="numeric"),
            MONEY("per_night", hint="In pounds, for example 95.00"), MONEY("weekly", hint="In pounds"),
            DATE("effective_from")]


@bp.get("/shared")
@signed_in
def shared_list():
    """Every shared arrangement, with how many places and members (two queries)."""
    rows = db.session.execute(sa.select(Arrangement.id, Arrangement.name, Arrangement.method,
                                        sa.select(sa.func.count()).where(Membership.arrangement_id == Arrangement.id)
                                        .scalar_subquery().label("members")).order_by(Arrangement.name)).all()
    return render_template("pages/finance_shared_list.html", title="Shared support", arrangements=rows,
                           methods=METHOD_WORDS)


@bp.route("/shared/new", methods=["GET", "POST"])
@signed_in
def new_arrangement():
    """Set up a shared arrangement (as POST /api/v1/shared-arrangements)."""
    form = PageForm(s.ArrangementIn(), labels={**COST_LABELS, "name": "Name", "method": "How the cost is shared",
                                               "domain": "Part of the plan it pays for",
                                               "council": "Council that pays for empty places (optional)"},
                    values={"effective_from": clock.today().isoformat(), "method": "equal", "domain": "staying_safe"},
                    messages={"method": "Choose how the cost is shared"})
    sent = submitted(form, lambda: url_for("pages.arrangement", arrangement_id=charges.create_arrangement(
        db.session, user_id=g.user.id, **form.data).id, done="created"))
    if sent is not None:
        return sent
    fields = [FormField("name", hint="For example, Elm Road sleep-in", classes="govuk-!-width-two-thirds"),
              FormField("method", kind="radios", options=METHOD_WORDS), *cost_fields(),
              FormField("domain", kind="radios", options=DOMAIN_WORDS),
              FormField("council", hint="Only if the council pays for places nobody fills; otherwise we do",
                        classes="govuk-!-width-two-thirds")]
    return show(form, fields, title="Set up a shared arrangement", action=url_for("pages.new_arrangement"),
                button="Set it up", back=("Back to shared support", url_for("pages.shared_list")))


@bp.get("/shared/<int:arrangement_id>")
@signed_in
def arrangement(arrangement_id: int):
    """One arrangement: its versions, its members with every review, and a month's charge."""
    found = _arrangement(arrangement_id)
    data = arrangement_json(db.session, found, g.user)
    from ..models import Person
    names = dict(db.session.execute(sa.select(Person.id, Person.name).where(
        Person.id.in_([m["person_id"] for m in data["members"]]))).all()) if data["members"] else {}
    last_month = clock.parse_month(f"{clock.today():%Y-%m}")
    return render_template("pages/finance_shared.html", title=found.name, a=data, names=names,
                           methods=METHOD_WORDS, domains=DOMAIN_WORDS, done_words=SHARED_DONE,
                           month=f"{clock.add_months(last_month, -1):%Y-%m}")


@bp.route("/shared/<int:arrangement_id>/versions/new", methods=["GET", "POST"])
@signed_in
def arrangement_version(arrangement_id: int):
    """A reviewed cost or number of places from a date (as POST .../versions): months already
    charged from then get the difference."""
    found = _arrangement(arrangement_id)
    form = PageForm(s.CostIn(), labels=COST_LABELS, values={"effective_from": clock.today().isoformat()})
    sent = submitted(form, lambda: (charges.add_version(db.session, found, user_id=g.user.id, **form.data),
                                    url_for("pages.arrangement", arrangement_id=arrangement_id, done="version"))[1])
    if sent is not None:
        return sent
    return show(form, cost_fields(), title="Change the cost or the places", caption=found.name, back=_back(found),
                action=url_for("pages.arrangement_version", arrangement_id=arrangement_id), button="Save")


MEMBER_LABELS = {"person_id": "The person's id", "weight": "Weight (only for shares by weight)",
                 "from": "Joins on", "to": "Leaves on (optional)", "agreed_on": "Date the person agreed",
                 "recorded_by": "Who recorded their agreement", "effective_from": "From"}


@bp.route("/shared/<int:arrangement_id>/members/new", methods=["GET", "POST"])
@signed_in
def new_member(arrangement_id: int):
    """A person joins from a date with their consent (as POST .../members)."""
    found = _arrangement(arrangement_id)
    form = PageForm(s.MemberIn(), labels=MEMBER_LABELS, values={"from": clock.today().isoformat(),
                                                                "agreed_on": clock.today().isoformat()},
                    messages={"recorded_by": "Enter who recorded the person's agreement"})
    sent = submitted(form, lambda: (charges.add_member(db.session, found, user_id=g.user.id, **form.data),
                                    url_for("pages.arrangement", arrangement_id=arrangement_id, done="member"))[1])
    if sent is not None:
        return sent
    fields = [FormField("person_id", hint="The number in the address of their page, for example 12",
                        classes="govuk-input--width-5", inputmode="numeric"),
              DATE("from"), DATE("to", hint="Leave empty if they are staying"),
              FormField("weight", hint="For example, 1.5. Leave empty for a weight of 1",
                        classes="govuk-input--width-5", inputmode="decimal"),
              DATE("agreed_on"), FormField("recorded_by", classes="govuk-!-width-two-thirds")]
    return show(form, fields, title="Add a member", caption=found.name, back=_back(found),
                action=url_for("pages.new_member", arrangement_id=arrangement_id), button="Add the member",
                intro=["A person joins only with their agreement."])


@bp.route("/shared/<int:arrangement_id>/members/<int:membership_id>/review", methods=["GET", "POST"])
@signed_in
def review_member_form(arrangement_id: int, membership_id: int):
    """A reviewed weight from a date, or the member's last day, agreed with them (as POST .../reviews)."""
    found = _arrangement(arrangement_id)
    membership = db.session.get(Membership, membership_id) if membership_id <= MAX_ID else None
    if membership is None or membership.arrangement_id != arrangement_id:
        raise NotFound(f"no membership {membership_id} of arrangement {arrangement_id}")
    form = PageForm(s.ReviewIn(), labels={**MEMBER_LABELS, "to": "Last day (only if they are leaving)"},
                    values={"effective_from": clock.today().isoformat(), "agreed_on": clock.today().isoformat()},
                    messages={"recorded_by": "Enter who recorded the person's agreement"})
    sent = submitted(form, lambda: (charges.review_member(db.session, found, membership, user_id=g.user.id,
                                                          **form.data),
                                    url_for("pages.arrangement", arrangement_id=arrangement_id, done="review"))[1])
    if sent is not None:
        return sent
    from ..models import Person
    person = db.session.get(Person, membership.person_id)
    fields = [DATE("effective_from"), FormField("weight", hint="For example, 1.5. Leave empty to keep it",
                                                classes="govuk-input--width-5", inputmode="decimal"),
              DATE("to", hint="Leave empty if they are staying"), DATE("agreed_on"),
              FormField("recorded_by", classes="govuk-!-width-two-thirds")]
    return show(form, fields, title=f"Review {person.name}'s membership", caption=found.name, back=_back(found),
                action=url_for("pages.review_member_form", arrangement_id=arrangement_id,
                               membership_id=membership_id), button="Save the review")


class MonthIn(Schema):
    """The month's charge form has no fields: the month is in the path."""


@bp.route("/shared/<int:arrangement_id>/charges/<month>", methods=["GET", "POST"])
@signed_in
def shared_month(arrangement_id: int, month: str):
    """A month's charge with its working (as GET .../charges/{month}); finance charges a month
    that is over and not yet charged (as POST .../charges/{month}), once."""
    found = _arrangement(arrangement_id)
    first = clock.parse_month(month)
    form = PageForm(MonthIn())
    sent = submitted(form, lambda: (charges.charge_month(db.session, [arrangement_id], first, g.user.id),
                                    url_for("pages.shared_month", arrangement_id=arrangement_id, month=month))[1])
    if sent is not None:
        return sent
    report = month_json(db.session, found, first, g.user)
    return render_template("pages/finance_shared_month.html", title=f"{found.name}: {first:%B %Y}", a=found,
                           report=report, month=month, month_name=f"{first:%B %Y}", form=form,
                           error_count=len(form.errors), may_charge=g.user.role in ("admin", "finance"),
                           methods=METHOD_WORDS)


@bp.get("/shared/<int:arrangement_id>/month")
@signed_in
def shared_month_pick(arrangement_id: int):
    """The arrangement page's month picker (a GET form, so it works without JavaScript)."""
    from flask import redirect, request
    _arrangement(arrangement_id)
    month = request.args.get("month", "").strip()[:7]
    clock.parse_month(month)  # a month that is not one is refused here, as the API refuses it
    return redirect(url_for("pages.shared_month", arrangement_id=arrangement_id, month=month), 303)
