"""Command-line work on the accounts: the self-audit, demo data and rostering imports."""
from __future__ import annotations

import sys

import click
from flask import Flask

from ..db import db
from ..workflows.self_audit import audit


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

    app.cli.add_command(import_group)
    app.cli.add_command(figures_group)
    app.cli.add_command(receipt_files_group)


@click.group("figures")
def figures_group():
    """Each fund's kept dashboard figures (derived from the ledger, like the checkpoints)."""


@figures_group.command("rebuild")
def rebuild_figures_cmd():
    """Work every fund's kept dashboard figures out again from the ledger, as at today (what the
    self-audit's check of them asks for when it finds a difference)."""
    from .. import clock
    from ..reports.current import mark_all_stale, refresh

    mark_all_stale(db.session)
    db.session.commit()
    done = refresh(db.session, clock.today())
    click.echo(f"{done} fund(s): figures worked out again")


@click.group("receipt-files")
def receipt_files_group():
    """Receipt files (kept in the database)."""


@receipt_files_group.command("load")
@click.argument("folder", required=False, type=click.Path(file_okay=False, exists=True))
def load_receipt_files_cmd(folder):
    """Carry receipt files an older version kept in FOLDER (default: where it kept them) into the
    database; exit 1 if any row's file is still missing. Running it again loads nothing new."""
    from pathlib import Path

    from ..accounts.receipt_files import legacy_folder, load_folder

    done = load_folder(db.session, Path(folder) if folder else legacy_folder())
    db.session.commit()
    click.echo(f"{done['loaded']} loaded, {done['already']} already in the database")
    for sha256 in done["missing"]:
        click.echo(f"missing: {sha256}", err=True)
    for sha256 in done["wrong_hash"]:
        click.echo(f"not the file its name says (its SHA-256 differs): {sha256}", err=True)
    if done["missing"] or done["wrong_hash"]:
        sys.exit(1)


@click.group("import")
def import_group():
    """Import records from other systems."""


@import_group.command("deliveries")
@click.argument("file", type=click.File("rb"))
def import_deliveries_cmd(file):
    """Import a rostering system's deliveries (CSV or XLSX) whole, or print every bad row and exit 1."""
    from ..errors import LedgerError
    from ..accounts.imports import import_deliveries

    data = file.read()
    bar = None

    def progress(stage, n):
        nonlocal bar
        if stage == "read":  # each row is checked, then written
            bar = click.progressbar(length=2 * n, label="checking, then writing", file=sys.stderr)
        else:
            bar.update(n)

    try:
        result = import_deliveries(db.session, data, filename=getattr(file, "name", ""),
                                   progress=progress)
        db.session.commit()
        if bar is not None:
            bar.render_finish()
    except LedgerError as e:
        db.session.rollback()
        click.echo(f"error: {e.message}", err=True)
        for err in e.details.get("errors", []):
            where = ", ".join(x for x in (f"row {err['row']}" if err["row"] else "",
                                          f"column {err['column']}" if err["column"] else "") if x)
            click.echo(f"  {where + ': ' if where else ''}{err['reason']}", err=True)
        sys.exit(1)
    from ..money import format_pence

    note = " (this file was already imported)" if result["already_imported"] else ""
    click.echo(f"{result['rows']} rows: {result['written']} written, {result['skipped']} skipped, "
               f"{result['people']} people, £{format_pence(result['charged'])} charged{note}")
