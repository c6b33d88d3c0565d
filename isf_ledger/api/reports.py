"""Statements over the API: month end, a person's statement (JSON, PDF, XLSX) and corrections."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Response, g
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .. import clock
from ..auth.scopes import PERSON
from ..ledger.post import refuse_closed_fund
from ..accounts.schemas.common import RangeQuery
from ..models import Transaction
from ..api_base import ExactBlueprint
from ..db import db
from ..errors import NotFound
from ..idempotency import write
from ..auth.users import MAX_ID, Scope, guard
from ..reports import sending as dl
from ..reports import statements as st
from ..reports.render_pdf import render_pdf
from ..reports.render_xlsx import render_xlsx
from ..clock import add_months, month_end, month_start, parse_month

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
    """Month end: the month's shared charges, then every open fund's statement for the month, once
    (a re-run issues nothing new and answers with what was issued). 409 while the month has not
    ended, and `months_out_of_order` when it would leave a gap in a person's statements or come
    before a month already issued (`details` name the person and the month to issue first).
    `not_issued` names each person whose statement could not be issued and why (their month's
    shared charge could not be posted, `not_charged`, or their document could not be made); the
    others are issued, and running it again finishes them."""
    return st.issue_month(db.session, parse_month(month), user_id=g.user.id).answer()


def _found(person_id: int, month: str):
    first = parse_month(month)
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
    if args["format"] in ("pdf", "xlsx"):
        return statement_file(stmt, args["format"], large_print=args["large_print"])
    return st.as_json(db.session, stmt)


def statement_file(stmt, kind: str, *, large_print: bool = False) -> Response:
    """A statement's document: the PDF as issued (or set in large type) or the XLSX workbook with
    the month's ledger lines; the API and the statement's page both send it."""
    doc = st.as_json(db.session, stmt)
    name = f"statement-{stmt.person_id}-{stmt.month:%Y-%m}"
    if kind == "pdf":
        pdf = render_pdf(doc, large_print=True) if large_print else st.stored_pdf(db.session, stmt)
        return Response(pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})
    lines = st.month_lines(db.session, stmt.person_id, stmt.month)
    _original_kinds(lines)
    return Response(render_xlsx(doc, lines),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})


@blp.route("/people/<int:person_id>/statements/<month>/corrections", methods=["POST"])
@guard(PERSON)
@blp.arguments(CorrectionIn)
@write
@blp.response(201)
def correct(args, person_id, month):
    """A new numbered statement replacing the month's latest: the money as issued (the month is
    closed), the name and wording as now, and the late items for the month posted since."""
    stmt = _found(person_id, month)
    refuse_closed_fund(db.session, person_id)  # the final statement is the last (statements.correct locks no fund)
    new = st.correct(db.session, person_id, stmt.month, args["reason"], user_id=g.user.id)
    return st.as_json(db.session, new)


# --- Delivery: preferences, the log, the print batch ---------------------------------------------

ONE_LINE = validate.Regexp(r"^[^\x00-\x1f\x7f]*$", error="one line of text, without control characters")


class DeliveryPreferenceIn(Schema):
    method = fields.String(required=True, validate=validate.OneOf(("email", "post")))
    email = fields.Email(validate=validate.Length(max=320))
    name = fields.String(validate=[validate.Length(min=1, max=200), ONE_LINE])  # a representative's
    address_lines = fields.List(fields.String(validate=[validate.Length(min=1, max=200), ONE_LINE]),
                                validate=validate.Length(min=1, max=8))
    effective_from = fields.Date()

    @validates_schema
    def _complete(self, data, **_):
        if data["method"] == "email" and not data.get("email"):
            raise ValidationError("an e-mail address is needed to send by e-mail", "email")
        if data["method"] == "post" and not data.get("address_lines"):
            raise ValidationError("a postal address is needed to send by post", "address_lines")


class ResolveIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(("sent", "resend")))


@blp.route("/people/<int:person_id>/statement-delivery", methods=["POST"])
@guard(PERSON)
@blp.arguments(DeliveryPreferenceIn)
@write
@blp.response(201)
def set_delivery(args, person_id):
    """How the person gets their statements from `effective_from` (default today): `email` (to
    them, or to a representative named in `name`) or `post` (`address_lines`). Earlier
    preferences are kept as history."""
    return dl.preference_json(dl.set_preference(db.session, person_id, args, user_id=g.user.id))


@blp.route("/people/<int:person_id>/statement-delivery")
@guard(PERSON)
@blp.response(200)
def get_delivery(person_id):
    """The preference in force today (`current`, or null) and every one recorded (`history`)."""
    from ..models.statements import DeliveryPreference

    history = db.session.scalars(sa.select(DeliveryPreference).where(DeliveryPreference.person_id == person_id)
                                 .order_by(DeliveryPreference.effective_from, DeliveryPreference.id)).all()
    current = dl.preferences_on(db.session, [person_id], clock.today()).get(person_id)
    return {"current": dl.preference_json(current) if current else None,
            "history": [dl.preference_json(p) for p in history]}


@blp.route("/statements/<month>/deliveries")
@guard()
@blp.response(200)
def deliveries(month):
    """The month's delivery log: each statement, method, address, status (`pending`, `sending`,
    `sent`, `failed`), attempts, last error, next attempt, sent_at. `needs_check` marks one a
    sender was stopped while sending: it may have arrived, so it is never resent by itself."""
    first = parse_month(month)
    return {"month": month, "deliveries": dl.delivery_log(db.session, first)}


@blp.route("/statements/<month>/print-batch")
@guard()
def print_batch(month):
    """The month's letters for post as one PDF: an address sheet, then the statement as issued."""
    first = parse_month(month)
    batch = dl.print_batch(db.session, first)
    if batch is None:
        raise NotFound(f"no print batch for {month}: nobody's statement goes by post, or it was not sent yet")
    return Response(bytes(batch.pdf), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="print-batch-{month}.pdf"'})


def _delivery_row(delivery_id: int):
    from ..models.statements import StatementDelivery

    row = db.session.get(StatementDelivery, delivery_id) if delivery_id <= MAX_ID else None
    return row, None


DELIVERY_ROW = Scope("delivery_id", "statement delivery", _delivery_row)


@blp.route("/statement-deliveries/<int:delivery_id>/resolve", methods=["POST"])
@guard(DELIVERY_ROW)
@blp.arguments(ResolveIn)
@write
@blp.response(200)
def resolve(args, delivery_id):
    """For a delivery that `needs_check`: `sent` (the mail server's log shows its Message-ID went
    out) or `resend` (it did not: the next run sends it)."""
    row = dl.resolve(db.session, delivery_id, args["outcome"])
    return {"delivery_id": row.id, "status": row.status}

@blp.route("/people/<int:person_id>/review-pack")
@guard(PERSON)
@blp.arguments(RangeQuery, location="query")
@blp.doc(responses={"200": {"description": "the review workbook (XLSX)", "content": {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def review_pack(args, person_id):
    """The council review workbook for whole months from `from` to `to` (default: the twelve
    months to the end of last month). Finance, brokers, the council's auditors and the person
    themself may read it: it holds nothing about anyone else."""
    from datetime import timedelta

    from .. import clock
    from ..reports.review_pack import render_review_pack, review_pack as build

    end = args["to"] or (clock.today().replace(day=1) - timedelta(days=1))
    start = args["from_"] or add_months(month_start(end), -11)
    if start > end:
        from ..errors import Invalid
        raise Invalid("from", "must be on or before `to`")
    first, last = month_start(start), month_end(end)
    data = render_review_pack(build(db.session, person_id, first, last))
    name = f"review-pack-{person_id}-{first:%Y-%m}-to-{last:%Y-%m}.xlsx"
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
