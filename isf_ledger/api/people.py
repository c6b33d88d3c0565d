"""People and their funds: create a person with their fund; list people; a fund's position."""
from __future__ import annotations

import sqlalchemy as sa
from flask import g, url_for
from flask.views import MethodView
from sqlalchemy.orm import joinedload

from ..api_base import ExactBlueprint
from .. import clock
from ..db import db
from ..idempotency import write
from ..auth.users import FINANCE, User, guard
from ..models import Person
from ..accounts.people import correct_name, create_person, name_history
from ..accounts.hours import quantity
from ..accounts.positions import Position, fund_position, positions
from ..accounts.schemas import people as s
from ..accounts.schemas.common import AsOfQuery
from ..auth.scopes import PERSON, PERSON_ROW, visible_people

blp = ExactBlueprint("people", __name__, url_prefix="/api/v1", description="People and their funds")


def person_json(person: Person, position: Position | None = None) -> dict:
    if position is None:
        position = positions(db.session, [person.id], clock.today())[person.id]
    fund = person.fund
    return {"id": person.id, "name": person.name, "council": person.council.name,
            "council_reference": person.council_reference,
            "fund": {"id": fund.id, "opened_on": fund.opened_on, "closed_on": fund.closed_on,
                     "available": position.available, "contingency": position.contingency}}


@blp.route("/people")
class People(MethodView):
    @guard()
    @blp.arguments(s.PeopleQuery, location="query")
    @blp.response(200, s.PersonOut(many=True), headers={"X-Total-Count": {
        "description": "how many people you may see in all", "schema": {"type": "integer"}}})
    def get(self, args):
        """List the people whose funds you may see, a page at a time (by id), with today's balances."""
        q = sa.select(Person).where(visible_people(g.user))
        total = db.session.scalar(sa.select(sa.func.count()).select_from(q.subquery()))
        page, per_page = args["page"], args["per_page"]
        people = db.session.scalars(q.options(joinedload(Person.council), joinedload(Person.fund))
                                    .order_by(Person.id).limit(per_page).offset((page - 1) * per_page)).all()
        held = positions(db.session, [p.id for p in people], args["as_of"] or clock.today())
        headers = {"X-Total-Count": str(total)}
        if page * per_page < total:
            headers["Link"] = f'<{url_for("people.People", page=page + 1, per_page=per_page)}>; rel="next"'
        return [person_json(p, held[p.id]) for p in people], 200, headers

    @guard()
    @blp.arguments(s.PersonIn)
    @write
    @blp.response(201, s.PersonOut)
    def post(self, args):
        """Create a person and their fund."""
        person = create_person(db.session, **args, may_name_council=g.user.role in FINANCE)
        return person_json(person)


@blp.route("/people/<int:person_id>")
class OnePerson(MethodView):
    @guard(PERSON)
    @blp.response(200, s.PersonOut)
    def get(self, person_id):
        """A person and their fund's balances today."""
        return person_json(g.person)

    @guard(PERSON)
    @blp.arguments(s.PersonPatch)
    @write
    @blp.response(200, s.PersonOut)
    def patch(self, args, person_id):
        """Correct the person's name (finance and brokers). The change is kept in the person's
        history (`GET .../history`: before, after, who and when); statements already issued keep
        the name they were issued with."""
        correct_name(db.session, g.person, args["name"], user_id=g.user.id)
        return person_json(g.person)


@blp.route("/people/<int:person_id>/history")
@guard(PERSON)
@blp.response(200, s.NameHistoryOut)
def person_history(person_id):
    """Every correction of the person's name, oldest first, with who made it and when."""
    changes = name_history(db.session, person_id)
    who = dict(db.session.execute(sa.select(User.id, User.name).where(
        User.id.in_({c.changed_by for c in changes if c.changed_by is not None}))).all()) if changes else {}
    return {"person_id": person_id, "name": g.person.name,
            "changes": [{"id": c.id, "old_name": c.old_name, "new_name": c.new_name, "changed_by": c.changed_by,
                         "changed_by_name": who.get(c.changed_by), "changed_at": c.changed_at.isoformat()}
                        for c in changes]}


@blp.route("/people/<int:person_id>/balance")
@guard(PERSON_ROW)
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, s.BalanceOut)
def balance(args, person_id):
    """The fund's pots as at a date (default today), counting everything dated on or before it, and
    its bank of hours as at that date with their value at that date's rates."""
    as_of = args["as_of"] or clock.today()
    held = fund_position(db.session, person_id, as_of)
    return {"person_id": person_id, "as_of": as_of, "available": held.available,
            "contingency": held.contingency, "bank_hours": quantity(held.bank_hundredths),
            "bank_value": held.bank_value}
