"""Client money against the sum of funds."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ...fields import Day, Money


class ReconciliationOut(Schema):
    as_of = fields.Date(allow_none=True)
    funds_total = Money(minimum=None)
    client_money_held = Money(minimum=None)
    difference = Money(minimum=None)
    funds_overdrawn = Money(minimum=None)
    reconciles = fields.Boolean()
    bank_balance = Money(minimum=None, allow_none=True,
                         metadata={"description": "the last statement's balance on or before as_of"})
    bank_date = fields.Date(allow_none=True)
    outstanding_receipts = Money(minimum=None, allow_none=True)
    outstanding_payments = Money(minimum=None, allow_none=True)
    unmatched_bank_lines = fields.Integer(allow_none=True)
    unmatched_bank_total = Money(minimum=None, allow_none=True)
    bank_difference = Money(minimum=None, allow_none=True, metadata={
        "description": "bank balance + outstanding receipts - outstanding payments - client money held; a "
                       "movement an unmatched line plainly is (its reference, or the only one within 4 days and "
                       "1% of it) is on the bank, not outstanding, so only what they differ by counts"})


class CompleteIn(Schema):
    as_of = Day(required=True)


class CompletedOut(Schema):
    id = fields.Integer()
    as_of = fields.Date()
    bank_balance = Money(minimum=None)
    client_money_held = Money(minimum=None)
    completed_by = fields.Integer(allow_none=True)
    completed_at = fields.DateTime()


class ReportQuery(Schema):
    as_of = Day(load_default=None)
    format = fields.String(load_default="pdf", validate=validate.OneOf(("pdf", "xlsx")))
