"""Councils and their rule profiles."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

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
    "surplus_alert_weeks": lambda: fields.Integer(validate=validate.Range(1, 104), allow_none=True, strict=True),
}


class CouncilIn(Schema.from_dict({k: make() for k, make in RULE_FIELDS.items()})):
    name = Text(200, required=True)


class CouncilOut(Schema):
    id = fields.Integer()
    name = fields.String()
    rules = fields.Dict(metadata={"description": "each rule as last set for the council, some perhaps from a later date (null: the provider's default)"})
    in_force = fields.Dict(metadata={"description": "each rule as it applies today (UK) to the council's people without a plan value"})


class CouncilPatch(Schema.from_dict({k: make() for k, make in RULE_FIELDS.items()})):
    effective_from = fields.Date(metadata={"description": "the day the new values apply from (default today)"})

    @validates_schema
    def _some_rule(self, data, **kw):
        if not set(data) & set(RULE_FIELDS):
            raise ValidationError("give at least one rule to change", "_schema")


class RuleChangeOut(Schema):
    id = fields.Integer()
    field = fields.String()
    old = fields.Raw(metadata={"description": "the value before (null: the provider's default)"})
    new = fields.Raw()
    effective_from = fields.String()
    changed_by = fields.Integer(allow_none=True)
    changed_at = fields.String()
