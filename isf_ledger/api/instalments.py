"""What the plan expects the council and the person to pay in, and what is owed."""
from __future__ import annotations

from flask import g

from ..api_base import ExactBlueprint
from .. import clock
from ..db import db
from ..auth.users import guard
from ..accounts.instalments import arrears, expected_instalments
from ..accounts.schemas import plans as s
from ..accounts.schemas.common import AsOfQuery, RangeQuery
from ..auth.scopes import PERSON
from ..clock import add_months

blp = ExactBlueprint("instalments", __name__, url_prefix="/api/v1", description="Instalments and arrears")


@blp.route("/people/<int:person_id>/arrears")
@guard(PERSON)
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, s.ArrearsOut)
def person_arrears(args, person_id):
    """What the council and the person were due to pay in by a date, what came, what is owed."""
    as_of = args["as_of"] or clock.today()
    return {"person_id": person_id, "as_of": as_of, **arrears(db.session, g.person, as_of)}


@blp.route("/people/<int:person_id>/instalments")
@guard(PERSON)
@blp.arguments(RangeQuery, location="query")
@blp.response(200, s.InstalmentOut(many=True))
def instalments(args, person_id):
    """The instalments the plan expects, due in advance, up to a date (default: a year from today)."""
    until = args["to"] or add_months(clock.today(), 12)
    rows = expected_instalments(db.session, g.person, until)
    return [i for i in rows if args["from_"] is None or i.due >= args["from_"]]
