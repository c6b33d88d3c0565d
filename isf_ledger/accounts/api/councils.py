"""Councils: who funds whom, and each council's rule profile (finance names councils)."""
from __future__ import annotations

import sqlalchemy as sa
from flask.views import MethodView

from ...api_base import ExactBlueprint
from ...db import db
from ...errors import Conflict
from ...idempotency import write
from ...users import ANYONE, FINANCE, guard
from ..councils import PROVIDER_DEFAULTS, create_council, find_council, rule
from ..models import Council
from ..schemas import councils as s

blp = ExactBlueprint("councils", __name__, url_prefix="/api/v1", description="Councils and their rules")


def council_json(council: Council) -> dict:
    return {"id": council.id, "name": council.name,
            "rules": {k: getattr(council, k) for k in PROVIDER_DEFAULTS},
            "in_force": {k: rule(k, council) for k in PROVIDER_DEFAULTS}}


@blp.route("/councils")
class Councils(MethodView):
    @guard(ANYONE)
    @blp.response(200, s.CouncilOut(many=True))
    def get(self):
        """Every council and its rule profile."""
        return [council_json(c) for c in db.session.scalars(sa.select(Council).order_by(Council.name))]

    @guard(FINANCE)
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
