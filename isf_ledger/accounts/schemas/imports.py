"""Rostering imports."""
from __future__ import annotations

from marshmallow import Schema, fields

from ...fields import Money

# The rostering file's columns, in order (accounts/imports.py reads them).
COLUMNS = ("person", "date", "start_time", "service", "quantity", "status", "notice_given_at", "domain")
OPTIONAL = ("external_id",)


class ImportOut(Schema):
    import_id = fields.Integer()
    rows = fields.Integer(metadata={"description": "rows in the file, not counting the header and empty rows"})
    written = fields.Integer(metadata={"description": "deliveries written"})
    skipped = fields.Integer(metadata={"description": "visits already imported (by external_id), or every "
                                                      "row of a file already imported"})
    people = fields.Integer(metadata={"description": "funds written to"})
    charged = Money(metadata={"description": "the charges posted, in total"})
    already_imported = fields.Boolean()


# Documents the upload's body; the view reads it itself, so that every refusal names `file`.
IMPORT_FILE_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "CSV (UTF-8) or XLSX with a header row: " + ", ".join(COLUMNS)
                                           + ", optional " + ", ".join(OPTIONAL)}}}}}}
