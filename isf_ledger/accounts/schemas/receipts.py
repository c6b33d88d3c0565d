"""Receipts and the fee they bear."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ...fields import Day, Exact, Flag, Money, Text as TextField
from ..receipts import SOURCES


class ReceiptIn(Schema):
    date = Day(required=True)
    amount = Money(required=True, positive=True, attribute="amount_pence")
    source = TextField(required=True, validate=validate.OneOf(SOURCES))
    reference = TextField(validate=validate.Length(max=200), allow_none=True, load_default=None)
    fee_exempt = Flag(load_default=False)


class ReceiptOut(Schema):
    id = fields.Integer()
    person_id = fields.Integer()
    date = fields.Date()
    amount = Money(attribute="amount_pence")
    source = TextField()
    reference = TextField(allow_none=True)
    fee_exempt = fields.Boolean()
    fee_rate = Exact()
    fee = Money(attribute="fee_pence")
    transaction_id = fields.Integer()
    fee_transaction_id = fields.Integer(allow_none=True)
    reversed_by_transaction_id = fields.Integer(allow_none=True)
