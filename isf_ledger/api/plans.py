"""Support plan versions of a person."""
from __future__ import annotations

from functools import wraps

from flask import g, request
from flask.views import MethodView

from ..api_base import ExactBlueprint
from ..db import db
from ..errors import Forbidden
from ..idempotency import write
from ..auth.users import FINANCE, guard
from ..accounts.plans import FINANCE_ONLY, add_plan, carry_finance_terms, plans_of
from ..accounts.rate_adjustments import adjust_charges
from ..accounts.schemas import plans as s
from ..auth.scopes import PERSON

blp = ExactBlueprint("plans", __name__, url_prefix="/api/v1", description="Support plans")


def finance_only_fields(view):
    """A broker sending a field only finance may set is refused (403, naming it) before the body
    is checked, as the role is before anything else."""
    @wraps(view)
    def wrapper(*a, **kw):
        body = request.get_json(silent=True)
        sent = [f for f in FINANCE_ONLY if isinstance(body, dict) and f in body]
        if sent and g.user.role not in FINANCE:
            raise Forbidden(f"a {g.user.role} user may not set {' or '.join(sent)}: finance agrees the fee "
                            "and any rate other than the rate card's",
                            {f: ["only finance may set this"] for f in sent}, code="finance_only")
        return view(*a, **kw)
    return wrapper


@blp.route("/people/<int:person_id>/plans")
class Plans(MethodView):
    @guard(PERSON)
    @blp.response(200, s.PlanOut(many=True))
    def get(self, person_id):
        """Every version of the person's support plan, oldest first."""
        return plans_of(db.session, person_id)

    @guard(PERSON)
    @finance_only_fields
    @blp.arguments(s.PlanIn)
    @write
    @blp.response(201, s.PlanOut)
    def post(self, args, person_id):
        """Add a new version of the person's support plan; deliveries already charged from its start are
        re-priced at its rates (its rate_overrides, else the rate card) by one rate adjustment.
        `management_fee_rate` and `rate_overrides` are finance's to set: a broker's version takes
        the fee and overrides of the version in force on its first day (the default fee and the
        rate card for a first version), and a broker sending either field is refused (403)."""
        return new_version(person_id, args, user_id=g.user.id)


def new_version(person_id: int, args: dict, *, user_id: int | None):
    """A new plan version, and deliveries already charged from its start re-priced by one rate
    adjustment (the plan page writes through this too)."""
    if g.user.role not in FINANCE:
        args = carry_finance_terms(db.session, person_id, args)
    plan = add_plan(db.session, person_id, user_id=user_id, **args)
    plan.adjustments = adjust_charges(db.session, since=plan.effective_from, person_ids=[person_id],
                                      why=f"plan version {plan.version}", user_id=user_id)
    return plan
