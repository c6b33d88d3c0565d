"""The exports over the API (finance) and the command line:
`GET /api/v1/exports/{format}?from=&to=` and `isf-ledger export --format FORMAT`;
the nominal codes at `GET`/`PUT /api/v1/exports/nominal-codes` and `isf-ledger nominal-codes`."""
from __future__ import annotations

import sys

import click
from flask import Flask, Response, g, stream_with_context
from flask.views import MethodView
from marshmallow import Schema, fields

from ..api_base import ExactBlueprint
from ..db import db
from ..errors import Invalid, LedgerError, NotFound
from ..idempotency import write
from ..work import end_reads, unit_of_work
from ..auth.users import guard
from ..exports import journals as jn
from ..exports import plain_text as pt
from ..exports.books import parse_period

FORMATS = (*pt.FORMATS, *jn.FORMATS)
blp = ExactBlueprint("exports", __name__, url_prefix="/api/v1",
                     description="The books for accountants' tools and the provider's finance system")


class PeriodQuery(Schema):
    # Read as text and checked by books.parse_period, so a bad date is a 422 naming its field.
    from_ = fields.String(data_key="from", load_default=None)
    to = fields.String(load_default=None)


class MappingIn(Schema):
    codes = fields.Dict(keys=fields.String(), values=fields.String(), load_default=None)
    departments = fields.Dict(keys=fields.String(), values=fields.Integer(strict=True), load_default=None)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(f"no export format {fmt!r}: use one of {', '.join(FORMATS)}", {"format": [fmt]},
                       code="unknown_format")
    return fmt


def export(session, fmt: str, start, end, user_id=None):
    """(chunks or bytes, media type, file name, note) for any format; nothing is read until the
    dates and the format are known to be good."""
    check_format(fmt)
    start, end = parse_period(start, end)
    if fmt in pt.FORMATS:
        name = f"isf-books-{start or 'start'}-to-{end or 'end'}.{pt.EXTENSIONS[fmt]}"
        return pt.WRITERS[fmt](session, start, end), pt.MEDIA_TYPES[fmt], name, None
    done = jn.journal_export(session, fmt, start, end, user_id)
    return done.body, done.media_type, done.filename, done.note


@blp.route("/exports/<format>")
@guard()
@blp.arguments(PeriodQuery, location="query")
@blp.response(200)
def export_books(args, format):  # noqa: A002 - the contract names the path part `format`
    """The books of a period (`from`, `to`, both optional, inclusive): `beancount` or `ledger`
    (every account and transaction, balances brought forward, month-end balance assertions), or
    summary journals for `xero`, `sage50` or `sage-accounting` (a zip when they fill more than
    one file). A journal period exported before is named in `X-Export-Note`."""
    body, media_type, name, note = export(db.session, format, args["from_"], args["to"], g.user.id)
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if note:
        headers["X-Export-Note"] = note
        headers["X-Already-Exported"] = "true"
    if isinstance(body, bytes):
        db.session.commit()  # the record that this period went out
        return Response(body, mimetype=media_type, headers=headers)
    return Response(stream_with_context(pt.in_blocks(body)), content_type=media_type, headers=headers)


@blp.route("/exports/nominal-codes")
class NominalCodes(MethodView):
    @guard()
    @blp.response(200)
    def get(self):
        """The nominal code each of our accounts is exported to (and what the account is), and the
        Sage 50 department of each service or house (any other: 0)."""
        return jn.mapping_json(db.session)

    @guard()
    @blp.arguments(MappingIn)
    @write
    @blp.response(200)
    def put(self, args):
        """Set some nominal codes (`codes`: account kind -> 1 to 8 digits) and departments
        (`departments`: service or house -> 0 to 999); the rest keep theirs."""
        return jn.set_mapping(db.session, {k: v for k, v in args.items() if v is not None}, g.user.id)


def init_app(app: Flask) -> None:
    @app.cli.command("export")
    @click.option("--format", "fmt", required=True, type=click.Choice(FORMATS))
    @click.option("--from", "start", metavar="YYYY-MM-DD", help="The first day (default: the first posting).")
    @click.option("--to", "end", metavar="YYYY-MM-DD", help="The last day (default: the last posting).")
    @click.option("--output", type=click.Path(dir_okay=False, writable=True), help="The file (default: stdout).")
    def export_cmd(fmt, start, end, output):
        """Write the books for an accountant's tool (beancount, ledger) or journals for the
        provider's finance system (xero, sage50, sage-accounting)."""
        try:
            with unit_of_work():
                body, _, name, note = export(db.session, fmt, start, end)
                out = open(output, "wb") if output else sys.stdout.buffer
                try:
                    if isinstance(body, bytes):
                        out.write(body)
                    else:
                        for block in pt.in_blocks(body):
                            out.write(block)
                finally:
                    if output:
                        out.close()
                    else:
                        out.flush()
        except LedgerError as e:
            raise click.ClickException(e.message) from None
        if note:
            click.echo(f"Note: {note}.", err=True)
        if output:
            click.echo(f"Wrote {fmt} to {output}.", err=True)

    @app.cli.command("nominal-codes")
    @click.option("--set", "pairs", multiple=True, metavar="KIND=CODE", help="e.g. client_money=1210")
    @click.option("--department", "depts", multiple=True, metavar="SERVICE=N", help="e.g. day_support=3")
    def nominal_codes_cmd(pairs, depts):
        """Show (and with --set / --department, change) the nominal codes our accounts are exported to."""
        try:
            body = {"codes": dict(_pair(p, "--set") for p in pairs)}
            body["departments"] = {k: _number(v) for k, v in (_pair(d, "--department") for d in depts)}
            if pairs or depts:
                with unit_of_work():
                    jn.set_mapping(db.session, {k: v for k, v in body.items() if v}, None)
        except LedgerError as e:
            end_reads()
            raise click.ClickException(e.message) from None
        mapping = jn.mapping_json(db.session)
        for kind, entry in mapping["codes"].items():
            click.echo(f"{kind:20} {entry['code']:>8}  {entry['account']}")
        for option, number in mapping["departments"].items():
            click.echo(f"department {number:>3}  {option}")


def _pair(text: str, option: str) -> tuple[str, str]:
    if "=" not in text:
        raise Invalid(option, f"give NAME=VALUE, not {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _number(text: str):
    return int(text) if text.isdigit() else text
