"""Client money against the sum of funds."""
from __future__ import annotations

from marshmallow import Schema, fields

from ...fields import Money


class ReconciliationOut(Schema):
    as_of = fields.Date(allow_none=True)
    funds_total = Money(minimum=None)
    client_money_held = Money(minimum=None)
    difference = Money(minimum=None)
    funds_overdrawn = Money(minimum=None)
    reconciles = fields.Boolean()
