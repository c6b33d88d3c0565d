"""Councils: who funds whom, and each council's rule profile (finance names councils)."""
from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa
from flask import g
from flask.views import MethodView

from .. import clock
from ..api_base import ExactBlueprint
from ..db import db
from ..errors import Conflict
from ..idempotency import write
from ..auth.users import MAX_ID, Scope, guard
from ..accounts.councils import (PROVIDER_DEFAULTS, change_rules, create_council, find_council, history_json,
    rule_history, rule_on)
from ..models import Council, CouncilRuleChange
from ..accounts.schemas import councils as s

blp = ExactBlueprint("councils", __name__, url_prefix="/api/v1", description="Councils and their rules")


def council_json(council: Council, history=None) -> dict:
    """`rules` as last set (some may take effect later); `in_force` what holds today (UK)."""
    if history is None:
        history = rule_history(db.session, [council.id])
    today = clock.today()
    return {"id": council.id, "name": council.name,
            "rules": {k: getattr(council, k) for k in PROVIDER_DEFAULTS},
            "in_force": {k: rule_on(db.session, k, council, None, today, history) for k in PROVIDER_DEFAULTS}}


@blp.route("/councils")
class Councils(MethodView):
    @guard()
    @blp.response(200, s.CouncilOut(many=True))
    def get(self):
        """Every council and its rule profile."""
        councils = list(db.session.scalars(sa.select(Council).order_by(Council.name)))
        history = rule_history(db.session, [c.id for c in councils])
        return [council_json(c, history) for c in councils]

    @guard()
    @blp.arguments(s.CouncilIn)
    @write
    @blp.response(201, s.CouncilOut)
    def post(self, args):
        """Name a council and set its rules (a rule left out is the provider's default)."""
        name = args.pop("name")
        if find_council(db.session, name) is not None:
            raise Conflict(f"a council named {find_council(db.session, name).name!r} already exists",
                           {"name": ["already known (case and spacing do not count)"]}, code="duplicate_council")
        return council_json(create_council(db.session, name, **{k: v for k, v in args.items() if v is not None}))


def _council(council_id: int):
    council = db.session.get(Council, council_id) if council_id <= MAX_ID else None
    # An auditor's scope is their council: the council stands as its own "owner".
    return council, SimpleNamespace(id=None, council_id=council.id) if council is not None else None


COUNCIL = Scope("council_id", "council", _council)


@blp.route("/councils/<int:council_id>")
class OneCouncil(MethodView):
    @guard(COUNCIL)
    @blp.response(200, s.CouncilOut)
    def get(self, council_id):
        """A council and its rule profile (as set, and as in force today)."""
        return council_json(g.council)

    @guard(COUNCIL)
    @blp.arguments(s.CouncilPatch)
    @write
    @blp.response(200, s.CouncilOut)
    def patch(self, args, council_id):
        """Change some of the council's rules from `effective_from` (default today). Every change
        is kept in its history (old, new, from when, who, when); items dated before it keep the
        old value where the rule is read at the item's date."""
        day = args.pop("effective_from", None) or clock.today()
        change_rules(db.session, g.council, args, effective_from=day, user_id=g.user.id)
        return council_json(g.council)


@blp.route("/councils/<int:council_id>/history")
@guard(COUNCIL)
@blp.response(200, s.RuleChangeOut(many=True))
def council_history(council_id):
    """Every change to the council's rules, oldest first."""
    rows = db.session.scalars(sa.select(CouncilRuleChange).where(CouncilRuleChange.council_id == council_id)
                              .order_by(CouncilRuleChange.id))
    return history_json(rows)
