"""The client bank account's statements: upload, read with their matches, match a line by hand."""
from __future__ import annotations

import csv

from flask import g, request

from ..api_base import ExactBlueprint
from ..db import db
from ..errors import Invalid
from ..idempotency import write
from ..auth.users import guard
from ..accounts.bank_statements import import_statement, match_by_hand, statement_json
from ..accounts.interest import interest_json, record_interest
from ..provider import current
from ..accounts.schemas import bank_statements as s

blp = ExactBlueprint("bank_statements", __name__, url_prefix="/api/v1", description="The client bank account")


@blp.route("/bank-statements", methods=["POST"])
@guard()
@blp.doc(requestBody=s.STATEMENT_FILE_BODY)
@write
@blp.response(201, s.UploadOut)
def upload(**_):
    """Import the client bank account's statement (multipart/form-data, field `file`) and match
    its new lines to the ledger's client-money movements; lines already imported are skipped."""
    upload_ = request.files.get("file")
    if upload_ is None:
        raise Invalid("file", "send the file as multipart/form-data in a field named file")
    try:
        return import_statement(db.session, upload_.stream.read(), upload_.filename or "", g.user.id)
    except (ValueError, OverflowError, csv.Error) as e:  # a date, number or line no bank writes: the file's fault
        raise Invalid("file", f"this file cannot be read as a bank statement: {e}") from None


@blp.route("/bank-statements/<int:statement_id>")
@guard()
@blp.response(200, s.StatementOut)
def one_statement(statement_id):
    """The statement's lines, each `matched` or `unmatched`, with its transactions or a guess."""
    return statement_json(db.session, statement_id)


@blp.route("/bank-statements/<int:statement_id>/lines/<int:line_id>/match", methods=["POST"])
@guard()
@blp.arguments(s.MatchIn)
@write
@blp.response(201, s.MatchOut)
def match_line(args, statement_id, line_id):
    """Match a line by hand to client-money movements that sum to it exactly."""
    return match_by_hand(db.session, statement_id, line_id, args["transaction_ids"], g.user.id)


@blp.route("/bank-interest", methods=["POST"])
@guard()
@blp.arguments(s.InterestIn)
@write
@blp.response(201, s.InterestOut)
def record_interest_(args):
    """Record interest the bank paid on client money for a period: shared among the funds in
    proportion to their daily balances (largest remainder, ties to the lower person id), or kept
    by the provider, as the provider's `bank_interest` setting says; matched to its bank line
    when `line_id` names it."""
    return record_interest(db.session, handling=current().bank_interest, user_id=g.user.id, **args)


@blp.route("/bank-interest/<int:interest_id>")
@guard()
@blp.response(200, s.InterestOut)
def one_interest(interest_id):
    """An interest payment: how it was handled and each fund's balance-days and share."""
    return interest_json(db.session, interest_id)
