"""People and their funds: a person is created together with their restricted fund."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from .. import clock
from ..errors import Conflict
from ..locks import lock_key
from ..auth.users import Directory
from .councils import council_for_person, find_council
from ..ledger.post import open_person_accounts, refuse_closed_fund
from ..models import Council, Fund, Person, PersonNameChange


def create_person(session, *, name: str, council: str, council_reference: str | None,
                  opened_on: date | None = None, may_name_council: bool = False) -> Person:
    """A person and their fund. `may_name_council`: finance may name a council not yet known,
    which creates it; anyone else must name a known council."""
    found = council_for_person(session, council, may_create=may_name_council)
    if council_reference:
        # Racers with one reference wait here, so the later ones see the first and get
        # duplicate_person rather than the unique index's bare refusal.
        lock_key(session, f"person:{found.id}:{council_reference}")
        clash = session.scalar(sa.select(Person.id).where(Person.council_id == found.id,
                                                          Person.council_reference == council_reference))
        if clash is not None:
            raise Conflict(f"{found.name} already funds person {clash} with reference {council_reference!r}",
                           {"council_reference": ["already used for another person of this council"]},
                           code="duplicate_person")
    person = Person(name=name, council_id=found.id, council_reference=council_reference or None)
    session.add(person)
    session.flush()
    session.add(Fund(person_id=person.id, opened_on=opened_on or clock.today()))
    open_person_accounts(session, person.id)
    session.flush()
    session.refresh(person)
    return person


def correct_name(session, person: Person, name: str, *, user_id: int | None = None) -> PersonNameChange | None:
    """Correct a person's name, kept in history (who, when, before and after); None when the name
    is already this. Statements already issued keep the name they were issued with (their figures
    hold it); what is made from now on has the new one."""
    refuse_closed_fund(session, person.id)  # 409 fund_closed, as every write for the person
    lock_key(session, f"person-name:{person.id}")  # two corrections at once: each sees the other's
    session.refresh(person)
    if person.name == name:
        return None
    change = PersonNameChange(person_id=person.id, old_name=person.name, new_name=name, changed_by=user_id)
    person.name = name
    session.add(change)
    session.flush()
    return change


def name_history(session, person_id: int) -> list[PersonNameChange]:
    return list(session.scalars(sa.select(PersonNameChange).where(PersonNameChange.person_id == person_id)
                                .order_by(PersonNameChange.id)))


# How users are linked to people and councils (auth/users.py knows neither).
DIRECTORY = Directory(
    person_exists=lambda session, pid: session.get(Person, pid) is not None,
    council_id=lambda session, name: getattr(find_council(session, name), "id", None),
    council_name=lambda session, cid: getattr(session.get(Council, cid), "name", None),
)
