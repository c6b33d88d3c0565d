"""The `isf-ledger` command: the app's own CLI (db, users, demo, audit, ...) with the app built."""
from __future__ import annotations

from functools import wraps

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo
from sqlalchemy.exc import OperationalError

from . import create_app, dbstate

MAKES_THE_SCHEMA = {"db"}  # Flask-Migrate's commands: the only ones that may meet an unmigrated database


def main() -> None:
    FlaskGroup(create_app=lambda: create_app(), help=__doc__).main(prog_name="isf-ledger")


def _checked(callback, schema: bool):
    """The command, run only once the database answers (and, if `schema`, is migrated); a database
    that fails is one line naming it, password hidden, never a traceback."""

    @wraps(callback)
    def run(*args, **kwargs):
        # As flask.cli.with_appcontext does: one app context for the whole command, as a group's
        # callback (Flask-Migrate's `db`) may leave settings in `g` for its subcommand.
        ctx = click.get_current_context()
        if not current_app:
            ctx.with_resource(ctx.ensure_object(ScriptInfo).load_app().app_context())
        app = current_app._get_current_object()
        engine = app.extensions["sqlalchemy"].engine
        try:
            problem = dbstate.migration_problem(app, engine) if schema else None
            if problem:
                raise click.ClickException(problem)
            return callback(*args, **kwargs)
        except OperationalError as e:
            raise click.ClickException(dbstate.UPGRADE if dbstate.kind(e) == "not_migrated"
                                       else dbstate.unreachable(engine, e)) from None

    run.isf_checked = True
    return run


def check_database_first(app: Flask) -> None:
    """Wrap every command on the app's CLI (the same objects serve `isf-ledger`, `flask --app`
    and app.test_cli_runner()). Some command objects are shared by every app (Flask-Migrate's,
    demo), so the wrapper finds its app at run time and wraps each command once."""

    def wrap(command: click.Command, schema: bool) -> None:
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                wrap(sub, schema)
        elif command.callback is not None and not getattr(command.callback, "isf_checked", False):
            command.callback = _checked(command.callback, schema)

    for name, command in app.cli.commands.items():
        wrap(command, name not in MAKES_THE_SCHEMA)
