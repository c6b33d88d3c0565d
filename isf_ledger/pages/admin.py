"""Admins' pages: the users (list, create with a role, a linked person or council and a
password, disable) over users.create_user and users.disable_user (as `isf-ledger users disable`).
The new user's API token is shown once, on the page the create goes on to. Disabling asks first:
a check page names the user and says they will be signed out at once, and its form's key makes
a double submit disable once."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask import g, render_template, request, session, url_for
from marshmallow import Schema, fields, validate

from ..accounts.people import DIRECTORY
from ..db import db
from ..errors import Invalid, NotFound
from ..auth.users import MAX_ID, ROLES, User, create_user, disable_user as disable
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
    """Disabling names the user in its path: the form carries only its key."""


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
                           disabled=_user(request.args["disabled"]) if request.args.get("disabled") else None)


def _create(data: dict) -> str:
    try:
        user, token = create_user(db.session, DIRECTORY, **data)
    except click.BadParameter as e:
        raise Invalid(PARAMS.get(e.param_hint, "_form"), e.message)
    session["new_token"] = token
    return url_for("pages.users", created=user.id)


@bp.route("/admin/users/<int:user_id>/disable", methods=["GET", "POST"])
@signed_in
def disable_user(user_id: int):
    """Disable a user, once they are checked: the page names them and says they will be signed
    out at once; its button disables them (their token and password stop working and their
    sessions end). A second submit of the same form disables nothing more."""
    user = _user(user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    form = PageForm(DisableIn())
    if request.method == "POST":
        done = form.write(lambda: _disable(user_id))
        if done is not None:
            return done
    return render_template("pages/admin_user_disable.html", title=f"Disable {user.name}?", user=user, form=form,
                           error_count=len(form.errors), yourself=user.id == g.user.id)


def _user(user_id) -> User | None:
    text = str(user_id)
    return db.session.get(User, int(text)) if text.isdigit() and int(text) <= MAX_ID else None


def _disable(user_id: int) -> str:
    user = db.session.get(User, user_id)
    if user.id == g.user.id:
        raise Invalid("_form", "You cannot disable yourself: ask another admin")
    if not user.active:
        raise Invalid("_form", f"{user.name} is disabled already")
    disable(db.session, user)
    return url_for("pages.users", disabled=user.id)


def links_for_admin() -> list[dict]:
    return [{"href": url_for("pages.users"), "text": "Users"}, {"href": url_for("pages.audit_log"), "text": "Audit log"}]
