"""What the accounts API's paths name, for `guard`: a person (and their fund), a transaction."""
from __future__ import annotations

import sqlalchemy as sa

from ..db import db
from .users import MAX_ID, Scope
from ..models import Delivery, Person, Transaction


def _person(person_id: int):
    person = db.session.get(Person, person_id) if person_id <= MAX_ID else None
    return person, person


def _transaction(transaction_id: int):
    txn = db.session.get(Transaction, transaction_id)
    owner = db.session.get(Person, txn.person_id) if txn is not None and txn.person_id else None
    return txn, owner


PERSON = Scope("person_id", "person", _person)


def visible_people(user, person=Person):
    """Who a user may see, as one SQL filter on people (lists, reports, pages, the API): a person
    themselves, an auditor their council's people, everyone else all. Its check for one person
    already loaded is `users.can_see_person`; the two say the same."""
    if user.role == "person":
        return person.id == user.person_id
    if user.role == "auditor":
        return person.council_id == user.council_id
    return sa.true()

# Built once: a person's id and council, all the scope check needs, without loading the entity.
_PERSON_ROW = sa.select(Person.__table__.c.id, Person.__table__.c.council_id).where(
    Person.__table__.c.id == sa.bindparam("person_id"))


def _person_row(person_id: int):
    row = (db.session.connection().execute(_PERSON_ROW, {"person_id": person_id}).first()
           if person_id <= MAX_ID else None)
    return row, row


# As PERSON, for views that need only the id: `g.person` is a row of (id, council_id).
PERSON_ROW = Scope("person_id", "person", _person_row)
TRANSACTION = Scope("transaction_id", "transaction", _transaction)


def _delivery(delivery_id: int):
    delivery = db.session.get(Delivery, delivery_id)
    owner = db.session.get(Person, delivery.person_id) if delivery is not None else None
    return delivery, owner


DELIVERY = Scope("delivery_id", "delivery", _delivery)
