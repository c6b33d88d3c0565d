"""Rostering imports: a file of deliveries (CSV or XLSX) applied whole, or a 422 listing every bad row."""
from __future__ import annotations

from flask import current_app, g, request

from ...api_base import ExactBlueprint
from ...db import db
from ...errors import Invalid
from ...idempotency import write
from ...users import guard
from ..imports import import_deliveries
from ..schemas import imports as s

blp = ExactBlueprint("imports", __name__, url_prefix="/api/v1", description="Rostering imports")


@blp.route("/imports/deliveries", methods=["POST"])
@guard()
@blp.doc(requestBody=s.IMPORT_FILE_BODY)
@write
@blp.response(201, s.ImportOut)
@blp.alt_response(200, schema=s.ImportOut, description="the same file was already imported: nothing written")
def import_file(**_):
    """Import deliveries from the rostering system (multipart/form-data, field `file`: CSV or XLSX).
    All or nothing: any bad row and nothing is written, and the 422's `details.errors` lists every
    one as {row, column, reason}. Visits already imported (by `external_id`) are skipped; the same
    file again writes nothing."""
    upload = request.files.get("file")
    if upload is None:
        raise Invalid("file", "send the file as multipart/form-data in a field named file")
    result = import_deliveries(db.session, upload.stream.read(), filename=upload.filename or "", user_id=g.user.id,
                               notice_hours=current_app.config["BANKING_NOTICE_HOURS"])
    return result, 200 if result["already_imported"] else 201
