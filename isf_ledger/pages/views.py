"""The pages' blueprint and `signed_in`, which every page stands on; the sign-in form, signing
out, and text size. The home page each role lands on is home.py's."""
from __future__ import annotations

from types import SimpleNamespace

import math
import time
from datetime import datetime
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, g, make_response, redirect, render_template, request, session, url_for
from marshmallow import Schema, fields as mfields, validate

from .. import clock
from ..auth.access import roles_for
from ..db import db, utcnow
from ..work import unit_of_work
from ..fields import has_control_characters
from ..money import format_pence
from ..reports.render_pdf import pounds
from ..auth.users import caller_by_id, end_sessions, endpoint_key
from .forms import PageForm, refused_status
from .frame import TEXT_SIZES, save_text_size
from .signin import reserve_attempt, sign_in

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")

bp.after_request(refused_status)  # a page with a refused form answers 422 (forms.py)

CONTROLS = dict.fromkeys([*range(0x20), *range(0x7F, 0xA0)])  # str.translate: remove them
SIGNED_IN_FOR = 12 * 3600  # seconds a sign-in lasts, however the cookie is kept
WRONG = "The name or password is not right."


@bp.app_template_filter("money")
def money(pence: int) -> str:
    """Pence as pounds to read: 180000 -> '£1,800.00', -1250 -> 'minus £12.50'."""
    return ("minus " if pence < 0 else "") + pounds(format_pence(pence))


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site ('/...'), else None: never another site's address
    ('//evil.example', 'https://...', '/\\evil.example'), so `next` cannot send anyone away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _session_user():
    """The signed-in user, if the session is theirs still: not too old, the user active, and
    signed in under the user's current session epoch (signing out anywhere ends it)."""
    user_id, since, epoch = session.get("user_id"), session.get("signed_in_at"), session.get("epoch")
    if not all(isinstance(v, int) for v in (user_id, since, epoch)) or time.time() - since > SIGNED_IN_FOR:
        return None
    user = caller_by_id(user_id)
    return user if user is not None and user.active and user.session_epoch == epoch else None


def signed_in(view):
    """Send visitors who are not signed in (or whose user is disabled) to the sign-in form; refuse
    roles the access table does not list for the endpoint."""

    @wraps(view)
    def wrapper(*a, **kw):
        user = _session_user()
        if user is None:
            if "user_id" in session:
                session.clear()
            back = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("pages.login", next=back))
        if user.role not in roles_for(endpoint_key(request.endpoint, request.method)):
            return render_template("pages/error.html", title="Not for you",
                                   message=f"A {user.role} user may not see this page."), 403
        g.user = user
        return view(*a, **kw)

    wrapper.guarded = True
    return wrapper


@bp.get("/login")
def login():
    """Show the sign-in form."""
    return render_template("pages/login.html", name="", next=local_path(request.args.get("next")))


@bp.post("/login")
def login_post():
    """Sign in with a name and password, then go on to `next` (a path on this site) or home."""
    name = request.form.get("name", "").strip()[:200]
    password = request.form.get("password", "")
    target = local_path(request.form.get("next"))
    if not name or not password:
        return _form_again(name, target, "Enter your name and your password.", 401)
    if has_control_characters(name):
        return _form_again(name.translate(CONTROLS), target,
                           "A name has no control characters (such as NUL or a line break): "
                           "type your name again.", 400)
    now = utcnow()
    attempt = reserve_attempt(db.session, name, now)  # counted before the password is checked
    if isinstance(attempt, datetime):
        until = attempt
        at = until.astimezone(clock.UK).strftime("%H:%M")
        resp = _form_again(name, target, f"Too many failed attempts to sign in as this name. "
                                         f"Try again after {at} (UK time).", 429)
        resp.headers["Retry-After"] = str(math.ceil((until - now).total_seconds()))
        return resp
    with unit_of_work():
        who = sign_in(db.session, name, password, attempt)
    if who is None:
        return _form_again(name, target, WRONG, 401)
    g.user = SimpleNamespace(id=who.id, name=who.name, role=who.role)  # the audit log names who signed in
    session.clear()  # a new session: nothing from before signing in (its CSRF token too) carries over
    session["user_id"], session["signed_in_at"], session["epoch"] = who.id, int(time.time()), who.session_epoch
    return redirect(target or url_for("pages.home"))


def _form_again(name: str, target: str | None, error: str, status: int):
    return make_response(render_template("pages/login.html", name=name, next=target, error=error), status)


@bp.post("/logout")
def logout():
    """Sign out: the session is emptied and, if it was a signed-in user's, every other session of
    theirs ends too (a cookie copied before signing out no longer signs anyone in). Whoever sends
    the form, it only ever signs out the user whose session it is."""
    user = _session_user()
    if user is not None:
        with unit_of_work():
            end_sessions(db.session, user.id)
        g.user = user  # the audit log names who signed out
    session.clear()
    return redirect(url_for("pages.login"))


class TextSizeIn(Schema):
    size = mfields.String(required=True, validate=validate.OneOf(TEXT_SIZES))


@bp.post("/text-size")
@signed_in
def text_size():
    """Make the text normal or large for this user, remembered across sign-ins; back to the page."""
    form = PageForm(TextSizeIn())
    back = local_path(request.form.get("next")) or url_for("pages.home")
    if form.load():
        with unit_of_work():
            save_text_size(g.user.id, form.data["size"])
    return redirect(back, 303)
