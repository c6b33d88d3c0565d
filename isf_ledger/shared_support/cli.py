"""`isf-ledger shared charge YYYY-MM`: the month's charge run for every arrangement."""
from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import Flask

from ..db import db
from ..errors import LedgerError
from ..accounts.ledger import month_end
from .charges import charge_month, month_of, refuse_unended
from .models import ArrangementVersion, ChargeRun

BATCH = 250  # arrangements per database transaction: locks held briefly, a failure costs one batch


def charge_all(session, month, user_id=None) -> tuple[int, int, list[str]]:
    """Charge every arrangement not yet charged for the month; (charged, already, problems)."""
    refuse_unended(month)
    began = sa.func.min(ArrangementVersion.effective_from)
    ids = session.scalars(sa.select(ArrangementVersion.arrangement_id).group_by(ArrangementVersion.arrangement_id)
                          .having(began <= month_end(month)).order_by(ArrangementVersion.arrangement_id)).all()
    done_before = set(session.scalars(sa.select(ChargeRun.arrangement_id).where(ChargeRun.month == month)))
    session.rollback()
    todo = [aid for aid in ids if aid not in done_before]
    charged, problems = 0, []
    for i in range(0, len(todo), BATCH):
        batch = todo[i:i + BATCH]
        try:
            charged += len(charge_month(session, batch, month, user_id)[1])
            session.commit()
        except LedgerError:
            session.rollback()
            for aid in batch:  # one by one, so one closed fund does not hold up the rest
                try:
                    charged += len(charge_month(session, [aid], month, user_id)[1])
                    session.commit()
                except LedgerError as e:
                    session.rollback()
                    problems.append(f"arrangement {aid}: {e.message}")
    return charged, len(done_before), problems


def init_app(app: Flask) -> None:
    @app.cli.group("shared")
    def shared_cli():
        """Shared support: sleep-ins and background support."""

    @shared_cli.command("charge")
    @click.argument("month")
    def charge_cmd(month):
        """Charge MONTH (YYYY-MM) for every shared arrangement (again: charges nothing more)."""
        try:
            first = month_of(month)
        except LedgerError as e:
            raise click.BadParameter(e.message, param_hint="MONTH") from None
        try:
            charged, already, problems = charge_all(db.session, first)
        except LedgerError as e:
            db.session.rollback()
            raise click.ClickException(e.message) from None
        click.echo(f"{first:%Y-%m}: {charged} arrangement(s) charged, {already} already charged before")
        for line in problems:
            click.echo(f"NOT CHARGED {line}", err=True)
        if problems:
            sys.exit(1)
