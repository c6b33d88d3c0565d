"""Support plan versions, their budget lines, expected instalments and arrears."""
from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

from ...fields import Day, Exact, Flag, Money, Text as TextField
from ..plans import DOMAINS, PAYMENTS_A_YEAR
from .common import FeeRate, Hours, Name, Text, UnitRate
from .rates import AdjustmentOut

MAX_ITEMS = 50  # budget lines, services with planned hours, rate overrides: far more than any plan has


class BudgetLineSchema(Schema):
    domain = TextField(required=True, validate=validate.OneOf(DOMAINS))
    outcome = Text(500, required=True)
    annual_amount = Money(required=True, attribute="annual_amount_pence")


class PlanIn(Schema):
    effective_from = Day(required=True)
    effective_to = Day(allow_none=True, load_default=None)
    annual_budget = Money(required=True, attribute="annual_budget_pence")
    payment_cycle = TextField(validate=validate.OneOf(list(PAYMENTS_A_YEAR)), allow_none=True, load_default=None)
    management_fee_rate = FeeRate(load_default=Decimal("0.10"))
    contingency_amount = Money(load_default=0, attribute="contingency_amount_pence")
    weekly_client_contribution = Money(load_default=0, attribute="weekly_client_contribution_pence")
    planned_weekly_hours = fields.Dict(keys=TextField(validate=Name), values=Hours(), load_default=dict,
                                       validate=validate.Length(max=MAX_ITEMS))
    rate_overrides = fields.Dict(keys=TextField(validate=Name), values=UnitRate(), load_default=dict,
                                 validate=validate.Length(max=MAX_ITEMS))
    budget_lines = fields.List(fields.Nested(BudgetLineSchema), load_default=list, validate=validate.Length(max=MAX_ITEMS))
    surplus_threshold_weeks = fields.Integer(validate=validate.Range(0, 104), allow_none=True, load_default=None, strict=True)
    bank_expiry_days = fields.Integer(validate=validate.Range(1, 3650), allow_none=True, load_default=None, strict=True)
    surplus_notice_days = fields.Integer(validate=validate.Range(0, 365), allow_none=True, load_default=None, strict=True)
    contribution_spent_first = Flag(allow_none=True, load_default=None)
    surplus_alert_weeks = fields.Integer(validate=validate.Range(1, 104), allow_none=True, load_default=None,
                                         strict=True)


class PlanOut(Schema):
    id = fields.Integer()
    person_id = fields.Integer()
    version = fields.Integer()
    effective_from = fields.Date()
    effective_to = fields.Date(allow_none=True)
    annual_budget = Money(attribute="annual_budget_pence")
    payment_cycle = fields.Function(lambda p: p.payment_cycle or None, allow_none=True)
    management_fee_rate = Exact()
    contingency_amount = Money(attribute="contingency_amount_pence")
    weekly_client_contribution = Money(attribute="weekly_client_contribution_pence")
    planned_weekly_hours = fields.Dict(keys=fields.String(), values=fields.String())
    rate_overrides = fields.Dict(keys=fields.String(), values=fields.String())
    budget_lines = fields.List(fields.Nested(BudgetLineSchema))
    surplus_threshold_weeks = fields.Integer(allow_none=True)
    bank_expiry_days = fields.Integer(allow_none=True)
    surplus_notice_days = fields.Integer(allow_none=True)
    contribution_spent_first = fields.Boolean(allow_none=True)
    surplus_alert_weeks = fields.Integer(allow_none=True)
    adjustments = fields.List(fields.Nested(AdjustmentOut), metadata={
        "description": "on a new version: rate adjustments its rate_overrides posted for deliveries already charged"})


class InstalmentOut(Schema):
    due = fields.Date()
    plan_id = fields.Integer()
    council = Money(attribute="council_pence")
    person = Money(attribute="person_pence")


class ArrearsPart(Schema):
    due = Money()
    received = Money()
    arrears = Money()


class ArrearsOut(Schema):
    person_id = fields.Integer()
    as_of = fields.Date()
    council = fields.Nested(ArrearsPart)
    person = fields.Nested(ArrearsPart)
