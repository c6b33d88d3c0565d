"""Who may do what: users, their roles and scope, tokens for the API, and the guard every view
wears. Tokens are long and random, so a SHA-256 of the token is enough to look one up quickly
and safely (passwords, chosen by people, are passwords.py's).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from dataclasses import dataclass
from functools import wraps
from typing import Callable

import click
import sqlalchemy as sa
from flask import current_app, g, request
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow
from ..errors import Forbidden, NotFound, Unauthorised
from .passwords import PASSWORDS, password_problem

ROLES = ("admin", "finance", "broker", "person", "auditor")
ANYONE = ROLES
# Who may change what. `person` and `auditor` never write.
FINANCE = ("admin", "finance")
FINANCE_OR_BROKER = ("admin", "finance", "broker")
ADMIN = ("admin",)
FINANCE_OR_AUDITOR = ("admin", "finance", "auditor")
NOT_PERSON = ("admin", "finance", "broker", "auditor")
# Raising a query is the one thing a person does (domain.md "Queries from the person").
NOT_AUDITOR = ("admin", "finance", "broker", "person")
MAX_ID, MAX_BIG_ID = 2**31 - 1, 2**63 - 1  # beyond these no row can exist


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    role: Mapped[str] = mapped_column(sa.String(20))
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id"))
    council_id: Mapped[int | None] = mapped_column(sa.ForeignKey("councils.id"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # Moved on by signing out, `users disable` and `users token`: a page session signed in
    # under an earlier epoch is over, on every device at once.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Directory:
    """How users are linked to the rest of the product, given by whoever owns people and councils
    (accounts/), so this module stays free of them: a person's id -> does it exist; a council's
    name -> its id or None; a council id -> its name."""

    person_exists: Callable[[object, int], bool]
    council_id: Callable[[object, str], int | None]
    council_name: Callable[[object, int], str | None]


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def new_token(session, user: User) -> str:
    """A new API token for the user (shown once); the old one stops working and their page
    sessions end."""
    token, user.token_hash = _new_token()
    end_sessions(session, user.id)
    return token


def create_user(session, directory: Directory, *, name: str, role: str, person_id: int | None = None,
                council: str | None = None, password: str | None = None) -> tuple[User, str]:
    if password:
        problem = password_problem(password)
        if problem is not None:
            raise click.BadParameter(problem, param_hint="--password")
    if role not in ROLES:
        raise click.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    if role == "person" and person_id is None:
        raise click.BadParameter("a person user needs --person ID", param_hint="--person")
    if role == "auditor" and not council:
        raise click.BadParameter("an auditor needs --council NAME", param_hint="--council")
    if person_id is not None and not directory.person_exists(session, person_id):
        raise click.BadParameter(f"no person with id {person_id}", param_hint="--person")
    council_id = None
    if council:
        council_id = directory.council_id(session, council)
        if council_id is None:
            raise click.BadParameter(f"no council named {council!r}", param_hint="--council")
    if session.scalar(sa.select(User.id).where(User.name == name)) is not None:
        raise click.BadParameter(f"a user named {name!r} already exists", param_hint="--name")
    token, digest = _new_token()
    user = User(name=name, role=role, person_id=person_id, council_id=council_id, token_hash=digest,
                password_hash=PASSWORDS.hash(password) if password else None)
    session.add(user)
    session.flush()
    return user, token


@dataclass(frozen=True)
class Caller:
    """Who sent a request, as the guard, the views and the audit log read them: a user's row
    read without the ORM (every request reads one), so it is never expired by a rollback."""

    id: int
    name: str
    role: str
    person_id: int | None
    council_id: int | None
    active: bool
    session_epoch: int


# Built once: every request looks its token (or a page's signed-in user id) up.
_CALLER = sa.select(*(User.__table__.c[f] for f in Caller.__dataclass_fields__))
_USER_BY_TOKEN = _CALLER.where(User.__table__.c.token_hash == sa.bindparam("token_hash"))
_USER_BY_ID = _CALLER.where(User.__table__.c.id == sa.bindparam("id"))


def caller_by_id(user_id: int) -> Caller | None:
    """The user with this id as a Caller, or None (the pages keep the id in the session)."""
    row = db.session.connection().execute(_USER_BY_ID, {"id": user_id}).first()
    return Caller(*row) if row is not None else None


def current_user() -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorised("sign in: send Authorization: Bearer <token>")
    row = db.session.connection().execute(_USER_BY_TOKEN, {"token_hash": hash_token(token.strip())}).first()
    user = Caller(*row) if row is not None else None
    if user is None or not user.active:
        raise Unauthorised("the token is not valid")
    return user


def end_sessions(session, user_id: int) -> None:
    """End every page session of the user, on every device: the epoch their sessions carry moves
    on (one UPDATE, so two at once both count)."""
    session.execute(sa.update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1))


def disable_user(session, user: User) -> None:
    """Stop the user's token and password from working and end their page sessions at once (the
    CLI's `users disable` and the admins' page; the caller commits). Their history stays."""
    user.active = False
    end_sessions(session, user.id)


def can_see_person(user: Caller, person) -> bool:
    """`person` is anything with `id` and `council_id`. The same rule as a SQL filter on many
    people: `scopes.visible_people`."""
    if user.role == "person":
        return person is not None and person.id == user.person_id
    if user.role == "auditor":
        return person is not None and person.council_id == user.council_id
    return True


RESTRICTED = ("person", "auditor")


@dataclass(frozen=True)
class Scope:
    """What a path names and whose fund it is in, for `guard`: `load(id)` gives (the thing or None,
    the person it belongs to or None). The thing is left in `g.<name>` for the view."""

    arg: str
    name: str
    load: Callable[[int], tuple[object | None, object | None]]


def endpoint_key(endpoint: str | None, method: str) -> str:
    """The key of an endpoint and method in access.ACCESS: "people.People.post"."""
    return f"{endpoint}.{'get' if method == 'HEAD' else method.lower()}"


def _closed(key: str) -> tuple[str, ...]:
    """Before the access table is installed (access.init_app), every endpoint is closed."""
    return ()


def guard(scope: Scope | None = None):
    """Check, in the contract's order: a valid token (401), the role and scope (403), the id in
    the path (404). Who may call the endpoint is read from the one table, access.ACCESS, by the
    endpoint's name and method: a view names only its scope, `@guard(PERSON)` or `@guard()`.
    People and auditors get 403 also for ids that do not exist, so that ids outside their scope
    cannot be probed."""

    def decorator(view):
        @wraps(view)
        def wrapper(*a, **kwargs):
            roles_for = current_app.extensions.get("isf_roles_for", _closed)  # access.py's table
            user = current_user()
            g.user = user
            if user.role not in roles_for(endpoint_key(request.endpoint, request.method)):
                raise Forbidden(f"a {user.role} user may not do this")
            if scope is not None:
                ident = kwargs[scope.arg]
                if isinstance(ident, int):
                    thing, owner = scope.load(ident) if ident <= MAX_BIG_ID else (None, None)
                else:
                    thing, owner = scope.load(ident)
                if user.role in RESTRICTED and (thing is None or not can_see_person(user, owner)):
                    raise Forbidden(f"this {scope.name} is not in a fund you may see")
                if thing is None:
                    raise NotFound(f"no {scope.name} with id {ident}")
                setattr(g, scope.name, thing)
            return view(*a, **kwargs)

        wrapper.guarded = True
        return wrapper

    return decorator
