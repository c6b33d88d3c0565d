"""Clawback, fee refunds, the surplus notice letter and closing a fund.

Finance only for the writes: recovering surplus, refunding fee and closing a fund change what
the council and the provider hold, which brokers do not decide. Whoever may see the fund may
read the surplus and its notice letter (the person included: it is written to them).
"""
from __future__ import annotations

from flask import Response, g
from marshmallow import Schema, fields, validate

from .. import clock
from ..api_base import ExactBlueprint
from ..db import db
from ..fields import Day, Money, Text as TextField
from ..idempotency import write
from ..auth.users import guard
from ..accounts.clawback import METHODS, notice_letter, record_clawback, record_fee_refund, surplus_on
from ..workflows.closing import CLOSE_REASONS, DESTINATIONS, close_fund
from ..accounts.schemas.common import Text
from ..auth.scopes import PERSON
from ..clock import month_end

blp = ExactBlueprint("clawback", __name__, url_prefix="/api/v1", description="Surplus, clawback and closing a fund")


class ClawbackIn(Schema):
    date = Day(required=True)
    amount = Money(required=True, positive=True, attribute="amount_pence")
    reference = TextField(validate=validate.Length(max=200), allow_none=True, load_default=None)
    notice_given_on = Day(allow_none=True, load_default=None)
    method = TextField(load_default="repayment", validate=validate.OneOf(METHODS))
    override_reason = TextField(validate=validate.Length(max=500), allow_none=True, load_default=None)


class ClawbackOut(Schema):
    id = fields.Integer()
    person_id = fields.Integer()
    date = fields.Date()
    amount = Money(attribute="amount_pence")
    reference = fields.String(allow_none=True)
    notice_given_on = fields.Date(allow_none=True)
    method = fields.String()
    override_reason = fields.String(allow_none=True)
    recoverable = Money(attribute="recoverable_pence", minimum=None)
    transaction_id = fields.Integer()
    receipt_id = fields.Integer(allow_none=True)
    deduction_transaction_id = fields.Integer(allow_none=True)


class FeeRefundIn(Schema):
    date = Day(required=True)
    amount = Money(required=True, positive=True, attribute="amount_pence")
    reason = Text(500, required=True)


class CloseIn(Schema):
    date = Day(required=True)
    destination = TextField(required=True, validate=validate.OneOf(DESTINATIONS))
    reference = Text(200, required=True)
    reason = TextField(load_default=None, validate=validate.OneOf(CLOSE_REASONS))


class CloseOut(Schema):
    person_id = fields.Integer()
    closed_on = fields.Date()
    destination = fields.String()
    reference = fields.String()
    reason = fields.String()
    paid_out = Money()
    available_paid_out = Money()
    contingency_paid_out = Money()
    transaction_id = fields.Integer(allow_none=True)
    transaction_ids = fields.List(fields.Integer())
    shared_charge_transaction_ids = fields.List(fields.Integer())
    final_statement_number = fields.Integer()
    final_statement_month = fields.String()
    statements_issued = fields.List(fields.Dict())  # the ended months issued before the final, in order


class SurplusQuery(Schema):
    date = Day(load_default=None)
    amount = Money(load_default=None, positive=True, attribute="amount_pence")


@blp.route("/people/<int:person_id>/clawbacks", methods=["POST"])
@guard(PERSON)
@blp.arguments(ClawbackIn)
@write
@blp.response(201, ClawbackOut)
def clawback(args, person_id):
    """The council recovers surplus: within what is recoverable on the date and with
    `surplus_notice_days` of notice, or with an `override_reason` (409 otherwise). `method`
    `deduction`: withheld from an instalment, which then counts as paid in full."""
    row = record_clawback(db.session, person_id, user_id=g.user.id, **args)
    from ..models import Receipt
    receipt = db.session.get(Receipt, row.receipt_id) if row.receipt_id else None
    out = {c: getattr(row, c) for c in ("id", "person_id", "date", "amount_pence", "reference", "notice_given_on",
                                        "method", "override_reason", "recoverable_pence", "transaction_id",
                                        "receipt_id")}
    out["deduction_transaction_id"] = receipt.transaction_id if receipt else None
    return out


@blp.route("/people/<int:person_id>/fee-refunds", methods=["POST"])
@guard(PERSON)
@blp.arguments(FeeRefundIn)
@write
@blp.response(201)
def fee_refund(args, person_id):
    """The provider refunds management fee into `available` (its own transaction, with the reason);
    never more than the fee the fund has paid (409)."""
    entry = record_fee_refund(db.session, person_id, user_id=g.user.id, **args)
    return {"person_id": person_id, "date": args["date"].isoformat(), "transaction_id": entry.posted_id,
            "reason": args["reason"], "amount": Money()._serialize(args["amount_pence"], None, None)}


@blp.route("/people/<int:person_id>/surplus")
@guard(PERSON)
@blp.arguments(SurplusQuery, location="query")
@blp.response(200)
def surplus(args, person_id):
    """The surplus above the threshold on a date (default today) and what may be recovered."""
    return {"person_id": person_id, **surplus_on(db.session, person_id, args["date"] or clock.today()).as_json()}


@blp.route("/people/<int:person_id>/surplus-notice")
@guard(PERSON)
@blp.arguments(SurplusQuery, location="query")
@blp.doc(responses={"200": {"description": "the letter (PDF)", "content": {"application/pdf": {}}}})
def surplus_notice(args, person_id):
    """The letter to the person (PDF): their surplus today and the date from which `amount` may be
    recovered (`date`, default the earliest the notice allows). An `amount` beyond what may be
    recovered today, or a `date` with less than `surplus_notice_days` of notice, is a 422."""
    from ..reports.render_notice import render_notice

    letter = notice_letter(db.session, person_id, amount_pence=args["amount_pence"], day=args["date"])
    letter["since_statement"] = since_statement(db.session, person_id, clock.today())
    pdf = render_notice(letter)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="surplus-notice-{person_id}.pdf"'})


def since_statement(session, person_id: int, today) -> dict | None:
    """The last issued statement's balance and the receipts since its end: why the letter's
    balance differs from it."""
    import sqlalchemy as sa

    from ..reports import statements as st
    from ..models import Fund, Receipt
    from ..money import format_pence

    fund = session.get(Fund, person_id)
    if fund is None or fund.issued_through is None:
        return None
    stmt = st.latest(session, person_id, fund.issued_through)
    end = month_end(fund.issued_through)
    rows = session.execute(sa.select(Receipt.date, Receipt.source, Receipt.amount_pence)
                           .where(Receipt.person_id == person_id, Receipt.date > end, Receipt.date <= today)
                           .order_by(Receipt.date, Receipt.id)).all()
    return {"month": fund.issued_through.strftime("%Y-%m"), "closing_balance": stmt.figures["closing_balance"],
            "receipts": [{"date": d.isoformat(), "source": s, "amount": format_pence(p)} for d, s, p in rows]}


@blp.route("/people/<int:person_id>/close", methods=["POST"])
@guard(PERSON)
@blp.arguments(CloseIn)
@write
@blp.response(201, CloseOut)
def close(args, person_id):
    """Close the fund: outstanding shared charges, the balance (contingency included) paid to the
    council or the new holder, the final statement issued; then every later write is refused
    with 409 `fund_closed`."""
    return close_fund(db.session, person_id, user_id=g.user.id, **args)
