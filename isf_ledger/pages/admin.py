"""Admins' pages: the users (list, create with a role, a linked person or council and a
password, disable) over users.create_user and the same `active` flag as `flask users disable`.
The new user's API token is shown once, on the page the create goes on to."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask import abort, g, render_template, request, session, url_for
from marshmallow import Schema, fields, validate

from ..accounts.people import DIRECTORY
from ..db import db
from ..errors import Invalid
from ..auth.users import ROLES, User, create_user
from .forms import PageForm
from .views import bp, signed_in

PARAMS = {"--name": "name", "--role": "role", "--person": "person_id", "--council": "council"}


class UserIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLES, error="Choose a role"))
    person_id = fields.Integer(load_default=None, strict=False, validate=validate.Range(min=1))
    council = fields.String(load_default=None, validate=validate.Length(max=200))
    password = fields.String(required=True, validate=validate.Length(min=12, max=200, error=(
        "The password must be at least 12 characters")))


class DisableIn(Schema):
    user_id = fields.Integer(required=True)


@bp.route("/admin/users", methods=["GET", "POST"])
@signed_in
def users():
    """Every user with their role and link; the form to create one."""
    form = PageForm(UserIn(), labels={"name": "Name", "role": "Role", "person_id": "Person's id (a person's user)",
                                      "council": "Council (an auditor's)", "password": "Password"},
                    messages={"name": "Enter a name", "password": "Enter a password of at least 12 characters"})
    if request.method == "POST" and form.load():
        done = form.write(lambda: _create(form.data))
        if done is not None:
            return done
    form.values.pop("password", None)  # never sent back to the browser
    rows = db.session.scalars(sa.select(User).order_by(User.name)).all()
    token = session.pop("new_token", None) if request.args.get("created") else None
    return render_template("pages/admin_users.html", title="Users", form=form, rows=rows, token=token,
                           roles={r: r.capitalize() for r in ROLES}, error_count=len(form.errors),
                           disable_key=PageForm(DisableIn()).key)


def _create(data: dict) -> str:
    try:
        user, token = create_user(db.session, DIRECTORY, **data)
    except click.BadParameter as e:
        raise Invalid(PARAMS.get(e.param_hint, "_form"), e.message)
    session["new_token"] = token
    return url_for("pages.users", created=user.id)


@bp.post("/admin/users/disable")
@signed_in
def disable_user():
    """Disable a user: their token and password stop working and their sessions end."""
    form = PageForm(DisableIn())
    if not form.load():
        abort(400)
    return form.write(lambda: _disable(form.data["user_id"])) or abort(409)


def _disable(user_id: int) -> str:
    user = db.session.get(User, user_id)
    if user is None:
        raise Invalid("user_id", "no such user")
    if user.id == g.user.id:
        raise Invalid("user_id", "you cannot disable yourself")
    user.active = False
    return url_for("pages.users", disabled=user.id)


def links_for_admin() -> list[dict]:
    return [{"href": url_for("pages.users"), "text": "Users"}]
