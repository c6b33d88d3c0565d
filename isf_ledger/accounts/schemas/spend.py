"""Spend on the person's behalf and its receipt file."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ...fields import Day, Flag, Money, Text as TextField
from ..plans import DOMAINS
from ..spend import SUGGESTED_CATEGORIES
from .common import RangeQuery, Text

CATEGORY_DOC = ("free text, stored as lower-case words joined by _; for example "
                + ", ".join(SUGGESTED_CATEGORIES))


class SpendIn(Schema):
    date = Day(required=True)
    amount = Money(required=True, positive=True, attribute="amount_pence")
    payee = Text(200, required=True, metadata={"description": "who was paid (never the provider itself)"})
    category = Text(60, required=True, metadata={"description": CATEGORY_DOC})
    domain = TextField(required=True, validate=validate.OneOf(DOMAINS))
    description = Text(500, required=True)
    invoice_reference = Text(100, allow_none=True, load_default=None, metadata={
        "description": "the payee's invoice number: one payee's invoice is paid once"})
    one_off = Flag(load_default=False, metadata={
        "description": "spend that will not recur (a holiday, equipment): left out of the forecast's recent rate"})


class SpendQuery(RangeQuery):
    domain = TextField(load_default=None, validate=validate.OneOf(DOMAINS))
    category = Text(60, load_default=None)


class ReceiptFileOut(Schema):
    sha256 = fields.String()
    size = fields.Integer(attribute="size_bytes", metadata={"description": "bytes"})
    media_type = fields.String(metadata={"description": "from the content, not the name"})
    name = fields.String(attribute="original_name")
    url = fields.String()


class SpendOut(Schema):
    id = fields.Integer()
    person_id = fields.Integer()
    date = fields.Date()
    amount = Money(attribute="amount_pence")
    payee = fields.String()
    category = fields.String()
    domain = fields.String()
    description = fields.String()
    invoice_reference = fields.String(allow_none=True)
    kind = fields.String(metadata={"description": "invoice (a third party's invoice) or flexible"})
    one_off = fields.Boolean()
    transaction_id = fields.Integer()
    reversed_by_transaction_id = fields.Integer(allow_none=True)
    receipt_file = fields.Nested(ReceiptFileOut, allow_none=True)


# Documents the upload's body; the view reads it itself, so that every refusal names `file`.
RECEIPT_FILE_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "an image (JPEG, PNG, GIF, WebP, HEIC) or a PDF, at most 10 MB; "
                                           "its type is read from its content, not its name"}}}}}}
