"""Rostering imports: a file of deliveries (CSV or XLSX) applied whole, or a 422 listing every bad row."""
from __future__ import annotations

from functools import wraps

from flask import g, request

from ..api_base import ExactBlueprint
from ..db import db
from ..errors import Invalid
from ..idempotency import write
from ..work import end_reads
from ..auth.users import guard
from ..accounts.imports import import_deliveries, read_file
from ..accounts.schemas import imports as s

blp = ExactBlueprint("imports", __name__, url_prefix="/api/v1", description="Rostering imports")


def read_first(view):
    """Read and check the upload after the caller's token and role, before any lock: the
    transaction that read the token ends first (on SQLite it holds the write lock), so a large
    or hostile file never keeps other writers or imports waiting, and a bad one is refused
    having held nothing."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("file", "send the file as multipart/form-data in a field named file")
        end_reads()
        g.delivery_file = file = read_file(upload.stream.read())
        upload.stream.seek(0)  # the idempotency key's hash reads it again
        if file.errors:  # refused: checked against the ledger too, reading only, and never written
            _import(file)
        return view(*args, **kwargs)

    return wrapper


def _import(file):
    return import_deliveries(db.session, file, filename=request.files["file"].filename or "", user_id=g.user.id)


@blp.route("/imports/deliveries", methods=["POST"])
@guard()
@blp.doc(requestBody=s.IMPORT_FILE_BODY)
@read_first
@write
@blp.response(201, s.ImportOut)
@blp.alt_response(200, schema=s.ImportOut, description="the same file was already imported: nothing written")
def import_file(**_):
    """Import deliveries from the rostering system (multipart/form-data, field `file`: CSV or XLSX).
    All or nothing: any bad row and nothing is written, and the 422's `details.errors` lists every
    one as {row, column, reason}. Visits already imported (by `external_id`) are skipped; the same
    file again writes nothing."""
    result = _import(g.delivery_file)
    return result, 200 if result["already_imported"] else 201
