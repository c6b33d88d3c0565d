"""The rate card."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ...fields import Day, Exact, Money, Text as TextField
from ..rates import UNITS
from .common import Name, UnitRate


class RateIn(Schema):
    service = TextField(required=True, validate=Name)
    unit = TextField(required=True, validate=validate.OneOf(UNITS))
    rate = UnitRate(required=True)
    effective_from = Day(required=True)


class AdjustmentOut(Schema):
    """A backdated rate's difference for one person: one transaction, a line per delivery it corrects."""

    person_id = fields.Integer()
    transaction_id = fields.Integer(allow_none=True)
    deliveries = fields.Integer()
    difference = Money(attribute="difference_pence", minimum=None)


class RateOut(RateIn):
    id = fields.Integer()
    rate = Exact()
    effective_from = fields.Date()
    adjustments = fields.List(fields.Nested(AdjustmentOut), metadata={
        "description": "on a new entry: the rate adjustments it posted for deliveries already charged"})
