"""Who may do what: users, their roles and scope, tokens for the API and passwords for the pages.

Tokens are long and random, so a SHA-256 of the token is enough to look one up quickly and
safely; passwords are chosen by people, so they are hashed with argon2.
"""
from __future__ import annotations

import hashlib
import secrets
import sys
from datetime import datetime
from functools import wraps

import click
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask, g, request
from sqlalchemy.orm import Mapped, mapped_column

from .db import db, utcnow
from .errors import Forbidden, NotFound, Unauthorised

ROLES = ("admin", "finance", "broker", "person", "auditor")
ANYONE = ROLES
# Who may change what. `person` and `auditor` never write.
FINANCE = ("admin", "finance")
FINANCE_OR_BROKER = ("admin", "finance", "broker")
MAX_ID, MAX_BIG_ID = 2**31 - 1, 2**63 - 1


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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session, *, name: str, role: str, person_id: int | None = None,
                council: str | None = None, password: str | None = None) -> tuple[User, str]:
    from .accounts.models import Council, Person

    if role not in ROLES:
        raise click.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    if role == "person" and person_id is None:
        raise click.BadParameter("a person user needs --person ID", param_hint="--person")
    if role == "auditor" and not council:
        raise click.BadParameter("an auditor needs --council NAME", param_hint="--council")
    if person_id is not None and session.get(Person, person_id) is None:
        raise click.BadParameter(f"no person with id {person_id}", param_hint="--person")
    council_id = None
    if council:
        found = session.scalar(sa.select(Council).where(Council.name == council))
        if found is None:
            raise click.BadParameter(f"no council named {council!r}", param_hint="--council")
        council_id = found.id
    if session.scalar(sa.select(User.id).where(User.name == name)) is not None:
        raise click.BadParameter(f"a user named {name!r} already exists", param_hint="--name")
    token = secrets.token_urlsafe(32)
    user = User(name=name, role=role, person_id=person_id, council_id=council_id,
                token_hash=hash_token(token),
                password_hash=PasswordHasher().hash(password) if password else None)
    session.add(user)
    session.flush()
    return user, token


def current_user() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorised("sign in: send Authorization: Bearer <token>")
    user = db.session.scalar(sa.select(User).where(User.token_hash == hash_token(token.strip())))
    if user is None or not user.active:
        raise Unauthorised("the token is not valid")
    return user


def can_see_person(user: User, person) -> bool:
    if user.role == "person":
        return person is not None and person.id == user.person_id
    if user.role == "auditor":
        return person is not None and person.council_id == user.council_id
    return True


def guard(roles, *, person: bool = False, transaction: bool = False):
    """Check, in the contract's order: a valid token (401), the role and scope (403), the id in
    the path (404). The person in the path is left in `g.person` for the view."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            from .accounts.models import Person, Transaction

            user = current_user()
            g.user = user
            if user.role not in roles:
                raise Forbidden(f"a {user.role} user may not do this")
            target = None
            if person:
                pid = kwargs["person_id"]
                if pid > MAX_ID:  # beyond any id the database can hold
                    pid = 0
                if user.role == "person" and pid != user.person_id:
                    raise Forbidden("you may see only your own fund")
                target = db.session.get(Person, pid)
            elif transaction:
                tid = kwargs["transaction_id"]
                txn = db.session.get(Transaction, tid) if tid <= MAX_BIG_ID else None
                g.transaction = txn
                target = db.session.get(Person, txn.person_id) if txn and txn.person_id else None
                if user.role in ("person", "auditor") and (txn is None or not can_see_person(user, target)):
                    raise Forbidden("this transaction is not in a fund you may see")
                if txn is None:
                    raise NotFound(f"no transaction with id {kwargs['transaction_id']}")
            if person:
                if target is None or not can_see_person(user, target):
                    if user.role in ("person", "auditor"):
                        raise Forbidden("this fund is not one you may see")
                    raise NotFound(f"no person with id {kwargs['person_id']}")
                g.person = target
            return view(*args, **kwargs)

        return wrapper

    return decorator


def init_app(app: Flask) -> None:
    @app.cli.group("users")
    def users_cli():
        """Manage who may use the ledger."""

    @users_cli.command("create")
    @click.option("--name", required=True, help="A unique name for the user.")
    @click.option("--role", required=True, type=click.Choice(ROLES))
    @click.option("--person", "person_id", type=int, help="For role person: the person's id.")
    @click.option("--council", help="For role auditor: the council whose people they may see.")
    @click.option("--password", is_flag=False, flag_value="", default=None,
                  help="Also set a password for the web pages (asked for if no value is given).")
    def create_cmd(name, role, person_id, council, password):
        """Create a user and print their API token (the last word printed)."""
        if password == "":
            if sys.stdin is not None and sys.stdin.isatty():
                password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
            else:  # a script: the password is the first line of standard input
                password = (sys.stdin.readline() if sys.stdin else "").rstrip("\r\n")
            if not password:
                raise click.BadParameter("give a password: --password VALUE, or one line on standard input",
                                         param_hint="--password")
        user, token = create_user(db.session, name=name, role=role, person_id=person_id,
                                  council=council, password=password)
        db.session.commit()
        click.echo(f"Created user {user.id} {name!r} with role {role}. Keep this API token safe; it is shown once.")
        click.echo(f"token: {token}")
