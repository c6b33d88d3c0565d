"""The accounts API: people and their funds, plans, the rate card, receipts, reversals, balances.

Views only translate: they check who is asking (`guard`), parse the body (schemas), call an
operation, and let `write` commit it once per Idempotency-Key.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import g
from flask.views import MethodView
from sqlalchemy.orm import joinedload

from ..clock import today
from ..db import db
from ..idempotency import write
from ..api_base import ExactBlueprint
from ..users import ANYONE, FINANCE, FINANCE_OR_BROKER, guard
from . import schemas as s
from .instalments import arrears, expected_instalments
from .ledger import fund_balance, reversal_of
from .models import Account, Person, Rate, Receipt, Transaction
from .people import create_person
from .plans import add_months, add_plan, plans_of
from .rates import add_rate
from .receipts import record_receipt
from .reconciliation import reconcile
from .reversals import reverse

blp = ExactBlueprint("accounts", __name__, url_prefix="/api/v1", description="People, funds and money in")


def person_json(person: Person, as_of: date | None = None) -> dict:
    bal = fund_balance(db.session, person.id, as_of or today())
    fund = person.fund
    return {"id": person.id, "name": person.name, "council": person.council.name,
            "council_reference": person.council_reference,
            "fund": {"id": fund.id, "opened_on": fund.opened_on, "closed_on": fund.closed_on,
                     "available": bal.get("available", 0), "contingency": bal.get("contingency", 0)}}


@blp.route("/people")
class People(MethodView):
    @guard(ANYONE)
    @blp.response(200, s.PersonOut(many=True))
    def get(self):
        """List the people whose funds you may see."""
        q = sa.select(Person).options(joinedload(Person.council), joinedload(Person.fund)).order_by(Person.id)
        if g.user.role == "person":
            q = q.where(Person.id == g.user.person_id)
        elif g.user.role == "auditor":
            q = q.where(Person.council_id == g.user.council_id)
        return [person_json(p) for p in db.session.scalars(q)]

    @guard(FINANCE_OR_BROKER)
    @blp.arguments(s.PersonIn)
    @write
    @blp.response(201, s.PersonOut)
    def post(self, args):
        """Create a person and their fund."""
        person = create_person(db.session, **args)
        return person_json(person)


@blp.route("/people/<int:person_id>")
@guard(ANYONE, person=True)
@blp.response(200, s.PersonOut)
def get_person(person_id):
    """A person and their fund's balances today."""
    return person_json(g.person)


@blp.route("/people/<int:person_id>/plans")
class Plans(MethodView):
    @guard(ANYONE, person=True)
    @blp.response(200, s.PlanOut(many=True))
    def get(self, person_id):
        """Every version of the person's support plan, oldest first."""
        return plans_of(db.session, person_id)

    @guard(FINANCE_OR_BROKER, person=True)
    @blp.arguments(s.PlanIn)
    @write
    @blp.response(201, s.PlanOut)
    def post(self, args, person_id):
        """Add a new version of the person's support plan."""
        return add_plan(db.session, person_id, user_id=g.user.id, **args)


@blp.route("/rates")
class Rates(MethodView):
    @guard(ANYONE)
    @blp.response(200, s.RateOut(many=True))
    def get(self):
        """The rate card, every entry."""
        return db.session.scalars(sa.select(Rate).order_by(Rate.service, Rate.effective_from)).all()

    @guard(FINANCE)
    @blp.arguments(s.RateIn)
    @write
    @blp.response(201, s.RateOut)
    def post(self, args):
        """Add a rate card entry for a service from a date."""
        return add_rate(db.session, user_id=g.user.id, **args)


def receipt_json(receipt: Receipt) -> dict:
    out = {c: getattr(receipt, c) for c in ("id", "person_id", "date", "amount_pence", "source", "reference",
                                            "fee_exempt", "fee_rate", "fee_pence", "transaction_id",
                                            "fee_transaction_id")}
    done = db.session.scalar(sa.select(Transaction.id).where(Transaction.reverses_id == receipt.transaction_id))
    out["reversed_by_transaction_id"] = done
    return out


@blp.route("/people/<int:person_id>/receipts")
class Receipts(MethodView):
    @guard(ANYONE, person=True)
    @blp.response(200, s.ReceiptOut(many=True))
    def get(self, person_id):
        """Every receipt into the person's fund."""
        rows = db.session.scalars(sa.select(Receipt).where(Receipt.person_id == person_id)
                                  .order_by(Receipt.date, Receipt.id))
        return [receipt_json(r) for r in rows]

    @guard(FINANCE, person=True)
    @blp.arguments(s.ReceiptIn)
    @write
    @blp.response(201, s.ReceiptOut)
    def post(self, args, person_id):
        """Pay money into the person's fund; the management fee is taken as its own transaction."""
        return receipt_json(record_receipt(db.session, person_id, user_id=g.user.id, **args))


