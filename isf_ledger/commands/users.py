"""`isf-ledger users`: create, list, disable users and give them new tokens (an admin on the
server; there is no API for it)."""
from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import Flask

from ..auth.users import ROLES, Directory, User, create_user, disable_user, new_token
from ..db import db
from ..work import end_reads, unit_of_work


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
            token = new_token(db.session, user)
        click.echo(f"New token for {name!r}; the old one no longer works and they are signed out of the web "
                   "pages. Keep it safe; it is shown once.")
        click.echo(f"token: {token}")
