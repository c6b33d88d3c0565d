"""The client bank account's statements."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ...fields import Day, Money
from ...auth.users import MAX_BIG_ID


class UploadOut(Schema):
    id = fields.Integer()
    format = fields.String()
    lines = fields.Integer(metadata={"description": "lines in the file"})
    skipped = fields.Integer(metadata={"description": "lines already imported"})
    matched = fields.Integer()
    unmatched = fields.Integer()
    closing_balance = Money(minimum=None, allow_none=True)
    closing_date = fields.Date(allow_none=True)


class LineOut(Schema):
    id = fields.Integer()
    line_no = fields.Integer()
    date = fields.Date()
    amount = Money(minimum=None)
    description = fields.String()
    reference = fields.String()
    account = fields.String()
    balance = Money(minimum=None, allow_none=True)
    status = fields.String()
    transaction_ids = fields.List(fields.Integer())
    guess = fields.List(fields.Integer(), allow_none=True,
                        metadata={"description": "movements that may fit, offered and never posted"})


class StatementOut(Schema):
    id = fields.Integer()
    format = fields.String()
    closing_balance = Money(minimum=None, allow_none=True)
    closing_date = fields.Date(allow_none=True)
    lines = fields.List(fields.Nested(LineOut))


class MatchIn(Schema):
    transaction_ids = fields.List(fields.Integer(strict=True, validate=validate.Range(1, MAX_BIG_ID)), required=True, validate=validate.Length(min=1, max=1000))


class MatchOut(Schema):
    id = fields.Integer()
    status = fields.String()
    transaction_ids = fields.List(fields.Integer())


STATEMENT_FILE_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "OFX, camt.053 XML, or a CSV (generic or a UK bank's export)"}}}}}}


class InterestIn(Schema):
    date = Day(required=True, metadata={"description": "the day the bank paid the interest"})
    period_from = Day(required=True, metadata={"description": "the first day of the period it is for"})
    period_to = Day(required=True, metadata={"description": "the last day of the period (both included)"})
    amount = Money(positive=True, attribute="amount_pence",
                   metadata={"description": "the interest; may be left out when line_id names its bank line"})
    line_id = fields.Integer(strict=True, validate=validate.Range(1, MAX_BIG_ID),
                             metadata={"description": "the statement line the bank paid it on: matched to it"})


class InterestShareOut(Schema):
    person_id = fields.Integer()
    balance_days = Money(metadata={"description": "the fund's balance at the end of each day of the period, added up"})
    share = Money()
    transaction_id = fields.Integer(allow_none=True)
    posted = fields.Boolean(metadata={"description": "false for a fund closed by then: the provider holds its "
                                                     "share to pay on"})


class InterestOut(Schema):
    id = fields.Integer()
    date = fields.Date()
    period_from = fields.Date()
    period_to = fields.Date()
    amount = Money()
    handling = fields.String(metadata={"description": "shared (among the funds) or provider (kept by the provider)"})
    kept_by_provider = Money()
    closed_fund_shares = Money()
    line_id = fields.Integer(allow_none=True)
    matched_transaction_ids = fields.List(fields.Integer())
    shares = fields.List(fields.Nested(InterestShareOut))
