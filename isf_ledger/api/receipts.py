"""Money paid into a fund, each receipt bearing the management fee."""
from __future__ import annotations

import sqlalchemy as sa
from flask import g
from flask.views import MethodView

from ..api_base import ExactBlueprint
from ..db import db
from ..idempotency import write
from ..auth.users import guard
from ..models import Receipt, Transaction
from ..accounts.receipts import record_receipt
from ..accounts.schemas import receipts as s
from ..auth.scopes import PERSON

blp = ExactBlueprint("receipts", __name__, url_prefix="/api/v1", description="Receipts and the fee")


def receipt_json(receipt: Receipt) -> dict:
    out = {c: getattr(receipt, c) for c in ("id", "person_id", "date", "amount_pence", "source", "reference",
                                            "fee_exempt", "fee_rate", "fee_pence", "transaction_id",
                                            "fee_transaction_id")}
    done = db.session.scalar(sa.select(Transaction.id).where(Transaction.reverses_id == receipt.transaction_id))
    out["reversed_by_transaction_id"] = done
    return out


@blp.route("/people/<int:person_id>/receipts")
class Receipts(MethodView):
    @guard(PERSON)
    @blp.response(200, s.ReceiptOut(many=True))
    def get(self, person_id):
        """Every receipt into the person's fund."""
        rows = db.session.scalars(sa.select(Receipt).where(Receipt.person_id == person_id)
                                  .order_by(Receipt.date, Receipt.id))
        return [receipt_json(r) for r in rows]

    @guard(PERSON)
    @blp.arguments(s.ReceiptIn)
    @write
    @blp.response(201, s.ReceiptOut)
    def post(self, args, person_id):
        """Pay money into the person's fund; the management fee is taken as its own transaction."""
        return receipt_json(record_receipt(db.session, person_id, user_id=g.user.id, **args))
