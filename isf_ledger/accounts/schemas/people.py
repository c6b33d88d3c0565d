"""People and their funds' positions."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from ...fields import Exact, Money, Text as TextField, has_control_characters
from ...fields import Day
from .common import Text


class PersonIn(Schema):
    name = Text(200, required=True)
    council = Text(200, required=True)
    council_reference = TextField(validate=validate.Length(max=100), allow_none=True, load_default=None)


def _no_control_characters(text: str) -> None:
    if has_control_characters(text):
        raise ValidationError("must not contain control characters (such as NUL, a tab or a line break)")


class PersonPatch(Schema):
    name = TextField(required=True, validate=[validate.Length(min=1, max=200), _no_control_characters],
                     metadata={"description": "the person's name as corrected: any Unicode letters, at most 200 characters"})


class NameChangeOut(Schema):
    id = fields.Integer()
    old_name = fields.String()
    new_name = fields.String()
    changed_by = fields.Integer(allow_none=True, metadata={"description": "the user who corrected it"})
    changed_by_name = fields.String(allow_none=True)
    changed_at = fields.String()


class NameHistoryOut(Schema):
    person_id = fields.Integer()
    name = fields.String()
    changes = fields.Nested(NameChangeOut, many=True)


class FundOut(Schema):
    id = fields.Integer()
    opened_on = fields.Date()
    closed_on = fields.Date(allow_none=True)
    available = Money()
    contingency = Money()


class PersonOut(Schema):
    id = fields.Integer()
    name = fields.String()
    council = fields.String()
    council_reference = TextField(allow_none=True)
    fund = fields.Nested(FundOut)


class BalanceOut(Schema):
    person_id = fields.Integer()
    as_of = fields.Date()
    available = Money(minimum=None)
    contingency = Money(minimum=None)
    bank_hours = Exact()
    bank_value = Money()


class PeopleQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000), strict=False)
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 500), strict=False)
    as_of = Day(load_default=None, metadata={"description": "balances as at this date (default today)"})
