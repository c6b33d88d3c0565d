"""The fund's contingency: set-asides, draws, and what is held.

Finance and brokers record both: a set-aside only ring-fences the person's own money as the plan
says (capped by the plan year's amount), and a draw is meant to be quick and panel-free."""
from __future__ import annotations

from flask import g

from ..api_base import ExactBlueprint
from .. import clock
from ..db import db
from ..idempotency import write
from ..auth.users import guard
from ..accounts.contingency import contingency_of, record_draw, record_set_aside
from ..accounts.schemas import contingency as s
from ..accounts.schemas.common import AsOfQuery
from ..auth.scopes import PERSON

blp = ExactBlueprint("contingency", __name__, url_prefix="/api/v1", description="Contingency")


def _figures(view) -> dict:
    start, end = view.plan_year or (None, None)
    return {"plan_year_start": start, "plan_year_end": end, "contingency_amount": view.contingency_amount,
            "set_aside": view.set_aside, "drawn": view.drawn,
            "remaining_to_set_aside": view.remaining_to_set_aside, "held": view.held}


def _written(movement) -> dict:
    view = contingency_of(db.session, movement.person_id, movement.date)
    mine = next(m for m in view.movements if m["id"] == movement.id)
    return {**mine, "person_id": movement.person_id, "plan_year": _figures(view)}


@blp.route("/people/<int:person_id>/contingency/set-aside", methods=["POST"])
@guard(PERSON)
@blp.arguments(s.SetAsideIn)
@write
@blp.response(201, s.MovementWrittenOut)
def set_aside(args, person_id):
    """Set money aside from `available` into the contingency: at most the plan year's contingency
    amount in all, and never more than is available (409)."""
    return _written(record_set_aside(db.session, person_id, user_id=g.user.id, **args))


@blp.route("/people/<int:person_id>/contingency/draws", methods=["POST"])
@guard(PERSON)
@blp.arguments(s.DrawIn)
@write
@blp.response(201, s.MovementWrittenOut)
def draw(args, person_id):
    """Draw on the contingency for extra support, with the reason and who authorised it; never
    beyond what it holds (409)."""
    return _written(record_draw(db.session, person_id, user_id=g.user.id, **args))


@blp.route("/people/<int:person_id>/contingency")
@guard(PERSON)
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, s.ContingencyOut)
def contingency(args, person_id):
    """Every set-aside and draw up to `as_of` (default today), with the plan year's figures."""
    view = contingency_of(db.session, person_id, args["as_of"] or clock.today())
    return {"person_id": person_id, "as_of": view.as_of, **_figures(view),
            "movements": [{**m, "person_id": person_id} for m in view.movements]}
