"""Field shapes shared by the accounts API's schemas, and the query strings every list takes."""
from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, validate, validates_schema

from ...fields import Day, Exact, Text as TextField
from ..plans import MAX_FEE_RATE
from ..rates import MAX_RATE

Text = lambda n, **kw: TextField(validate=validate.Length(min=1, max=n), **kw)  # noqa: E731
Name = validate.Regexp(r"^[a-z][a-z0-9_]{0,59}$", error="use lower-case letters, digits and _ (e.g. day_support)")
Hours = lambda **kw: Exact(places=2, maximum=Decimal(168), **kw)  # noqa: E731
FeeRate = lambda **kw: Exact(places=4, maximum=MAX_FEE_RATE, **kw)  # noqa: E731
# The larger of the bounds by unit; rates.check_rate applies the one for the service's unit.
UnitRate = lambda **kw: Exact(places=4, positive=True, maximum=max(MAX_RATE.values()), **kw)  # noqa: E731


class AsOfQuery(Schema):
    as_of = Day(load_default=None)


class RangeQuery(Schema):
    from_ = Day(data_key="from", load_default=None)
    to = Day(load_default=None)

    @validates_schema
    def _in_order(self, data, **kw):
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ValidationError("must be on or before `to`", "from")
