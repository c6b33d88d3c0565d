"""The provider's rate card."""
from __future__ import annotations

import sqlalchemy as sa
from flask import g
from flask.views import MethodView

from ..api_base import ExactBlueprint
from ..db import db
from ..idempotency import write
from ..auth.users import guard
from ..models import Rate
from ..accounts.rate_adjustments import adjust_charges
from ..accounts.rates import add_rate
from ..accounts.schemas import rates as s

blp = ExactBlueprint("rates", __name__, url_prefix="/api/v1", description="The rate card")


@blp.route("/rates")
class Rates(MethodView):
    @guard()
    @blp.response(200, s.RateOut(many=True))
    def get(self):
        """The rate card, every entry."""
        return db.session.scalars(sa.select(Rate).order_by(Rate.service, Rate.effective_from)).all()

    @guard()
    @blp.arguments(s.RateIn)
    @write
    @blp.response(201, s.RateOut)
    def post(self, args):
        """Add a rate card entry for a service from a date; deliveries already charged from that date
        are re-priced by a rate adjustment per person, posted in the open month."""
        entry = add_rate(db.session, user_id=g.user.id, **args)
        entry.adjustments = adjust_charges(db.session, since=entry.effective_from, service=entry.service,
                                           why=f"{entry.service} at {entry.rate} from {entry.effective_from}",
                                           user_id=g.user.id)
        return entry
