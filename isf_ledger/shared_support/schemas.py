"""Shared arrangements, members, reviews and the month's charges, as the API reads and writes them."""
from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..accounts.plans import DOMAINS
from ..accounts.schemas.common import Text
from ..fields import Day, Exact, Money
from .charges import METHODS

Weight = lambda **kw: Exact(places=4, positive=True, maximum=Decimal(100), **kw)  # noqa: E731
MAX_PLACES = 100


class CostIn(Schema):
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_PLACES))
    per_night = Money(positive=True, attribute="per_night_pence", load_default=None)
    weekly = Money(positive=True, attribute="weekly_pence", load_default=None)
    effective_from = Day(required=True)

    @validates_schema
    def _one_cost(self, data, **kw):
        if (data.get("per_night_pence") is None) == (data.get("weekly_pence") is None):
            raise ValidationError("give exactly one cost: per_night or weekly", "per_night")


class ArrangementIn(CostIn):
    name = Text(200, required=True)
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
    domain = fields.String(load_default="staying_safe", validate=validate.OneOf(DOMAINS))
    council = Text(200, load_default=None, allow_none=True, metadata={
        "description": "the council that funds the empty places where its rule voids_funded_by_council "
                       "is true; left out, the provider bears them"})


class VersionOut(Schema):
    id = fields.Integer()
    effective_from = fields.Date()
    capacity = fields.Integer()
    per_night = Money(attribute="per_night_pence", allow_none=True)
    weekly = Money(attribute="weekly_pence", allow_none=True)


class TermOut(Schema):
    effective_from = fields.Date()
    weight = Exact()
    to = fields.Date(attribute="ends_on", allow_none=True)
    agreed_on = fields.Date()
    recorded_by = fields.String()


class MemberOut(Schema):
    id = fields.Integer()
    person_id = fields.Integer()
    from_ = fields.Date(data_key="from", attribute="starts_on")
    to = fields.Date(attribute="ends_on", allow_none=True)
    weight = Exact(metadata={"description": "the weight agreed most recently"})
    agreed_on = fields.Date()
    recorded_by = fields.String()
    terms = fields.List(fields.Nested(TermOut), metadata={"description": "every review, oldest first"})


class ChargeLineOut(Schema):
    amount = Money(attribute="amount_pence", minimum=None)
    transaction_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class CorrectionsOut(Schema):
    corrections = fields.List(fields.Nested(ChargeLineOut), metadata={
        "description": "differences posted in months already charged"})
    transaction_ids = fields.List(fields.Integer())


class ArrangementOut(Schema):
    id = fields.Integer()
    name = fields.String()
    method = fields.String()
    domain = fields.String()
    council = fields.String(allow_none=True)
    account = fields.String(metadata={"description": "the arrangement's own account"})
    capacity = fields.Integer(metadata={"description": "places now"})
    per_night = Money(attribute="per_night_pence", allow_none=True)
    weekly = Money(attribute="weekly_pence", allow_none=True)
    effective_from = fields.Date()
    versions = fields.List(fields.Nested(VersionOut))
    members = fields.List(fields.Nested(MemberOut), metadata={
        "description": "the members you may see (a person: only themselves)"})


class VersionCreated(VersionOut, CorrectionsOut):
    pass


class MemberIn(Schema):
    person_id = fields.Integer(required=True, strict=True, validate=validate.Range(1, 2**31 - 1))
    weight = Weight(load_default=None)
    from_ = Day(data_key="from", required=True, attribute="starts_on")
    to = Day(load_default=None, allow_none=True, attribute="ends_on")
    agreed_on = Day(required=True)
    recorded_by = Text(200, required=True)

    @validates_schema
    def _in_order(self, data, **kw):
        if data.get("ends_on") and data.get("starts_on") and data["ends_on"] < data["starts_on"]:
            raise ValidationError("must be on or after `from`", "to")


class MemberCreated(MemberOut, CorrectionsOut):
    pass


class ReviewIn(Schema):
    effective_from = Day(required=True)
    weight = Weight(load_default=None)
    to = Day(load_default=None, allow_none=True, attribute="ends_on",
             metadata={"description": "the membership's last day (a leaving)"})
    agreed_on = Day(required=True)
    recorded_by = Text(200, required=True)


class ReviewCreated(TermOut, CorrectionsOut):
    membership_id = fields.Integer()


class WorkingOut(Schema):
    days = fields.Integer()
    weight = Exact(allow_none=True)
    weight_days = Exact(places=4)
    total_weight_days = Exact(places=4)
    places = fields.Integer()
    cost = Money(attribute="cost_pence")


class ShareOut(Schema):
    person_id = fields.Integer()
    name = fields.String()
    share = Money(minimum=None, attribute="share_pence")
    working = fields.Nested(WorkingOut)
    lines = fields.List(fields.Nested(ChargeLineOut))


class EmptyPlacesOut(Schema):
    days = fields.Integer(metadata={"description": "days with at least one place empty"})
    place_days = Exact(places=4)
    share = Money(minimum=None, attribute="share_pence")
    funded_by = fields.String(metadata={"description": "provider, or council"})
    council = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(ChargeLineOut))


class OthersOut(Schema):
    members = fields.Integer()
    share = Money(minimum=None, attribute="share_pence")


class MonthOut(Schema):
    arrangement_id = fields.Integer()
    name = fields.String()
    month = fields.String()
    method = fields.String()
    domain = fields.String()
    cost = Money(attribute="cost_pence")
    cost_working = fields.String()
    nights = fields.Integer()
    places = fields.Integer()
    total_weight_days = Exact(places=4)
    shares = fields.List(fields.Nested(ShareOut))
    other_members = fields.Nested(OthersOut, allow_none=True, metadata={
        "description": "members whose shares you may not see, together"})
    empty_places = fields.Nested(EmptyPlacesOut, allow_none=True)
    total = Money(attribute="total_pence", metadata={"description": "shares and the empty places together: always the cost"})
    sums_to_cost = fields.Boolean()
    run_id = fields.Integer()
    charged_at = fields.DateTime()
    transaction_ids = fields.List(fields.Integer(), metadata={"description": "what the run and any reviews posted"})


class FormatQuery(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "xlsx")))
