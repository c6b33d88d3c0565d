"""Command-line work on the accounts: the self-audit and demo data."""
from __future__ import annotations

import sys

import click
from flask import Flask

from ..db import db
from .audit import audit


def init_app(app: Flask) -> None:
    @app.cli.command("audit")
    def audit_cmd():
        """Re-derive every balance, check every invariant; exit 1 on any difference."""
        problems = 0
        for name, found in audit(db.session).items():
            click.echo(f"{'ok ' if not found else 'BAD'} {name}")
            for line in found[:20]:
                click.echo(f"    {line}")
            problems += len(found)
        db.session.rollback()
        if problems:
            click.echo(f"{problems} problem(s) found")
            sys.exit(1)
        click.echo("the books hold")

    from .demo import demo_cmd

    app.cli.add_command(demo_cmd)