def transaction_json(txn: Transaction) -> dict:
    codes = dict(db.session.execute(sa.select(Account.id, Account.code).where(
        Account.id.in_([p.account_id for p in txn.postings]))).all())
    done = reversal_of(db.session, txn)
    return {"id": txn.id, "kind": txn.kind, "date": txn.date, "service_date": txn.service_date,
            "person_id": txn.person_id, "description": txn.description, "reverses_id": txn.reverses_id,
            "reversed_by": done.id if done else None, "reason": txn.reason, "created_at": txn.created_at,
            "postings": [{"account": codes[p.account_id], "amount": p.amount_pence} for p in txn.postings]}


@blp.route("/transactions/<int:transaction_id>")
@guard(ANYONE, transaction=True)
@blp.response(200, s.TransactionOut)
def get_transaction(transaction_id):
    """One transaction with its postings."""
    return transaction_json(g.transaction)


@blp.route("/transactions/<int:transaction_id>/reverse", methods=["POST"])
@guard(FINANCE, transaction=True)
@blp.arguments(s.ReverseIn)
@write
@blp.response(201, s.ReversalOut)
def reverse_transaction(args, transaction_id):
    """Reverse a transaction (a receipt together with its fee), once, with a reason."""
    done = reverse(db.session, g.transaction, reason=args["reason"], day=args["date"], user_id=g.user.id)
    return {"transaction_id": done[0].posted_id, "reverses_transaction_id": transaction_id,
            "fee_reversal_transaction_id": done[1].posted_id if len(done) > 1 else None,
            "person_id": done[0].person_id, "date": done[0].posted_date, "reason": args["reason"]}


@blp.route("/people/<int:person_id>/transactions")
@guard(ANYONE, person=True)
@blp.arguments(s.RangeQuery, location="query")
@blp.response(200, s.TransactionOut(many=True))
def person_transactions(args, person_id):
    """The fund's ledger lines, by accounting date, optionally between two dates (both included)."""
    q = sa.select(Transaction).where(Transaction.person_id == person_id)
    if args["from_"]:
        q = q.where(Transaction.date >= args["from_"])
    if args["to"]:
        q = q.where(Transaction.date <= args["to"])
    return [transaction_json(t) for t in db.session.scalars(q.order_by(Transaction.date, Transaction.id))]


@blp.route("/people/<int:person_id>/balance")
@guard(ANYONE, person=True)
@blp.arguments(s.AsOfQuery, location="query")
@blp.response(200, s.BalanceOut)
def balance(args, person_id):
    """The fund's pots as at a date (default today), counting everything dated on or before it."""
    as_of = args["as_of"] or today()
    bal = fund_balance(db.session, person_id, as_of)
    # Hours cannot be recorded yet (the hours capability comes next), so the bank is empty.
    return {"person_id": person_id, "as_of": as_of, "available": bal["available"],
            "contingency": bal["contingency"], "bank_hours": "0.00", "bank_value": 0}


@blp.route("/people/<int:person_id>/arrears")
@guard(ANYONE, person=True)
@blp.arguments(s.AsOfQuery, location="query")
@blp.response(200, s.ArrearsOut)
def person_arrears(args, person_id):
    """What the council and the person were due to pay in by a date, what came, what is owed."""
    as_of = args["as_of"] or today()
    return {"person_id": person_id, "as_of": as_of, **arrears(db.session, g.person, as_of)}


@blp.route("/people/<int:person_id>/instalments")
@guard(ANYONE, person=True)
@blp.arguments(s.RangeQuery, location="query")
@blp.response(200, s.InstalmentOut(many=True))
def instalments(args, person_id):
    """The instalments the plan expects, due in advance, up to a date (default: a year from today)."""
    until = args["to"] or add_months(today(), 12)
    rows = expected_instalments(db.session, g.person, until)
    return [i for i in rows if args["from_"] is None or i.due >= args["from_"]]


@blp.route("/reconciliation")
@guard(FINANCE)
@blp.arguments(s.AsOfQuery, location="query")
@blp.response(200, s.ReconciliationOut)
def reconciliation(args):
    """The sum of every fund against the client money held, to the penny."""
    return reconcile(db.session, args["as_of"])

