"""Contingency set-asides and draws, and the fund's contingency at a date."""
from __future__ import annotations

from marshmallow import Schema, fields

from ...fields import Day, Money
from .common import Text


class SetAsideIn(Schema):
    date = Day(required=True)
    amount = Money(required=True, positive=True, attribute="amount_pence")


class DrawIn(SetAsideIn):
    reason = Text(500, required=True, metadata={"description": "the extra need the money meets"})
    authorised_by = Text(200, required=True, metadata={"description": "who agreed the draw"})


class MovementOut(Schema):
    id = fields.Integer()
    person_id = fields.Integer()
    kind = fields.String(metadata={"description": "set_aside or draw"})
    date = fields.Date()
    amount = Money(attribute="amount_pence")
    reason = fields.String(allow_none=True)
    authorised_by = fields.String(allow_none=True)
    transaction_id = fields.Integer()
    reversed_by_transaction_id = fields.Integer(allow_none=True)


class PlanYearOut(Schema):
    plan_year_start = fields.Date(allow_none=True)
    plan_year_end = fields.Date(allow_none=True)
    contingency_amount = Money(metadata={"description": "the plan's contingency for the year"})
    set_aside = Money(metadata={"description": "set aside in the plan year, reversals left out"})
    drawn = Money(metadata={"description": "drawn in the plan year, reversals left out"})
    remaining_to_set_aside = Money()
    held = Money(metadata={"description": "what the contingency holds at the date"})


class MovementWrittenOut(MovementOut):
    plan_year = fields.Nested(PlanYearOut)


class ContingencyOut(PlanYearOut):
    person_id = fields.Integer()
    as_of = fields.Date()
    movements = fields.List(fields.Nested(MovementOut))
