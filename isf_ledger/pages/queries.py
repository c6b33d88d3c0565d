"""'I don't recognise this': a person (or their family, a broker, finance) asks about any line of
the fund; the person sees the question open, then its answer. The form is loaded by the API's own
schema (accounts.schemas.queries.QueryIn) through the pages' PageForm, and written by the same
operation (accounts.queries.raise_query), once per form however often it is sent.

A link from a line says what it is about in the query string (`?spend_id=12`, `?transaction_id=`,
`?delivery_id=`, `?statement_month=2026-10`); the form carries it as a hidden field, and the
operation refuses an item that is not this person's, as the API does.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import g, render_template, request, url_for

from ..auth.scopes import PERSON
from ..models import Delivery, Person, Spend, Transaction
from ..accounts.queries import ITEMS, queries_of, raise_query
from ..accounts.schemas.queries import QueryIn
from ..db import db
from ..reports.render_pdf import month_name
from ..auth.users import MAX_BIG_ID
from .forms import PageForm
from .frame import visible
from .people import whose
from .views import bp, signed_in

LABELS = {"message": "Your question"}
MESSAGES = {"message": "Enter your question", "_form": "Your question could not be sent"}
WRITERS = ("admin", "finance", "broker", "person")


MODELS = {"transaction_id": Transaction, "spend_id": Spend, "delivery_id": Delivery}


def _about(person_id: int, field: str, value: str, found: dict | None = None) -> str | None:
    """The item a query is about, in words, if it is this person's; else None. `found` holds the
    items already read for a list (_items_named); without it the one item is read here."""
    if field == "statement_month":
        try:
            return f"the statement for {month_name(value)}"
        except ValueError:
            return None
    if not value.isascii() or not value.isdigit() or int(value) > MAX_BIG_ID:
        return None
    if found is not None:
        row = found.get((field, int(value)))
    else:
        row = db.session.get(MODELS[field], int(value))
    if row is None or row.person_id != person_id:
        return None
    if isinstance(row, Spend):
        return f"{row.payee}: {row.description} on {row.date.day} {row.date:%B %Y}"
    if isinstance(row, Delivery):
        return f"{row.service.replace('_', ' ')} on {row.date.day} {row.date:%B %Y}"
    return f"{row.description or row.kind} on {row.date.day} {row.date:%B %Y}"


def _first_item(query: dict) -> str | None:
    """The field naming what a query is about (at most one is set), or None."""
    return next((f for f in ITEMS if query[f] is not None), None)


def _items_named(person_id: int, queries: list[dict]) -> dict[tuple[str, int], object]:
    """The person's lines, spends and deliveries that the queries are about: a query for each kind
    of item, however many queries there are."""
    wanted: dict[str, set[int]] = {}
    for q in queries:
        field = _first_item(q)
        if field in MODELS:
            wanted.setdefault(field, set()).add(q[field])
    found = {}
    for field, ids in wanted.items():
        model = MODELS[field]
        for row in db.session.scalars(sa.select(model).where(model.id.in_(sorted(ids)), model.person_id == person_id)):
            found[field, row.id] = row
    return found


def _item(person_id: int, source) -> tuple[dict[str, str], str | None]:
    """The one item named in `source` (the query string or the form) that is this person's."""
    for field in ITEMS:
        value = (source.get(field) or "").strip()
        if value:
            about = _about(person_id, field, value)
            return ({field: value}, about) if about else ({}, None)
    return {}, None


def _page(person_id: int, form: PageForm | None, item: dict, about: str | None, status: int = 200):
    person = g.person if isinstance(g.get("person"), Person) else db.session.get(Person, person_id)
    items = queries_of(db.session, person_id)
    found = _items_named(person_id, items)
    for q in items:
        field = _first_item(q)
        q["about"] = _about(person_id, field, str(q[field]), found) if field is not None else None
    return render_template("pages/queries.html", person=person, form=form, item=item, about=about,
                           queries=items, title=f"Questions about {whose(person).your} money"), status


@bp.get("/people/<int:person_id>/queries")
@signed_in
@visible(PERSON)
def queries(person_id: int):
    """The person's questions and their answers, with the form to ask one (not for auditors)."""
    item, about = _item(person_id, request.args)
    form = PageForm(QueryIn(), labels=LABELS, messages=MESSAGES) if g.user.role in WRITERS else None
    return _page(person_id, form, item, about)


@bp.post("/people/<int:person_id>/queries")
@signed_in
@visible(PERSON)
def raise_query_form(person_id: int):
    """Send the question; back to the list, where it shows as open."""
    form = PageForm(QueryIn(), labels=LABELS, messages=MESSAGES)
    item, about = _item(person_id, request.form)
    if form.load():
        data = {k: v for k, v in form.data.items()}
        done = form.write(lambda: _raised(person_id, data))
        if done is not None:
            return done
    return _page(person_id, form, item, about, 422 if form.errors else 200)


def _raised(person_id: int, data: dict) -> str:
    fq = raise_query(db.session, person_id, user_id=g.user.id, **data)
    return url_for("pages.queries", person_id=person_id, _anchor=f"query-{fq.id}")
