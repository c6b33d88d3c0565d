"""What the accounts API's paths name, for `guard`: a person (and their fund), a transaction."""
from __future__ import annotations

from ...db import db
from ...users import MAX_ID, Scope
from ..models import Delivery, Person, Transaction


def _person(person_id: int):
    person = db.session.get(Person, person_id) if person_id <= MAX_ID else None
    return person, person


def _transaction(transaction_id: int):
    txn = db.session.get(Transaction, transaction_id)
    owner = db.session.get(Person, txn.person_id) if txn is not None and txn.person_id else None
    return txn, owner


PERSON = Scope("person_id", "person", _person)
TRANSACTION = Scope("transaction_id", "transaction", _transaction)


def _delivery(delivery_id: int):
    delivery = db.session.get(Delivery, delivery_id)
    owner = db.session.get(Person, delivery.person_id) if delivery is not None else None
    return delivery, owner


DELIVERY = Scope("delivery_id", "delivery", _delivery)
