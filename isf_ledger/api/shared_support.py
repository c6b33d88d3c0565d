"""Shared arrangements: create and review them, record members with consent, run and read the
month's charges. Finance and brokers record arrangements and members; finance runs charges;
a person or an auditor reads only what report.py lets them see."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Response, g, request
from flask.views import MethodView

from ..api_base import ExactBlueprint
from ..db import db
from ..errors import NotFound
from ..idempotency import write
from ..auth.scopes import visible_people
from ..auth.users import MAX_ID, Scope, can_see_person, guard
from ..models import Person
from ..shared_support import charges
from ..shared_support import schemas as s
from ..models.shared_support import Arrangement, Membership
from ..shared_support.report import arrangement_json, arrangements_json, members_json, month_json, month_xlsx
from ..clock import parse_month

blp = ExactBlueprint("shared_support", __name__, url_prefix="/api/v1",
                     description="Shared support: sleep-ins and background support split fairly")


def _arrangement(arrangement_id: int):
    """The arrangement, and for `guard` a member the asking user may see (people and auditors see
    an arrangement only through a member of theirs)."""
    arrangement = db.session.get(Arrangement, arrangement_id) if arrangement_id <= MAX_ID else None
    if arrangement is None:
        return None, None
    members = db.session.scalars(sa.select(Person).join(Membership, Membership.person_id == Person.id)
                                 .where(Membership.arrangement_id == arrangement_id).order_by(Person.id))
    return arrangement, next((p for p in members if can_see_person(g.user, p)), None)


ARRANGEMENT = Scope("arrangement_id", "arrangement", _arrangement)


def _membership(membership_id: int):
    """A membership of the arrangement in the path (404 before the body is read, as for any id)."""
    membership = db.session.get(Membership, membership_id) if membership_id <= MAX_ID else None
    if membership is None or membership.arrangement_id != request.view_args.get("arrangement_id"):
        return None, None
    return membership, db.session.get(Person, membership.person_id)


MEMBERSHIP = Scope("membership_id", "membership", _membership)


def _corrections(lines: list[dict]) -> dict:
    return {"corrections": lines, "transaction_ids": [line["transaction_id"] for line in lines
                                                      if line["transaction_id"]]}


@blp.route("/shared-arrangements")
class Arrangements(MethodView):
    @guard()
    @blp.response(200, s.ArrangementOut(many=True))
    def get(self):
        """The arrangements you may see (a person: those they belong to), each with its members (a
        handful of queries however many)."""
        q = sa.select(Arrangement).order_by(Arrangement.id)
        if g.user.role in ("person", "auditor"):
            mine = (sa.select(Membership.arrangement_id).join(Person, Person.id == Membership.person_id)
                    .where(visible_people(g.user)))
            q = q.where(Arrangement.id.in_(mine))
        return arrangements_json(db.session, db.session.scalars(q).all(), g.user)

    @guard()
    @blp.arguments(s.ArrangementIn)
    @write
    @blp.response(201, s.ArrangementOut)
    def post(self, args):
        """Set up a shared arrangement: its places, method, cost (per night or weekly) and start."""
        arrangement = charges.create_arrangement(db.session, user_id=g.user.id, **args)
        return arrangement_json(db.session, arrangement, g.user)


@blp.route("/shared-arrangements/<int:arrangement_id>")
@guard(ARRANGEMENT)
@blp.response(200, s.ArrangementOut)
def get_arrangement(arrangement_id):
    """One arrangement: its versions and the members you may see."""
    return arrangement_json(db.session, g.arrangement, g.user)


@blp.route("/shared-arrangements/<int:arrangement_id>/versions", methods=["POST"])
@guard(ARRANGEMENT)
@blp.arguments(s.CostIn)
@write
@blp.response(201, s.VersionCreated)
def add_version(args, arrangement_id):
    """A reviewed cost or number of places from a date; months already charged get the difference."""
    version, lines = charges.add_version(db.session, g.arrangement, user_id=g.user.id, **args)
    return {**{c: getattr(version, c) for c in ("id", "effective_from", "capacity", "per_night_pence",
                                                "weekly_pence")}, **_corrections(lines)}


@blp.route("/shared-arrangements/<int:arrangement_id>/members")
class Members(MethodView):
    @guard(ARRANGEMENT)
    @blp.response(200, s.MemberOut(many=True))
    def get(self, arrangement_id):
        """The members you may see, each with every review of their membership."""
        return members_json(db.session, arrangement_id, g.user)

    @guard(ARRANGEMENT)
    @blp.arguments(s.MemberIn)
    @write
    @blp.response(201, s.MemberCreated)
    def post(self, args, arrangement_id):
        """A person joins from a date with their consent (agreed_on, recorded_by)."""
        membership, lines = charges.add_member(db.session, g.arrangement, user_id=g.user.id, **args)
        return {**members_json(db.session, arrangement_id, g.user, only=membership.id)[0], **_corrections(lines)}


@blp.route("/shared-arrangements/<int:arrangement_id>/members/<int:membership_id>/reviews", methods=["POST"])
@guard(MEMBERSHIP)
@blp.arguments(s.ReviewIn)
@write
@blp.response(201, s.ReviewCreated)
def review_member(args, arrangement_id, membership_id):
    """A reviewed weight from a date, or the membership's end (`to`), agreed with the person."""
    arrangement = db.session.get(Arrangement, arrangement_id)
    term, lines = charges.review_member(db.session, arrangement, g.membership, user_id=g.user.id, **args)
    return {"membership_id": membership_id, "effective_from": term.effective_from, "weight": term.weight,
            "ends_on": term.ends_on, "agreed_on": term.agreed_on, "recorded_by": term.recorded_by,
            **_corrections(lines)}


@blp.route("/shared-arrangements/<int:arrangement_id>/charges/<month>")
class MonthCharges(MethodView):
    @guard(ARRANGEMENT)
    @blp.arguments(s.FormatQuery, location="query")
    @blp.response(200, s.MonthOut)
    @blp.alt_response(200, description="the workbook, with ?format=xlsx",
                      content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    def get(self, args, arrangement_id, month):
        """The month's cost, each share and how it was worked out, the empty places, and their total."""
        report = month_json(db.session, g.arrangement, parse_month(month), g.user)
        if report is None:
            raise NotFound(f"arrangement {arrangement_id} has not been charged for {month}")
        if args["format"] == "xlsx":
            return Response(month_xlsx(report), headers={
                "Content-Disposition": f'attachment; filename="shared-{arrangement_id}-{month}.xlsx"'},
                mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        return report

    @guard(ARRANGEMENT)
    @write
    @blp.response(201, s.MonthOut)
    def post(self, arrangement_id, month):
        """Charge the month (once it is over): each member from their own fund, the empty places to
        the void. Again, it charges nothing more and answers with the first run."""
        _, now = charges.charge_month(db.session, [arrangement_id], parse_month(month), g.user.id)
        return month_json(db.session, g.arrangement, parse_month(month), g.user), 201 if now else 200
