"""Spend on the person's behalf, and its receipt file.

The receipt file is its own POST (multipart `file`) on the spend, not a part of the spend's
POST: the spend stays a plain JSON write (exact numbers, an Idempotency-Key hashed over its
JSON), the money moves whether or not the paper has arrived, and a broker can add the photo of
the receipt when they have it. Brokers and finance write; whoever may see the fund may read and
download (the person, an auditor of their council, finance, brokers).
"""
from __future__ import annotations

import io
from functools import wraps

from flask import current_app, g, request, send_file, url_for
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge

from ..api_base import ExactBlueprint
from ..db import db
from ..errors import Invalid, NotFound
from ..idempotency import write
from ..work import end_reads
from ..auth.users import MAX_ID, Scope, guard
from ..models import Person, ReceiptFile, Spend
from ..accounts.receipt_files import content_of
from ..accounts.receipt_files import MAX_BYTES, attach_receipt_file, download_name, read_upload
from ..accounts.schemas import spend as s
from ..accounts.spend import record_spend, spend_of
from ..auth.scopes import PERSON

blp = ExactBlueprint("spend", __name__, url_prefix="/api/v1", description="Spend on the person's behalf")


def _spend(spend_id: int):
    spend = db.session.get(Spend, spend_id) if spend_id <= MAX_ID else None
    return spend, db.session.get(Person, spend.person_id) if spend is not None else None


SPEND = Scope("spend_id", "spend", _spend)


def file_json(row: ReceiptFile | None) -> dict | None:
    if row is None:
        return None
    return {"sha256": row.sha256, "size_bytes": row.size_bytes, "media_type": row.media_type,
            "original_name": row.original_name, "url": url_for("spend.download_receipt_file", spend_id=row.spend_id)}


def spend_json(spend: Spend, reversed_by: int | None = None, receipt_file: ReceiptFile | None = None) -> dict:
    out = {c: getattr(spend, c) for c in ("id", "person_id", "date", "amount_pence", "payee", "category", "domain",
                                          "description", "invoice_reference", "one_off", "transaction_id")}
    out.update(kind="invoice" if spend.invoice_reference else "flexible", reversed_by_transaction_id=reversed_by,
               receipt_file=file_json(receipt_file))
    return out


@blp.route("/people/<int:person_id>/spend")
class PersonSpend(MethodView):
    @guard(PERSON)
    @blp.arguments(s.SpendQuery, location="query")
    @blp.response(200, s.SpendOut(many=True))
    def get(self, args, person_id):
        """The fund's spend by date, optionally between two dates (both included), by domain or category."""
        rows = spend_of(db.session, person_id, start=args["from_"], end=args["to"], domain=args["domain"],
                        category=args["category"])
        return [spend_json(*row) for row in rows]

    @guard(PERSON)
    @blp.arguments(s.SpendIn)
    @write
    @blp.response(201, s.SpendOut)
    def post(self, args, person_id):
        """Pay a third party from `available` (never beyond it); an invoice is paid once per payee."""
        return spend_json(record_spend(db.session, person_id, user_id=g.user.id, **args))


@blp.route("/spend/<int:spend_id>")
@guard(SPEND)
@blp.response(200, s.SpendOut)
def get_spend(spend_id):
    """One spend."""
    return spend_json(*spend_of(db.session, g.spend.person_id, spend_id=spend_id)[0])


def _file_too_large_names_file(view):
    """A body beyond the server's limit is refused while it is read (by the Idempotency-Key's hash
    or the form parser): say which field was too large, as for any other bad file."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except RequestEntityTooLarge:
            end_reads()
            raise Invalid("file", f"is larger than {MAX_BYTES // (1024 * 1024)} MB") from None

    wrapper._apidoc = getattr(view, "_apidoc", {})
    return wrapper


@blp.route("/spend/<int:spend_id>/receipt-file", methods=["POST"])
@guard(SPEND)
@blp.doc(requestBody=s.RECEIPT_FILE_BODY)
@_file_too_large_names_file
@write
@blp.response(201, s.ReceiptFileOut)
def upload_receipt_file(spend_id):
    """Attach the spend's receipt file (multipart/form-data, field `file`): an image or a PDF, at
    most 10 MB, its type read from its content. Once attached it is never replaced."""
    upload = request.files.get("file")
    if upload is None:
        raise Invalid("file", "send the receipt as multipart/form-data in a field named file")
    row, _ = attach_receipt_file(db.session, g.spend, read_upload(upload.stream), upload.filename, g.user.id)
    return file_json(row)


@blp.route("/spend/<int:spend_id>/receipt-file")
@guard(SPEND)
@blp.doc(responses={"200": {"description": "the file, as an attachment",
                            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
def download_receipt_file(spend_id):
    """Download the spend's receipt file."""
    return send_receipt_file(spend_id)


def send_receipt_file(spend_id: int):
    """The spend's receipt file as an attachment (the API and the pages send it); 404 if none."""
    row = db.session.query(ReceiptFile).filter_by(spend_id=spend_id).one_or_none()
    if row is None:
        raise NotFound(f"spend {spend_id} has no receipt file")
    data = content_of(db.session, row.sha256)
    if data is None:
        current_app.logger.error("receipt file %s of spend %s is not in the database", row.sha256, spend_id)
        raise NotFound(f"the receipt file of spend {spend_id} is missing from the file store; tell finance "
                       "(files kept in a folder by an older version: `isf-ledger receipt-files load FOLDER`)")
    return send_file(io.BytesIO(data), mimetype=row.media_type, as_attachment=True,
                     download_name=download_name(row), max_age=0)
