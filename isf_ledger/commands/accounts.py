"""Command-line work on the accounts: the self-audit, demo data and rostering imports."""
from __future__ import annotations

import sys

import click
from flask import Flask

from ..db import db
from ..work import end_reads, unit_of_work
from ..workflows.self_audit import audit


def init_app(app: Flask) -> None:
    @app.cli.command("audit")
    @click.option("--rebuild-figures", is_flag=True,
                  help="First work every fund's kept dashboard figures out again from the ledger, as at today.")
    def audit_cmd(rebuild_figures):
        """Re-derive every balance, check every invariant; exit 1 on any difference."""
        if rebuild_figures:
            from .. import clock
            from ..reports.current import mark_all_stale, refresh

            with unit_of_work() as session:
                mark_all_stale(session)
                done = refresh(session, clock.today())
            click.echo(f"{done} fund(s): kept dashboard figures worked out again")
        problems = 0
        for name, found in audit(db.session).items():
            click.echo(f"{'ok ' if not found else 'BAD'} {name}")
            for line in found[:20]:
                click.echo(f"    {line}")
            problems += len(found)
        end_reads()
        if problems:
            click.echo(f"{problems} problem(s) found")
            sys.exit(1)
        click.echo("the books hold")

    app.cli.add_command(import_group)
    app.cli.add_command(receipt_files_group)
    app.cli.add_command(bank_group)


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

    with unit_of_work():
        done = load_folder(db.session, Path(folder) if folder else legacy_folder())
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
        with unit_of_work():
            result = import_deliveries(db.session, data, filename=getattr(file, "name", ""),
                                       progress=progress)
        if bar is not None:
            bar.render_finish()
    except LedgerError as e:
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


@click.group("bank")
def bank_group():
    """The client bank account."""


@bank_group.command("interest")
@click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]), help="The day the bank paid it.")
@click.option("--from", "period_from", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="The first day of the period it is for.")
@click.option("--to", "period_to", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="The last day of the period (included).")
@click.option("--amount", help="The interest, e.g. 10.00 (may be left out with --line).")
@click.option("--line", "line_id", type=int, help="The bank statement line it was paid on: matched to it.")
def bank_interest_cmd(day, period_from, period_to, amount, line_id):
    """Record interest the bank paid on client money: shared among the funds by their daily
    balances, or kept by the provider, as the provider's setting (provider set --bank-interest) says."""
    from ..accounts.interest import record_interest
    from ..errors import LedgerError
    from ..money import MoneyError, format_pence, parse_pence
    from ..provider import current

    try:
        pence = None if amount is None else parse_pence(amount)
    except MoneyError as e:
        click.echo(f"error: amount: {e}", err=True)
        sys.exit(2)
    try:
        with unit_of_work():
            out = record_interest(db.session, handling=current(db.session).bank_interest, date=day.date(),
                                  period_from=period_from.date(), period_to=period_to.date(), amount_pence=pence,
                                  line_id=line_id)
    except LedgerError as e:
        click.echo(f"error: {e.message}", err=True)
        sys.exit(1)
    click.echo(f"Interest {out['id']}: £{format_pence(out['amount'])} for {out['period_from']} to "
               f"{out['period_to']}, {out['handling']}" + (f" among {sum(s['posted'] for s in out['shares'])} funds"
                                                            if out["handling"] == "shared" else "") +
               f"; kept by the provider £{format_pence(out['kept_by_provider'])}"
               + (f" (£{format_pence(out['closed_fund_shares'])} of it closed funds' shares, to pay on)"
                  if out["closed_fund_shares"] else ""))
