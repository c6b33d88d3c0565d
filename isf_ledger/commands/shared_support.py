"""`isf-ledger shared charge YYYY-MM`: the month's charge run (charges.charge_run), printed."""
from __future__ import annotations

import sys

import click
from flask import Flask

from ..db import db
from ..errors import LedgerError
from ..work import command
from ..shared_support.charges import charge_run
from ..clock import parse_month


def init_app(app: Flask) -> None:
    @app.cli.group("shared")
    def shared_cli():
        """Shared support: sleep-ins and background support."""

    @shared_cli.command("charge")
    @click.argument("month")
    def charge_cmd(month):
        """Charge MONTH (YYYY-MM) for every shared arrangement (again: charges nothing more)."""
        try:
            first = parse_month(month)
        except LedgerError as e:
            raise click.BadParameter(e.message, param_hint="MONTH") from None
        with command(lambda e: click.echo(f"Error: {e.message}", err=True)):
            done = charge_run(db.session, first)
        click.echo(f"{first:%Y-%m}: {done.charged} arrangement(s) charged, {done.already} already charged before")
        for problem in done.not_charged:
            click.echo(f"NOT CHARGED {problem.line()}", err=True)
        if done.not_charged:
            sys.exit(1)
