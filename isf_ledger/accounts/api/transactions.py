"""Ledger lines: one transaction, a fund's lines, and reversal (the only correction)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import g

from ...api_base import ExactBlueprint
from ...db import db
from ...idempotency import write
from ...users import ANYONE, FINANCE, guard
from ..ledger import reversal_of
from ..models import Account, Transaction
from ..reversals import reverse
from ..schemas import transactions as s
from ..schemas.common import RangeQuery
from .scopes import PERSON, TRANSACTION

blp = ExactBlueprint("transactions", __name__, url_prefix="/api/v1", description="Ledger lines and reversals")


def transaction_json(txn: Transaction) -> dict:
    codes = dict(db.session.execute(sa.select(Account.id, Account.code).where(
        Account.id.in_([p.account_id for p in txn.postings]))).all())
    done = reversal_of(db.session, txn)
    return {"id": txn.id, "kind": txn.kind, "date": txn.date, "service_date": txn.service_date,
            "person_id": txn.person_id, "description": txn.description, "reverses_id": txn.reverses_id,
            "follows_id": txn.follows_id,
            "reversed_by": done.id if done else None, "reason": txn.reason, "created_at": txn.created_at,
            "postings": [{"account": codes[p.account_id], "amount": p.amount_pence} for p in txn.postings]}


@blp.route("/transactions/<int:transaction_id>")
@guard(ANYONE, TRANSACTION)
@blp.response(200, s.TransactionOut)
def get_transaction(transaction_id):
    """One transaction with its postings."""
    return transaction_json(g.transaction)


@blp.route("/transactions/<int:transaction_id>/reverse", methods=["POST"])
@guard(FINANCE, TRANSACTION)
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
@guard(ANYONE, PERSON)
@blp.arguments(RangeQuery, location="query")
@blp.response(200, s.TransactionOut(many=True))
def person_transactions(args, person_id):
    """The fund's ledger lines, by accounting date, optionally between two dates (both included)."""
    q = sa.select(Transaction).where(Transaction.person_id == person_id)
    if args["from_"]:
        q = q.where(Transaction.date >= args["from_"])
    if args["to"]:
        q = q.where(Transaction.date <= args["to"])
    return [transaction_json(t) for t in db.session.scalars(q.order_by(Transaction.date, Transaction.id))]
