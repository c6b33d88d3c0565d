"""Client money reconciliation, for finance."""
from __future__ import annotations

from flask import g

from ..api_base import ExactBlueprint
from .. import clock
from ..db import db
from ..idempotency import write
from ..auth.users import guard
from ..accounts.reconciliation import complete, reconcile
from ..accounts.schemas import reconciliation as s
from ..accounts.schemas.common import AsOfQuery

blp = ExactBlueprint("reconciliation", __name__, url_prefix="/api/v1", description="Client money")


@blp.route("/reconciliation")
@guard()
@blp.arguments(AsOfQuery, location="query")
@blp.response(200, s.ReconciliationOut)
def reconciliation(args):
    """The sum of every fund against the client money held, to the penny, as at a date (default today)."""
    return reconcile(db.session, args["as_of"] or clock.today())


@blp.route("/reconciliation/complete", methods=["POST"])
@guard()
@blp.arguments(s.CompleteIn)
@write
@blp.response(201, s.CompletedOut)
def complete_reconciliation(args):
    """Complete the reconciliation as at `as_of`: only when the bank, the ledger and the funds
    agree to 0.00; records who and when."""
    return complete(db.session, args["as_of"], g.user.id)
