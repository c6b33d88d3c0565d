"""What every page stands on: who may see it (the access table and the one visibility rule, as in
the API), the provider's details and the user's text size on every page, and errors as pages.

A page view is `@bp.get(...)`, then `@signed_in` (views.py: the session's user and their role from
access.ACCESS), then `@visible(PERSON)` when its path names a person's fund: people and auditors
outside their scope get 403 for ids that exist and ids that do not alike (as the API does, so ids
cannot be probed), everyone else 404 for an id that does not exist. Errors raised in a page (a
LedgerError, a 403, a 404, a 500) are HTML pages with the provider's contact; the API keeps JSON.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

import sqlalchemy as sa
from flask import Flask, g, render_template, request, session
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.exceptions import HTTPException, InternalServerError

from .. import provider as provider_details
from ..db import db
from ..errors import Forbidden, LedgerError, NotFound
from ..auth.users import MAX_BIG_ID, RESTRICTED, Scope, can_see_person
from ..work import end_reads

TEXT_SIZES = ("normal", "large")


# --- The provider ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Provider:
    """Who "we" are, on every page (domain.md "The provider"), as provider.current() gives them."""

    name: str
    named: bool = False  # False: no name is set yet, and `name` says "Your support provider"
    address_lines: tuple[str, ...] = ()
    phone: str | None = None
    email: str | None = None
    contact_name: str | None = None


def provider() -> Provider:
    """The provider's details as finance set them (read once per request)."""
    if "provider" not in g:
        p = provider_details.current()
        g.provider = Provider(name=p.name, named=p.name != provider_details.DEFAULT_NAME,
                              address_lines=tuple(p.address_lines), phone=p.phone, email=p.email,
                              contact_name=p.contact_name)
    return g.provider


# --- Text size, remembered for the user -----------------------------------------------------

class PagePreference(db.Model):
    """A user's choices for the pages, kept across sign-ins (the session is emptied at each)."""

    __tablename__ = "page_preferences"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    text_size: Mapped[str] = mapped_column(sa.String(10), default="normal")


def text_size() -> str:
    """The signed-in user's text size: from the session, else their saved choice (read once)."""
    user = g.get("user")
    if user is None:
        return "normal"
    kept = session.get("text_size")
    if kept not in TEXT_SIZES:
        kept = db.session.scalar(sa.select(PagePreference.text_size).where(PagePreference.user_id == user.id))
        kept = kept if kept in TEXT_SIZES else "normal"
        session["text_size"] = kept
    return kept


def save_text_size(user_id: int, size: str) -> None:
    """Remember `size` for the user (the caller commits)."""
    pref = db.session.get(PagePreference, user_id)
    if pref is None:
        db.session.add(PagePreference(user_id=user_id, text_size=size))
    else:
        pref.text_size = size
    session["text_size"] = size


# --- Who may see a page ---------------------------------------------------------------------

def visible(scope: Scope):
    """The API's scope check for a page: after `signed_in`, load what the path names and refuse
    it as the API's guard does (403 for people and auditors outside their scope, 404 for an id
    that does not exist); the thing is left in `g.<scope.name>`."""

    def decorator(view):
        @wraps(view)
        def wrapper(*a, **kwargs):
            ident = kwargs[scope.arg]
            thing, owner = scope.load(ident) if not isinstance(ident, int) or ident <= MAX_BIG_ID else (None, None)
            if g.user.role in RESTRICTED and (thing is None or not can_see_person(g.user, owner)):
                raise Forbidden(f"this {scope.name} is not in a fund you may see")
            if thing is None:
                raise NotFound(f"no {scope.name} with id {ident}")
            setattr(g, scope.name, thing)
            return view(*a, **kwargs)

        return wrapper

    return decorator


# --- Errors as pages ------------------------------------------------------------------------

ERROR_PAGES = {
    400: ("Something was wrong with the request", "The page could not understand what was sent."),
    403: ("You cannot see this page", "This page is not one you may see."),
    404: ("Page not found", "There is no page at this address. Check the address, or go back."),
    405: ("Page not found", "There is no page at this address. Check the address, or go back."),
    409: ("This could not be done", "This could not be done."),
    413: ("The file is too large", "What was sent is too large. Go back and choose a smaller file or photo."),
    422: ("Something was wrong with the request", "The page could not understand what was sent."),
    500: ("Sorry, there is a problem", "Sorry, something went wrong on our side. Try again later."),
    503: ("Sorry, the service is unavailable", "Sorry, the service is not working just now. Try again later."),
}


def error_page(status: int, message: str | None = None):
    title, default = ERROR_PAGES.get(status, ERROR_PAGES[500 if status >= 500 else 400])
    return render_template("pages/error.html", title=title, message=message or default,
                           status=status), status


def is_page_request() -> bool:
    """Everything but the API (and its description) is a page and answers errors as HTML."""
    return not request.path.startswith("/api/")


def init_errors(app: Flask) -> None:
    """Errors as pages for every path but the API's. Call after errors.init_app: the JSON handlers
    it registered still answer the API."""
    handlers = app.error_handler_spec[None][None]
    json_http, json_ledger = handlers[HTTPException], handlers[LedgerError]

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        if not is_page_request():
            return json_http(e)
        end_reads()
        if isinstance(e, InternalServerError):
            app.logger.error("a page failed: %s %s", request.method, request.path,
                             exc_info=e.original_exception)
        return error_page(e.code or 500)

    @app.errorhandler(LedgerError)
    def _ledger(e: LedgerError):
        if not is_page_request():
            return json_ledger(e)
        end_reads()
        # A refused id outside a person's scope names nothing; other refusals say what went wrong.
        return error_page(e.status, None if e.status in (403, 404) else e.message)
