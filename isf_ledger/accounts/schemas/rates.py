"""The rate card."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ...fields import Day, Exact, Text as TextField
from ..rates import UNITS
from .common import Name, UnitRate


class RateIn(Schema):
    service = TextField(required=True, validate=Name)
    unit = TextField(required=True, validate=validate.OneOf(UNITS))
    rate = UnitRate(required=True)
    effective_from = Day(required=True)


class RateOut(RateIn):
    id = fields.Integer()
    rate = Exact()
    effective_from = fields.Date()
