"""Deliveries of support, their reversal, and hours against the plan."""
from __future__ import annotations

import re
from datetime import datetime, time
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate

from ...clock import UK
from ...fields import EARLIEST, LATEST, Day, Exact, Money, Text as TextField
from ..hours import STATUSES
from ..plans import DOMAINS
from .common import Name, RangeQuery
from .transactions import ReverseIn as DeliveryReverseIn  # noqa: F401 - a delivery is reversed as a transaction is

Quantity = lambda **kw: Exact(places=2, maximum=Decimal(744), **kw)  # noqa: E731 - a month of hours at most


class StartTime(fields.Field):
    """A time of day, HH:MM (24-hour clock), UK local time."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.metadata.setdefault("type", "string")
        self.metadata.setdefault("pattern", r"^([01]\d|2[0-3]):[0-5]\d$")
        self.metadata.setdefault("example", "10:00")

    def _serialize(self, value, attr, obj, **kw):
        return None if value is None else value.strftime("%H:%M")

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, str) or not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value):
            raise ValidationError("not a time of day: use HH:MM, e.g. 09:30")
        return time(int(value[:2]), int(value[3:]))


class LondonDateTime(fields.Field):
    """An ISO date-time; without a zone it is UK local time (Europe/London). Loaded zone-aware."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.metadata.setdefault("type", "string")
        self.metadata.setdefault("format", "date-time")
        self.metadata.setdefault("example", "2026-10-15T09:00:00")

    def _serialize(self, value, attr, obj, **kw):
        return None if value is None else value.astimezone(UK).isoformat()

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, str) or len(value) > 40:
            raise ValidationError("not a date-time: use YYYY-MM-DDTHH:MM[:SS][+HH:MM]")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as e:
            raise ValidationError("not a date-time: use YYYY-MM-DDTHH:MM[:SS][+HH:MM]") from e
        if not (EARLIEST <= moment.date() <= LATEST):
            raise ValidationError(f"must be between {EARLIEST} and {LATEST}")
        return moment.replace(tzinfo=UK) if moment.tzinfo is None else moment


class DeliveryIn(Schema):
    date = Day(required=True)
    start_time = StartTime(required=True)
    service = TextField(required=True, validate=Name)
    quantity = Quantity(required=True, positive=True)
    status = TextField(required=True, validate=validate.OneOf(STATUSES))
    notice_given_at = LondonDateTime(allow_none=True, load_default=None)
    domain = TextField(required=True, validate=validate.OneOf(DOMAINS))


class DeliveryOut(Schema):
    id = fields.Integer()
    person_id = fields.Integer()
    date = fields.Date()
    start_time = StartTime()
    service = fields.String()
    unit = fields.String()
    quantity = Exact()
    status = fields.String()
    notice_given_at = LondonDateTime(allow_none=True)
    domain = fields.String()
    rate = Exact()
    charge = Money(attribute="charge_pence")
    transaction_id = fields.Integer(allow_none=True)
    lapses_on = fields.Date(allow_none=True, metadata={"description": "banked hours: the day they lapse"})
    external_id = fields.String(allow_none=True, metadata={"description": "imported: the rostering system's visit id"})
    reversed = fields.Boolean()
    reversal_transaction_id = fields.Integer(allow_none=True)


class DeliveryQuery(RangeQuery):
    status = TextField(validate=validate.OneOf(STATUSES), load_default=None)
    service = TextField(validate=Name, load_default=None)


class DeliveryReversalOut(Schema):
    delivery_id = fields.Integer()
    person_id = fields.Integer()
    date = fields.Date()
    reason = fields.String()
    transaction_id = fields.Integer(allow_none=True, metadata={"description": "the charge's reversal, if it had one"})
    charge_reversed = Money(attribute="charge_pence")
    quantity = Exact()


def _period(label: str):
    return type(f"{label.title()}Hours", (Schema,), {
        label: fields.String(), **{k: Exact() for k in ("planned", *STATUSES, "bank_balance")},
        "used": Exact(metadata={"description": "hours used: delivered and used from the bank"})})


class HoursOut(Schema):
    person_id = fields.Integer()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    months = fields.List(fields.Nested(_period("month")))
    weeks = fields.List(fields.Nested(_period("week")))
