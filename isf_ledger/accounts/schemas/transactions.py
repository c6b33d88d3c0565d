"""Ledger lines, their postings, and reversals."""
from __future__ import annotations

from marshmallow import Schema, fields

from ...fields import Day, Money
from .common import Text


class ReverseIn(Schema):
    reason = Text(500, required=True)
    date = Day(load_default=None, allow_none=True)


class ReversalOut(Schema):
    transaction_id = fields.Integer()
    reverses_transaction_id = fields.Integer()
    fee_reversal_transaction_id = fields.Integer(allow_none=True)
    related_reversal_transaction_ids = fields.List(fields.Integer(), metadata={
        "description": "reversals of the transactions that belonged with this one (a receipt's fee)"})
    person_id = fields.Integer(allow_none=True)
    date = fields.Date()
    reason = fields.String()


class PostingOut(Schema):
    account = fields.String()
    amount = Money(minimum=None)


class TransactionOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    date = fields.Date()
    service_date = fields.Date()
    person_id = fields.Integer(allow_none=True)
    description = fields.String()
    reverses_id = fields.Integer(allow_none=True)
    follows_id = fields.Integer(allow_none=True, metadata={"description": "the transaction this one belongs with"})
    reversed_by = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    postings = fields.List(fields.Nested(PostingOut))
