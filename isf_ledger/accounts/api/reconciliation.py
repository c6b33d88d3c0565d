"""Client money reconciliation, for finance."""
from __future__ import annotations

from ...api_base import ExactBlueprint
from ... import clock
from ...db import db
from ...users import guard
from ..reconciliation import reconcile
from ..schemas import reconciliation as s
from ..schemas.common import AsOfQuery

blp = ExactBlueprint("reconciliation", __name__, url_prefix="/api/v1", description="Client money")


@blp.route("/reconciliation")
@guard()
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, s.ReconciliationOut)
def reconciliation(args):
    """The sum of every fund against the client money held, to the penny, as at a date (default today)."""
    return reconcile(db.session, args["as_of"] or clock.today())
