"""Councils and their rule profiles."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ...fields import Flag, Text as TextField
from ..plans import PAYMENTS_A_YEAR
from .common import Text

RULE_FIELDS = {
    "surplus_threshold_weeks": lambda: fields.Integer(validate=validate.Range(0, 104), allow_none=True, strict=True),
    "payment_cycle": lambda: TextField(validate=validate.OneOf(list(PAYMENTS_A_YEAR)), allow_none=True),
    "bank_expiry_days": lambda: fields.Integer(validate=validate.Range(1, 3650), allow_none=True, strict=True),
    "surplus_notice_days": lambda: fields.Integer(validate=validate.Range(0, 365), allow_none=True, strict=True),
    "contribution_spent_first": lambda: Flag(allow_none=True),
    "voids_funded_by_council": lambda: Flag(allow_none=True),
}


class CouncilIn(Schema.from_dict({k: make() for k, make in RULE_FIELDS.items()})):
    name = Text(200, required=True)


class CouncilOut(Schema):
    id = fields.Integer()
    name = fields.String()
    rules = fields.Dict(metadata={"description": "each rule as set for the council (null: the provider's default)"})
    in_force = fields.Dict(metadata={"description": "each rule as it applies to the council's people without a plan value"})
