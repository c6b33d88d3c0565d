"""Support plan versions of a person."""
from __future__ import annotations

from flask import g
from flask.views import MethodView

from ...api_base import ExactBlueprint
from ...db import db
from ...idempotency import write
from ...users import guard
from ..plans import add_plan, plans_of
from ..rate_adjustments import adjust_charges
from ..schemas import plans as s
from .scopes import PERSON

blp = ExactBlueprint("plans", __name__, url_prefix="/api/v1", description="Support plans")


@blp.route("/people/<int:person_id>/plans")
class Plans(MethodView):
    @guard(PERSON)
    @blp.response(200, s.PlanOut(many=True))
    def get(self, person_id):
        """Every version of the person's support plan, oldest first."""
        return plans_of(db.session, person_id)

    @guard(PERSON)
    @blp.arguments(s.PlanIn)
    @write
    @blp.response(201, s.PlanOut)
    def post(self, args, person_id):
        """Add a new version of the person's support plan; deliveries already charged from its start are
        re-priced at its rates (its rate_overrides, else the rate card) by one rate adjustment."""
        plan = add_plan(db.session, person_id, user_id=g.user.id, **args)
        plan.adjustments = adjust_charges(db.session, since=plan.effective_from, person_ids=[person_id],
                                          why=f"plan version {plan.version}", user_id=g.user.id)
        return plan
