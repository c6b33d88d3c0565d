"""The provider's dashboard and the councils' monthly actuals, over the API and the CLI."""
from __future__ import annotations

import sys

import click
from flask import Flask, Response, g
from marshmallow import Schema, fields, validate

from .. import clock
from .councils import COUNCIL
from ..accounts.councils import find_council
from ..api_base import ExactBlueprint
from ..db import db
from ..auth.users import guard
from ..reports import actuals as ac
from ..reports import current
from ..reports import dashboard as dash
from ..clock import parse_month
from ..work import end_reads, unit_of_work

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
dashboard_blp = ExactBlueprint("dashboard", __name__, url_prefix="/api/v1", description="The provider's dashboard")
actuals_blp = ExactBlueprint("actuals", __name__, url_prefix="/api/v1", description="Councils' monthly actuals")
SORT_NAMES = [p + k for k in dash.SORTS for p in ("", "-")]


class DashboardQuery(Schema):
    as_of = fields.Date(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(1, 10**6))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    sort = fields.String(load_default="name", validate=validate.OneOf(SORT_NAMES))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "xlsx")))


@dashboard_blp.route("/dashboard")
@guard()
@dashboard_blp.arguments(DashboardQuery, location="query")
@dashboard_blp.response(200)
def dashboard(args):
    """Every fund's balance, weeks of budget held, surplus above threshold, arrears, contingency,
    bank liability, overdrawn amount and alerts as at a date (default today), a page at a time,
    sorted by `sort` (a figure's name, `-` first for largest first); the totals, with what the
    provider must make good and all funds against client money. `?format=xlsx`: the whole list."""
    as_of = args["as_of"] or clock.today()
    if args["format"] == "xlsx":
        return Response(dash.render_xlsx(db.session, as_of, args["sort"]), mimetype=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="dashboard-{as_of}.xlsx"'})
    if as_of == clock.today():  # today's figures are kept beside the ledger (reports/current.py)
        if current.stale(db.session, as_of):
            end_reads()
            with unit_of_work() as session:
                session.connection(execution_options=current.WRITES)
                current.refresh(session, as_of)
        return current.dashboard(db.session, as_of, page=args["page"], per_page=args["per_page"], sort=args["sort"])
    return dash.dashboard(db.session, as_of, page=args["page"], per_page=args["per_page"], sort=args["sort"])


class ActualsQuery(Schema):
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx", "json")))


def _export(council, month: str, fmt: str):
    first = parse_month(month)
    rows = ac.actuals(db.session, council, first)
    if fmt == "json":
        return rows, "application/json", "json"
    if fmt == "xlsx":
        return ac.to_xlsx(rows, council, first), XLSX, "xlsx"
    return ac.to_csv(rows), "text/csv", "csv"


@actuals_blp.route("/councils/<int:council_id>/actuals/<month>")
@guard(COUNCIL)
@actuals_blp.arguments(ActualsQuery, location="query")
@actuals_blp.response(200)
def council_actuals(args, council_id, month):
    """The council's actuals for a month (YYYY-MM): per person, planned and delivered hours and
    the rest, their cost, shared support; the empty places the council funds as their own rows.
    `?format=csv` (default) or `xlsx`; finance, and the council's own auditors."""
    body, mimetype, ext = _export(g.council, month, args["format"])
    if ext == "json":
        return body
    name = f"actuals-{g.council.id}-{month}.{ext}"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def init_app(app: Flask) -> None:
    @app.cli.command("actuals")
    @click.argument("council")
    @click.argument("month")
    @click.option("--format", "fmt", type=click.Choice(("csv", "xlsx")), default="csv")
    @click.option("--output", type=click.Path(dir_okay=False, writable=True), help="The file (default: stdout for CSV).")
    def actuals_cmd(council, month, fmt, output):
        """Write COUNCIL's actuals for MONTH (YYYY-MM) as CSV or XLSX."""
        found = find_council(db.session, council)
        if found is None:
            raise click.BadParameter(f"no council named {council!r}", param_hint="COUNCIL")
        try:
            body, _, _ = _export(found, month, fmt)
        except Exception as e:  # noqa: BLE001 - a bad month is one line, not a traceback
            from ..errors import LedgerError
            if not isinstance(e, LedgerError):
                raise
            raise click.BadParameter(e.message, param_hint="MONTH") from None
        end_reads()
        if output:
            with open(output, "wb") as f:
                f.write(body)
            click.echo(f"Wrote {found.name}'s actuals for {month} to {output}.")
        elif fmt == "csv":
            sys.stdout.write(body.decode("utf-8"))
        else:
            raise click.BadParameter("give --output FILE for xlsx", param_hint="--output")
