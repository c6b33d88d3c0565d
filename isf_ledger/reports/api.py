"""Statements over the API: month end, a person's statement (JSON, PDF, XLSX) and corrections."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Response, g
from marshmallow import Schema, fields, validate

from ..accounts.api.scopes import PERSON
from ..accounts.models import Transaction
from ..api_base import ExactBlueprint
from ..db import db
from ..errors import NotFound
from ..idempotency import write
from ..users import guard
from . import statements as st
from .render_pdf import render_pdf
from .render_xlsx import render_xlsx

blp = ExactBlueprint("statements", __name__, url_prefix="/api/v1", description="Monthly statements")


class DocumentQuery(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "pdf", "xlsx")))
    large_print = fields.Boolean(load_default=False)


class CorrectionIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


@blp.route("/statements/<month>/issue", methods=["POST"])
@guard()
@write
@blp.response(200)
def issue(month):
    """Month end: issue every open fund's statement for the month, once (a re-run issues nothing
    new and answers with what was issued). 409 while the month has not ended."""
    done = st.issue_month(db.session, st.parse_month(month), user_id=g.user.id)
    return {"month": done.month, "issued": done.issued, "already_issued": done.already_issued,
            "statements": done.statements}


def _found(person_id: int, month: str):
    first = st.parse_month(month)
    stmt = st.latest(db.session, person_id, first)
    if stmt is None:
        raise NotFound(f"no statement has been issued to person {person_id} for {month}")
    return stmt


def _original_kinds(lines: list[dict]) -> None:
    """A reversal's heading is its original's, which may sit in an earlier month."""
    wanted = [x["reverses_id"] for x in lines if x["kind"] == "reversal" and x["reverses_id"]]
    if wanted:
        kinds = dict(db.session.execute(sa.select(Transaction.id, Transaction.kind).where(Transaction.id.in_(wanted))).all())
        for x in lines:
            if x["kind"] == "reversal" and x["reverses_id"] in kinds:
                x["original_kind"] = kinds[x["reverses_id"]]


@blp.route("/people/<int:person_id>/statements/<month>")
@guard(PERSON)
@blp.arguments(DocumentQuery, location="query")
@blp.response(200)
def get_statement(args, person_id, month):
    """The latest statement for the month (`replaces` names the one a correction replaced);
    `?format=pdf` the document as issued (or `&large_print=true`, set in large type), `xlsx` the
    workbook with the month's ledger lines and formulas over them."""
    stmt = _found(person_id, month)
    doc = st.as_json(db.session, stmt)
    name = f"statement-{person_id}-{month}"
    if args["format"] == "pdf":
        pdf = render_pdf(doc, large_print=True) if args["large_print"] else st.stored_pdf(db.session, stmt)
        return Response(pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})
    if args["format"] == "xlsx":
        lines = st.month_lines(db.session, person_id, stmt.month)
        _original_kinds(lines)
        return Response(render_xlsx(doc, lines),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    return doc


@blp.route("/people/<int:person_id>/statements/<month>/corrections", methods=["POST"])
@guard(PERSON)
@blp.arguments(CorrectionIn)
@write
@blp.response(201)
def correct(args, person_id, month):
    """A new numbered statement replacing the month's latest: the money as issued (the month is
    closed), the name and wording as now, and the late items for the month posted since."""
    stmt = _found(person_id, month)
    new = st.correct(db.session, person_id, stmt.month, args["reason"], user_id=g.user.id)
    return st.as_json(db.session, new)
