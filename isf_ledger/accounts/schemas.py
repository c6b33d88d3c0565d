"""The JSON shapes of the accounts API (domain.md's contract)."""
from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

from ..fields import Day, Exact, Flag, Money, Text as TextField
from .plans import DOMAINS, PAYMENTS_A_YEAR
from .rates import UNITS
from .receipts import SOURCES

Text = lambda n, **kw: TextField(validate=validate.Length(min=1, max=n), **kw)  # noqa: E731
Name = validate.Regexp(r"^[a-z][a-z0-9_]{0,59}$", error="use lower-case letters, digits and _ (e.g. day_support)")
Hours = lambda **kw: Exact(places=2, maximum=Decimal(168), **kw)  # noqa: E731
FeeRate = lambda **kw: Exact(places=4, maximum=Decimal(1), **kw)  # noqa: E731
UnitRate = lambda **kw: Exact(places=4, positive=True, maximum=Decimal(100000), **kw)  # noqa: E731


class PersonIn(Schema):
    name = Text(200, required=True)
    council = Text(200, required=True)
    council_reference = TextField(validate=validate.Length(max=100), allow_none=True, load_default=None)


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
    planned_weekly_hours = fields.Dict(keys=TextField(validate=Name), values=Hours(), load_default=dict)
    rate_overrides = fields.Dict(keys=TextField(validate=Name), values=UnitRate(), load_default=dict)
    budget_lines = fields.List(fields.Nested(BudgetLineSchema), load_default=list)
    surplus_threshold_weeks = fields.Integer(validate=validate.Range(0, 104), allow_none=True, load_default=None, strict=True)
    bank_expiry_days = fields.Integer(validate=validate.Range(1, 3650), allow_none=True, load_default=None, strict=True)
    surplus_notice_days = fields.Integer(validate=validate.Range(0, 365), allow_none=True, load_default=None, strict=True)
    contribution_spent_first = Flag(allow_none=True, load_default=None)


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


class RateIn(Schema):
    service = TextField(required=True, validate=Name)
    unit = TextField(required=True, validate=validate.OneOf(UNITS))
    rate = UnitRate(required=True)
    effective_from = Day(required=True)


class RateOut(RateIn):
    id = fields.Integer()
    rate = Exact()
    effective_from = fields.Date()


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


class ReverseIn(Schema):
    reason = Text(500, required=True)
    date = Day(load_default=None, allow_none=True)


class ReversalOut(Schema):
    transaction_id = fields.Integer()
    reverses_transaction_id = fields.Integer()
    fee_reversal_transaction_id = fields.Integer(allow_none=True)
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
    reversed_by = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    postings = fields.List(fields.Nested(PostingOut))


class AsOfQuery(Schema):
    as_of = Day(load_default=None)


class RangeQuery(Schema):
    from_ = Day(data_key="from", load_default=None)
    to = Day(load_default=None)


class BalanceOut(Schema):
    person_id = fields.Integer()
    as_of = fields.Date()
    available = Money(minimum=None)
    contingency = Money(minimum=None)
    bank_hours = fields.String()
    bank_value = Money()


class ArrearsPart(Schema):
    due = Money()
    received = Money()
    arrears = Money()


class ArrearsOut(Schema):
    person_id = fields.Integer()
    as_of = fields.Date()
    council = fields.Nested(ArrearsPart)
    person = fields.Nested(ArrearsPart)


class InstalmentOut(Schema):
    due = fields.Date()
    plan_id = fields.Integer()
    council = Money(attribute="council_pence")
    person = Money(attribute="person_pence")


class ReconciliationOut(Schema):
    as_of = fields.Date(allow_none=True)
    funds_total = Money(minimum=None)
    client_money_held = Money(minimum=None)
    difference = Money(minimum=None)
    funds_overdrawn = Money(minimum=None)
    reconciles = fields.Boolean()

