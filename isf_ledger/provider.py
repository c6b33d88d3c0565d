"""The provider's own details (domain.md "The provider"): who "we" are on every statement, letter
and web page: `name`, `address_lines`, `phone`, `email` and `contact_name` for questions.

One row in `provider_details`. `current()` is what pages and documents read (the defaults until
finance sets them); `GET /api/v1/provider` (anyone signed in), `PATCH /api/v1/provider` (finance,
admin) and `isf-ledger provider set` change it. Documents are drawn from what they are handed
(a render pool has no database), so callers put `current().as_dict()` in the document.
"""
from __future__ import annotations

import re
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime

import click
import sqlalchemy as sa
from flask import Flask, g, has_app_context
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Mapped, mapped_column

from .api_base import ExactBlueprint
from .db import db, utcnow
from .fields import Text
from .idempotency import write
from .work import unit_of_work
from .auth.users import guard

DEFAULT_NAME = "Your support provider"
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,28}[0-9]$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FIELDS = ("name", "address_lines", "phone", "email", "contact_name", "bank_interest")
# What happens to interest the bank pays on client money (accounts/interest.py): `shared` among
# the funds in proportion to their daily balances, or kept by the `provider`. Statements say which.
BANK_INTEREST = ("shared", "provider")


@dataclass(frozen=True)
class ProviderDetails:
    name: str = DEFAULT_NAME
    address_lines: list[str] = field(default_factory=list)
    phone: str | None = None
    email: str | None = None
    contact_name: str | None = None
    bank_interest: str = "shared"

    def as_dict(self) -> dict:
        return asdict(self)


class ProviderRow(db.Model):
    __tablename__ = "provider_details"
    __table_args__ = (sa.CheckConstraint("id = 1", name="one_row"),)
    id: Mapped[int] = mapped_column(primary_key=True)  # always 1: one provider
    name: Mapped[str] = mapped_column(sa.String(200))
    address_lines: Mapped[list] = mapped_column(sa.JSON, default=list)
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    contact_name: Mapped[str | None] = mapped_column(sa.String(200))
    bank_interest: Mapped[str] = mapped_column(sa.String(20), default="shared", server_default="shared")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


def _details(row: ProviderRow | None) -> ProviderDetails:
    if row is None:
        return ProviderDetails()
    return ProviderDetails(row.name, list(row.address_lines or []), row.phone, row.email, row.contact_name,
                           row.bank_interest or "shared")


def current(session=None) -> ProviderDetails:
    """The provider's details as set (read once an app context; a change in it is seen at once)."""
    if has_app_context() and "provider_details" in g:
        return g.provider_details
    details = _details((session or db.session).get(ProviderRow, 1))
    if has_app_context():
        g.provider_details = details
    return details


def document_provider(doc: dict) -> dict:
    """The provider as a document carries it: its own when given, else the current details (the
    defaults where there is no database to ask, as in a render pool given an old document)."""
    if doc.get("provider"):
        return doc["provider"]
    return (current() if has_app_context() else ProviderDetails()).as_dict()


def update(session, changes: dict, user_id: int | None = None) -> ProviderDetails:
    """Set some of the details (the rest stay). The same changes twice leave the same row."""
    row = session.get(ProviderRow, 1)
    if row is None:
        row = ProviderRow(id=1, name=DEFAULT_NAME, address_lines=[])
        session.add(row)
    for key, value in changes.items():
        setattr(row, key, list(value) if key == "address_lines" else value)
    row.updated_at, row.updated_by = utcnow(), user_id
    session.flush()
    details = _details(row)
    if has_app_context():
        g.provider_details = details
    return details


# --- Checking what is given (the API and the command line alike) ---------------------------------

def _line(max_len: int):
    return validate.Length(min=1, max=max_len, error=f"must be 1 to {max_len} characters")


class ProviderPatch(Schema):
    name = Text(validate=_line(200))
    address_lines = fields.List(Text(validate=_line(100)), validate=validate.Length(
        min=1, max=8, error="give 1 to 8 lines"))
    phone = Text(allow_none=True, validate=validate.Regexp(PHONE, error="must be a phone number, such as 0161 496 0000"))
    email = Text(allow_none=True, validate=validate.Regexp(EMAIL, error="must be an e-mail address"))
    contact_name = Text(allow_none=True, validate=_line(200))
    bank_interest = fields.String(validate=validate.OneOf(BANK_INTEREST, error="must be shared or provider"))

    @validates_schema
    def _something(self, data, **kw):
        if not data:
            raise ValidationError(f"give at least one of {', '.join(FIELDS)}", "_schema")
        for key in ("name", "contact_name"):
            if isinstance(data.get(key), str) and not data[key].strip():
                raise ValidationError("must not be blank", key)
        if any(not line.strip() for line in data.get("address_lines") or []):
            raise ValidationError("a line must not be blank", "address_lines")


class ProviderOut(Schema):
    name = fields.String()
    address_lines = fields.List(fields.String())
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    contact_name = fields.String(allow_none=True)
    bank_interest = fields.String()


blp = ExactBlueprint("provider", __name__, url_prefix="/api/v1", description="The provider's own details")


@blp.route("/provider")
class Provider(MethodView):
    @guard()
    @blp.response(200, ProviderOut)
    def get(self):
        """Who "we" are on statements, letters and pages: name, address, phone, e-mail, the contact;
        and what happens to interest on client money (`bank_interest`: `shared` or `provider`)."""
        return current().as_dict()

    @guard()
    @blp.arguments(ProviderPatch)
    @write
    @blp.response(200, ProviderOut)
    def patch(self, args):
        """Change some of the provider's details (those left out stay as they are)."""
        return update(db.session, args, user_id=g.user.id).as_dict()


def init_app(app: Flask) -> None:
    @app.cli.group("provider")
    def provider_cli():
        """The provider's own details, shown on every statement and letter."""

    @provider_cli.command("set")
    @click.option("--name", help="The provider's name.")
    @click.option("--address-line", "address_lines", multiple=True, help="A line of the address (repeat, in order).")
    @click.option("--phone", help="The phone number for questions.")
    @click.option("--email", help="The e-mail address for questions.")
    @click.option("--contact-name", help="Who answers questions.")
    @click.option("--bank-interest", type=click.Choice(BANK_INTEREST),
                  help="Interest on client money: shared among the funds, or kept by the provider.")
    def set_cmd(name, address_lines, phone, email, contact_name, bank_interest):
        """Set the provider's details (those not given stay as they are)."""
        given = {"name": name, "address_lines": list(address_lines) or None, "phone": phone, "email": email,
                 "contact_name": contact_name, "bank_interest": bank_interest}
        try:
            changes = ProviderPatch().load({k: v for k, v in given.items() if v is not None})
        except ValidationError as e:
            for key, problems in e.messages.items():
                click.echo(f"{key}: {'; '.join(map(str, problems))}", err=True)
            sys.exit(2)
        with unit_of_work():
            details = update(db.session, changes)
        click.echo(f"The provider is {details.name}.")

    @provider_cli.command("show")
    def show_cmd():
        """Show the provider's details."""
        for key, value in current().as_dict().items():
            click.echo(f"{key}: {', '.join(value) if isinstance(value, list) else value or '-'}")
