"""`GET /api/v1/audit-log`: the audit log for admins (auth/audit_log.py keeps it)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Response
from marshmallow import Schema, fields, validate

from ..api_base import ExactBlueprint
from ..auth.audit_log import AUDIT_COLUMNS, AuditEntry, anonymous_windows, cell, export_csv, rows
from ..auth.users import guard
from ..db import db

blp = ExactBlueprint("audit_log", __name__, url_prefix="/api/v1", description="The audit log (admins)")


class AuditQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 10**6))
    per_page = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


@blp.route("/audit-log")
@guard()
@blp.arguments(AuditQuery, location="query")
@blp.response(200)
def audit_log(args):
    """The audit log, oldest first, a page at a time; `?format=csv` the whole log."""
    if args["format"] == "csv":
        return Response(export_csv(db.session), mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'})
    total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    page, per = args["page"], args["per_page"]
    entries = [{c: cell(v) for c, v in zip(AUDIT_COLUMNS, row)}
               for row in rows(db.session, limit=per, offset=(page - 1) * per)]
    return {"total": total, "page": page, "per_page": per, "entries": entries,
            "anonymous_windows": anonymous_windows(db.session)}
