"""Queries from the person: raised by the person, their representative, a broker or finance;
answered by finance or a broker; read by whoever may see the fund (a council's auditors
included). Nothing here is ever edited or removed."""
from __future__ import annotations

from flask import g

from ..api_base import ExactBlueprint
from ..db import db
from ..idempotency import write
from ..auth.users import MAX_ID, Scope, guard
from ..models import FundQuery, Person
from ..accounts.queries import answer_query, queries_of, raise_query
from ..accounts.schemas import queries as s
from ..auth.scopes import PERSON

blp = ExactBlueprint("queries", __name__, url_prefix="/api/v1", description="Queries from the person")


def _query(query_id: int):
    fq = db.session.get(FundQuery, query_id) if query_id <= MAX_ID else None
    return fq, db.session.get(Person, fq.person_id) if fq is not None else None


QUERY = Scope("query_id", "query", _query)


@blp.route("/people/<int:person_id>/queries", methods=["GET"])
@guard(PERSON)
@blp.response(200, s.QueryOut(many=True))
def list_queries(person_id):
    """The person's queries, newest first, each with its answers (who answered, when)."""
    return queries_of(db.session, person_id)


@blp.route("/people/<int:person_id>/queries", methods=["POST"])
@guard(PERSON)
@blp.arguments(s.QueryIn)
@write
@blp.response(201, s.QueryOut)
def raise_one(args, person_id):
    """Ask about anything on the fund, optionally one item of it (at most one of
    `transaction_id`, `spend_id`, `delivery_id`, `statement_month`, which must be this person's:
    422 naming the field otherwise). The person, their representative, brokers and finance."""
    fq = raise_query(db.session, person_id, user_id=g.user.id, **args)
    return queries_of(db.session, person_id, fq.id)[0]


@blp.route("/queries/<int:query_id>/answers", methods=["POST"])
@guard(QUERY)
@blp.arguments(s.AnswerIn)
@write
@blp.response(201, s.QueryOut)
def answer(args, query_id):
    """Answer a query (finance, brokers): it is then `answered`. A later answer adds to it."""
    answer_query(db.session, g.query, message=args["message"], user_id=g.user.id)
    return queries_of(db.session, g.query.person_id, g.query.id)[0]
