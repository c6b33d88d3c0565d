"""Ledger lines: one transaction, a fund's lines, and reversal (the only correction)."""
from __future__ import annotations

from flask import g

from ..api_base import ExactBlueprint
from ..db import db
from ..idempotency import write
from ..auth.users import guard
from ..ledger.lines import ledger_lines
from ..ledger.reversals import reverse
from ..accounts.schemas import transactions as s
from ..accounts.schemas.common import RangeQuery
from ..auth.scopes import PERSON, TRANSACTION

blp = ExactBlueprint("transactions", __name__, url_prefix="/api/v1", description="Ledger lines and reversals")


@blp.route("/transactions/<int:transaction_id>")
@guard(TRANSACTION)
@blp.response(200, s.TransactionOut)
def get_transaction(transaction_id):
    """One transaction with its postings."""
    return ledger_lines(db.session, transaction_ids=[g.transaction.id])[0]


@blp.route("/transactions/<int:transaction_id>/reverse", methods=["POST"])
@guard(TRANSACTION)
@blp.arguments(s.ReverseIn)
@write
@blp.response(201, s.ReversalOut)
def reverse_transaction(args, transaction_id):
    """Reverse a transaction (a receipt together with its fee), once, with a reason."""
    done = reverse(db.session, g.transaction, reason=args["reason"], day=args["date"], user_id=g.user.id)
    return {"transaction_id": done[0].posted_id, "reverses_transaction_id": transaction_id,
            "fee_reversal_transaction_id": next((e.posted_id for e in done[1:] if e.kind_reversed == "fee"), None),
            "related_reversal_transaction_ids": [e.posted_id for e in done[1:]],
            "person_id": done[0].person_id, "date": done[0].posted_date, "reason": args["reason"]}


@blp.route("/people/<int:person_id>/transactions")
@guard(PERSON)
@blp.arguments(RangeQuery, location="query")
@blp.response(200, s.TransactionOut(many=True))
def person_transactions(args, person_id):
    """The fund's ledger lines, by accounting date, optionally between two dates (both included)."""
    return ledger_lines(db.session, person_id, start=args["from_"], end=args["to"])
