"""Client money reconciliation, for finance."""
from __future__ import annotations

from flask import Response
from flask import g

from ..api_base import ExactBlueprint
from .. import clock
from ..db import db
from ..idempotency import write
from ..auth.users import guard
from ..accounts.reconciliation import report
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


@blp.route("/reconciliation/report")
@guard()
@blp.arguments(s.ReportQuery, location="query")
@blp.doc(responses={"200": {"description": "the reconciliation report (PDF or XLSX)", "content": {
    "application/pdf": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def reconciliation_report(args):
    """The reconciliation as at `as_of` (default today) as a report: the bank statement's
    balance, each outstanding receipt and payment, the unmatched bank lines, the difference, and
    who completed it and when; `?format=pdf` (a tagged PDF) or `xlsx`."""
    from ..reports.render_reconciliation import report_file

    as_of = args["as_of"] or clock.today()
    data, mimetype, name = report_file(report(db.session, as_of), as_of, args["format"])
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})
