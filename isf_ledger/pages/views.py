"""The sign-in form, signing out, the home page a signed-in user lands on, and text size."""
from __future__ import annotations

from types import SimpleNamespace

import math
import time
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, g, make_response, redirect, render_template, request, session, url_for
from marshmallow import Schema, fields as mfields, validate

from .. import clock
from ..access import roles_for
from ..db import db, utcnow
from ..money import format_pence
from ..reports.render_pdf import pounds
from ..users import caller_by_id, endpoint_key
from .forms import PageForm
from .frame import TEXT_SIZES, save_text_size
from .signin import locked_until, sign_in

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")

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
    user_id, since = session.get("user_id"), session.get("signed_in_at")
    if not isinstance(user_id, int) or not isinstance(since, int) or time.time() - since > SIGNED_IN_FOR:
        return None
    user = caller_by_id(user_id)
    return user if user is not None and user.active else None


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
    now = utcnow()
    until = locked_until(db.session, name, now)
    if until is not None:
        db.session.rollback()
        at = until.astimezone(clock.UK).strftime("%H:%M")
        resp = _form_again(name, target, f"Too many failed attempts to sign in as this name. "
                                         f"Try again after {at} (UK time).", 429)
        resp.headers["Retry-After"] = str(math.ceil((until - now).total_seconds()))
        return resp
    user = sign_in(db.session, name, password, now)
    who = SimpleNamespace(id=user.id, name=user.name, role=user.role) if user is not None else None
    db.session.commit()
    if who is None:
        return _form_again(name, target, WRONG, 401)
    g.user, user_id = who, who.id  # the audit log names who signed in
    session.clear()  # a new session: nothing from before signing in (its CSRF token too) carries over
    session["user_id"], session["signed_in_at"] = user_id, int(time.time())
    return redirect(target or url_for("pages.home"))


def _form_again(name: str, target: str | None, error: str, status: int):
    return make_response(render_template("pages/login.html", name=name, next=target, error=error), status)


@bp.post("/logout")
def logout():
    """Sign out: the session is emptied (whoever sends the form: it only ever empties their own)."""
    session.clear()
    return redirect(url_for("pages.login"))


@bp.get("/")
@signed_in
def home():
    """A person's home is their money (people.py); everyone else's lists the pages they may use."""
    user = g.user
    if user.role == "person" and user.person_id is not None:
        from .people import money_page  # people.py builds on this module's guard
        return money_page(user.person_id, home=True)
    return render_template("pages/home.html", user=user, links=nav_links())


def nav_links() -> list[dict]:
    """The pages the signed-in user may use, for the navigation and their home: every page a role
    may use is reachable from `/`. The current page is marked."""
    user = g.get("user")
    if user is None:
        return []
    links = [{"href": url_for("pages.home"), "text": "Your money" if user.role == "person" else "Home"}]
    if user.role == "person" and user.person_id is not None:
        from .people import links_for
        links += links_for(user.person_id)
    else:
        from .finance import links_for_role
        links += links_for_role(user.role)
    for link in links:
        link["current"] = link["href"] == request.path
    return links


class TextSizeIn(Schema):
    size = mfields.String(required=True, validate=validate.OneOf(TEXT_SIZES))


@bp.post("/text-size")
@signed_in
def text_size():
    """Make the text normal or large for this user, remembered across sign-ins; back to the page."""
    form = PageForm(TextSizeIn())
    back = local_path(request.form.get("next")) or url_for("pages.home")
    if form.load():
        save_text_size(g.user.id, form.data["size"])
        db.session.commit()
    return redirect(back, 303)
