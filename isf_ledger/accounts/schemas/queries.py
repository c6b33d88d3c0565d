"""Queries from the person and their answers."""
from __future__ import annotations

from datetime import datetime

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ...fields import Text as TextField
from ...auth.users import MAX_BIG_ID
from ..queries import ITEMS
from .common import Text

MONTH = validate.Regexp(r"^[0-9]{4}-(0[1-9]|1[0-2])$", error="give the month as YYYY-MM, e.g. 2026-10")


class Month(TextField):
    """A month as YYYY-MM in, its first day inside."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.metadata.setdefault("pattern", MONTH.regex.pattern)
        self.metadata.setdefault("example", "2026-10")

    def _serialize(self, value, attr, obj, **kw):
        return None if value is None else value.strftime("%Y-%m")

    def _deserialize(self, value, attr, data, **kw):
        text = super()._deserialize(value, attr, data, **kw)
        MONTH(text)
        try:
            return datetime.strptime(text, "%Y-%m").date()
        except ValueError:  # the pattern's shape but no calendar month, e.g. 0000-01
            raise ValidationError("give the month as YYYY-MM, e.g. 2026-10") from None


class ItemId(fields.Integer):
    """An item's id: a JSON whole number, or its ASCII digits as a web form sends them; never
    true/false or a fraction."""

    def __init__(self, **kw):
        super().__init__(strict=True, allow_none=True, load_default=None, validate=validate.Range(1, MAX_BIG_ID), **kw)

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
            value = int(value)
        return super()._deserialize(value, attr, data, **kw)


Id = ItemId


class QueryIn(Schema):
    message = Text(2000, required=True, metadata={"description": "the question, in the person's words"})
    transaction_id = Id(metadata={"description": "a transaction of this person's fund the query is about"})
    spend_id = Id(metadata={"description": "a spend of this person's fund"})
    delivery_id = Id(metadata={"description": "a delivery (a session of support) of this person's"})
    statement_month = Month(allow_none=True, load_default=None,
                            metadata={"description": "a month whose statement was issued to this person"})

    @validates_schema
    def _one_item(self, data, **_):
        given = [k for k in ITEMS if data.get(k) is not None]
        if len(given) > 1:
            raise ValidationError({k: ["give at most one of " + ", ".join(ITEMS)] for k in given})


class AnswerIn(Schema):
    message = Text(2000, required=True)


class Who(Schema):
    name = fields.String()
    role = fields.String()


class AnswerOut(Schema):
    id = fields.Integer()
    message = fields.String()
    answered_by = fields.Nested(Who)
    answered_at = fields.String(metadata={"format": "date-time"})


class QueryOut(Schema):
    id = fields.Integer()
    person_id = fields.Integer()
    message = fields.String()
    transaction_id = fields.Integer(allow_none=True)
    spend_id = fields.Integer(allow_none=True)
    delivery_id = fields.Integer(allow_none=True)
    statement_month = fields.String(allow_none=True, metadata={"pattern": MONTH.regex.pattern})
    status = fields.String(metadata={"description": "open, or answered once it has an answer"})
    raised_by = fields.Nested(Who)
    raised_at = fields.String(metadata={"format": "date-time"})
    answer_due_by = fields.String(metadata={"format": "date", "description": "the 10th working day after it was raised"})
    answers = fields.List(fields.Nested(AnswerOut))
