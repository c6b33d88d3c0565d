"""Who may do what: users, their roles and scope, tokens for the API and passwords for the pages.

Tokens are long and random, so a SHA-256 of the token is enough to look one up quickly and
safely; passwords are chosen by people, so they are hashed with argon2.
"""
from __future__ import annotations

import hashlib
import secrets
import sys
from datetime import datetime
from dataclasses import dataclass
from functools import wraps
from typing import Callable

import click
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, g, request
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow
from ..errors import Forbidden, NotFound, Unauthorised
from ..work import end_reads, unit_of_work

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


PASSWORDS = PasswordHasher()  # one set of argon2 parameters for hashing and checking
_DUMMY_HASH: list[str] = []  # made on first use: checked when there is no hash, so that takes as long


MIN_PASSWORD_LENGTH = 12


def _common_passwords() -> frozenset[str]:
    """zxcvbn's list of the 30,000 passwords most often found in breaches, and a few that this
    product's users would be likely to pick."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS
    own = ("isfledger", "isf-ledger", "individualservicefund", "individualservicefunds", "passwordpassword",
           "password1234", "password12345", "password123456", "123456789012", "qwertyuiopasdf")
    return frozenset(FREQUENCY_LISTS["passwords"]) | frozenset(own)


_COMMON: list[frozenset[str]] = []  # read on first use


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None: length and common passwords, no composition rules
    (NIST SP 800-63B): a few unrelated words make a good one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return (f"a password must be at least {MIN_PASSWORD_LENGTH} characters long (this one has "
                f"{len(password)}); a few unrelated words make a good one")
    if not _COMMON:
        _COMMON.append(_common_passwords())
    folded = password.casefold()
    if folded in _COMMON[0] or "".join(folded.split()) in _COMMON[0]:
        return "this password is on a list of common passwords; choose another (a few unrelated words make a good one)"
    return None


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed; always an argon2 check, also with no hash at all,
    so a name without a user (or without a password) answers no faster than a wrong password."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(PASSWORDS.hash(secrets.token_urlsafe(16)))
    try:
        return PASSWORDS.verify(password_hash or _DUMMY_HASH[0], password) and password_hash is not None
    except (VerificationError, InvalidHashError):  # a wrong password, or a hash that is not argon2
        return False


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


def _read_password(password: str | None) -> str | None:
    if password != "":
        return password
    if sys.stdin is not None and sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:  # a script: the password is the first line of standard input
        password = (sys.stdin.readline() if sys.stdin else "").rstrip("\r\n")
    if not password:
        raise click.BadParameter("give a password: --password VALUE, or one line on standard input",
                                 param_hint="--password")
    return password


def _user_named(name: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.name == name))
    if user is None:
        raise click.BadParameter(f"no user named {name!r}", param_hint="NAME")
    return user


def init_app(app: Flask, directory: Directory) -> None:
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
        with unit_of_work():
            user, token = create_user(db.session, directory, name=name, role=role, person_id=person_id,
                                      council=council, password=_read_password(password))
        click.echo(f"Created user {user.id} {name!r} with role {role}. Keep this API token safe; it is shown once.")
        click.echo(f"token: {token}")

    @users_cli.command("list")
    def list_cmd():
        """List users: name, role, what they are linked to, and whether they may sign in."""
        for u in db.session.scalars(sa.select(User).order_by(User.id)):
            link = (f"person {u.person_id}" if u.person_id else
                    f"council {directory.council_name(db.session, u.council_id)!r}" if u.council_id else "")
            click.echo(f"{u.id:>5}  {u.name:<30} {u.role:<8} {'active' if u.active else 'DISABLED':<8} {link}".rstrip())
        end_reads()

    @users_cli.command("disable")
    @click.argument("name")
    def disable_cmd(name):
        """Stop a user's token and password from working (their history stays)."""
        with unit_of_work():
            user = _user_named(name)
            disable_user(db.session, user)
        click.echo(f"User {name!r} is disabled: their token and password no longer work, "
                   "and they are signed out of the web pages.")

    @users_cli.command("token")
    @click.argument("name")
    def token_cmd(name):
        """Give a user a new API token (the last word printed); the old one stops working."""
        with unit_of_work():
            user = _user_named(name)
            token, user.token_hash = _new_token()
            end_sessions(db.session, user.id)
        click.echo(f"New token for {name!r}; the old one no longer works and they are signed out of the web "
                   "pages. Keep it safe; it is shown once.")
        click.echo(f"token: {token}")
