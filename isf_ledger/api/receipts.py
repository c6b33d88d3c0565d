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
from ..accounts.receipts import receipts_of, record_receipt
from ..accounts.schemas import receipts as s
from ..auth.scopes import PERSON

blp = ExactBlueprint("receipts", __name__, url_prefix="/api/v1", description="Receipts and the fee")


_READ = object()  # receipt_json's `reversed_by` not given: read it


def receipt_json(receipt: Receipt, reversed_by=_READ) -> dict:
    """The receipt; `reversed_by` is the transaction that reversed it (receipts_of reads it for
    a list), else read here for one receipt."""
    out = {c: getattr(receipt, c) for c in ("id", "person_id", "date", "amount_pence", "source", "reference",
                                            "fee_exempt", "fee_rate", "fee_pence", "transaction_id",
                                            "fee_transaction_id")}
    if reversed_by is _READ:
        reversed_by = db.session.scalar(sa.select(Transaction.id).where(Transaction.reverses_id == receipt.transaction_id))
    out["reversed_by_transaction_id"] = reversed_by
    return out


@blp.route("/people/<int:person_id>/receipts")
class Receipts(MethodView):
    @guard(PERSON)
    @blp.response(200, s.ReceiptOut(many=True))
    def get(self, person_id):
        """Every receipt into the person's fund (one query however many)."""
        return [receipt_json(r, reversed_by) for r, reversed_by in receipts_of(db.session, person_id)]

    @guard(PERSON)
    @blp.arguments(s.ReceiptIn)
    @write
    @blp.response(201, s.ReceiptOut)
    def post(self, args, person_id):
        """Pay money into the person's fund; the management fee is taken as its own transaction."""
        return receipt_json(record_receipt(db.session, person_id, user_id=g.user.id, **args))
