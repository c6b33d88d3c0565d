"""Deliveries of support: record them, list them, reverse them; hours against the plan."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import g
from flask.views import MethodView

from ..api_base import ExactBlueprint
from .. import clock
from ..db import db
from ..errors import Invalid
from ..idempotency import write
from ..auth.users import guard
from ..accounts.hours import DeliveryIn, hours_by_period, quantity, record_deliveries, reverse_delivery
from ..models import Delivery, DeliveryReversal
from ..accounts.schemas import deliveries as s
from ..accounts.schemas.common import RangeQuery
from ..auth.scopes import DELIVERY, PERSON
from ..clock import add_months, month_end

blp = ExactBlueprint("deliveries", __name__, url_prefix="/api/v1", description="Hours of support and the bank")


def delivery_json(row, reversal: DeliveryReversal | None = None) -> dict:
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    out = {k: get(k) for k in ("id", "person_id", "date", "start_time", "service", "unit", "status",
                               "notice_given_at", "domain", "rate", "charge_pence", "transaction_id", "lapses_on",
                               "external_id")}
    out["quantity"] = quantity(get("quantity_hundredths"))
    out["reversed"] = reversal is not None
    out["reversal_transaction_id"] = reversal.transaction_id if reversal is not None else None
    return out


@blp.route("/people/<int:person_id>/deliveries")
class Deliveries(MethodView):
    @guard(PERSON)
    @blp.arguments(s.DeliveryQuery, location="query")
    @blp.response(200, s.DeliveryOut(many=True))
    def get(self, args, person_id):
        """The person's deliveries by date, optionally between two dates (both included), of one status or service."""
        q = (sa.select(Delivery, DeliveryReversal).outerjoin(DeliveryReversal, DeliveryReversal.delivery_id == Delivery.id)
             .where(Delivery.person_id == person_id).order_by(Delivery.date, Delivery.start_time, Delivery.id))
        for column, value, op in ((Delivery.date, args["from_"], "ge"), (Delivery.date, args["to"], "le"),
                                  (Delivery.status, args["status"], "eq"), (Delivery.service, args["service"], "eq")):
            if value is not None:
                q = q.where(getattr(column, f"__{op}__")(value))
        return [delivery_json(d, r) for d, r in db.session.execute(q)]

    @guard(PERSON)
    @blp.arguments(s.DeliveryIn)
    @write
    @blp.response(201, s.DeliveryOut)
    def post(self, args, person_id):
        """Record a session: charged (delivered, refused, unplanned, bank_used) or not (banked, provider_cancelled)."""
        rows = record_deliveries(db.session, person_id, [DeliveryIn(**args)], user_id=g.user.id)
        return delivery_json(rows[0])


@blp.route("/deliveries/<int:delivery_id>/reverse", methods=["POST"])
@guard(DELIVERY)
@blp.arguments(s.DeliveryReverseIn)
@write
@blp.response(201, s.DeliveryReversalOut)
def reverse(args, delivery_id):
    """Reverse a delivery, once, with a reason: its charge (if any) is reversed and its hours leave every figure."""
    delivery = g.delivery
    done = reverse_delivery(db.session, delivery, reason=args["reason"], day=args["date"], user_id=g.user.id)
    return {"delivery_id": delivery.id, "person_id": delivery.person_id, "date": done.date, "reason": done.reason,
            "transaction_id": done.transaction_id, "charge_pence": delivery.charge_pence,
            "quantity": quantity(delivery.quantity_hundredths)}


@blp.route("/people/<int:person_id>/hours")
@guard(PERSON)
@blp.arguments(RangeQuery, location="query")
@blp.response(200, s.HoursOut)
def hours(args, person_id):
    """Hours against the plan by month and by ISO week (default: the twelve months to this one's end)."""
    end = args["to"] or month_end(clock.today())
    start = args["from_"] or add_months(end.replace(day=1), -11)
    if (end - start) > timedelta(days=3660):
        raise Invalid("from", "at most ten years at a time")
    figures = hours_by_period(db.session, [person_id], start, end)[person_id]
    as_quantities = {kind: [{k: (v if k in ("month", "week") else quantity(v)) for k, v in row.items()}
                            for row in rows] for kind, rows in figures.items()}
    return {"person_id": person_id, "from_": start, "to": end, **as_quantities}
