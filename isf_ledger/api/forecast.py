"""The year ahead over the API: `GET /api/v1/people/{id}/forecast` (the figures: forecast.py)."""
from __future__ import annotations

from marshmallow import Schema, fields

from .. import clock
from ..auth.scopes import PERSON_ROW
from ..accounts.schemas.common import AsOfQuery
from ..api_base import ExactBlueprint
from ..db import db
from ..errors import NotFound
from ..auth.users import guard
from ..reports.forecast import forecast

blp = ExactBlueprint("forecast", __name__, url_prefix="/api/v1", description="The year ahead")
MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "1800.00"}
SHARE = {"type": "string", "pattern": r"^\d+\.\d{4}$", "example": "0.4192"}
PACES = ("on_track", "spending_fast", "building_up")


def _money(**kw):
    return fields.String(metadata={**MONEY, **kw.pop("metadata", {})}, **kw)


class _Figures(Schema):
    budget = _money(metadata={"description": "the plan's annual budget (a line: its annual amount)"})
    used = _money(metadata={"description": "used in the plan year: fee, support, shared support and spend, "
                                           "net of reversals (a line: its domain's, without the fee)"})
    left = _money()
    elapsed_share = fields.String(metadata={**SHARE, "description": "of the year gone, as_of included"})
    used_share = fields.String(allow_none=True, metadata={**SHARE, "description": "used / budget"})
    pace = fields.String(allow_none=True, metadata={"enum": list(PACES)})
    projected_end_balance = _money(metadata={"description": "left at the year's end at the last three whole "
                                                            "months' rate, one-off spend left out"})
    planned_end_balance = _money(metadata={"description": "left at the year's end at the plan's hours and rates"})
    runs_out_on = fields.String(allow_none=True, metadata={"format": "date"})
    weekly_allowance = fields.String(allow_none=True, metadata={**MONEY, "description": "left / weeks left"})


class ForecastLineOut(_Figures):
    domain = fields.String()
    outcome = fields.String()


class ForecastYearOut(Schema):
    start = fields.String(metadata={"format": "date"})
    end = fields.String(metadata={"format": "date"})


class ForecastOut(_Figures):
    person_id = fields.Integer()
    as_of = fields.String(metadata={"format": "date"})
    plan_year = fields.Nested(ForecastYearOut)
    rate_from = fields.String(metadata={"format": "date", "description": "the recent rate's first day"})
    rate_to = fields.String(metadata={"format": "date", "description": "the recent rate's last day"})
    lines = fields.List(fields.Nested(ForecastLineOut))


@blp.route("/people/<int:person_id>/forecast")
@guard(PERSON_ROW)
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, ForecastOut)
def get_forecast(args, person_id):
    """The plan year in force on `as_of` (default today): its pace and projections, in all and
    per budget line. 404 when no plan is in force that day."""
    as_of = args["as_of"] or clock.today()
    found = forecast(db.session, person_id, as_of)
    if found is None:
        raise NotFound(f"person {person_id} has no plan in force on {as_of.isoformat()}")
    return found
