"""Forms on pages, over the same marshmallow schemas and operations as the API.

    form = PageForm(QueryIn(), labels={"message": "Your question"})
    if request.method == "POST" and form.load():
        return form.write(lambda: url_for(...after raise_query(db.session, **form.data)...))
    return render_template("...", form=form)

`load()` reads the posted fields the schema knows (blank ones as not given), and keeps what was
typed in `form.values` whatever happens. A refusal, by the schema or by the operation (an
`Invalid` names its field), is in `form.errors` as field -> message, shown in the GOV.UK error
summary at the top (always, even for one error) and beside the field by the `pages/form.html`
macros. Every form carries a hidden idempotency key, made when the form is shown: `write` runs the
operation once per key and user, commits, and sends the browser on (303) to the page the operation
names; a second submit of the same form (a double click, a reload) writes nothing and goes to the
same page. The key is kept with the API's (idempotency.py), under a "page:" prefix.

A page shown with a refused form answers as the API would, whichever form it is: 422 for what
was typed, or the operation's own 4xx when it refuses for the state of things (409: a line
reversed already). Every PageForm made in a request is kept in `g`, and `refused_status` (run
after every page) turns the page's 200 into that status when one of them has errors. A browser
shows such a page as it shows any other.
"""
from __future__ import annotations

import re
import secrets
from typing import Callable

import sqlalchemy as sa
from flask import g, redirect, request
from marshmallow import Schema, ValidationError, fields
from marshmallow.validate import OneOf

from ..db import db
from ..errors import LedgerError
from ..idempotency import MAX_KEY_LENGTH, IdempotencyRecord, once

KEY_FIELD = "idempotency_key"
NOT_FIELDS = {"csrf_token", KEY_FIELD}


class PageForm:
    def __init__(self, schema: Schema, *, labels: dict[str, str] | None = None,
                 messages: dict[str, str] | None = None, values: dict[str, str] | None = None,
                 also: tuple[str, ...] = ()):
        self.schema = schema
        self.also = also  # the page's fields beyond the schema's (a file), whose refusals show beside them
        self.labels = labels or {}
        self.messages = messages or {}  # field -> what to say when it is refused, in plain words
        self.values: dict[str, str] = dict(values or {})
        self.errors: dict[str, str] = {}
        self.status = 422  # what a page showing this form refused answers (refused_status)
        self.data: dict = {}
        self.key = request.form.get(KEY_FIELD) if request.method == "POST" else None
        if not self.key or len(self.key) > MAX_KEY_LENGTH:
            self.key = secrets.token_urlsafe(24)
        g.setdefault("page_forms", []).append(self)  # refused_status reads them once the page is made

    def load(self) -> bool:
        """Read the posted form through the schema: True with `data` loaded, else False with `errors`."""
        self.values = {k: v for k, v in request.form.items() if k not in NOT_FIELDS}
        try:
            self.data = self.schema.load(self.given())
        except ValidationError as e:
            self.refuse(e.messages)
            return False
        return True

    def given(self) -> dict:
        """What was typed as the API's JSON would give it: the schema's fields, blank ones left out.
        A form whose fields are not the schema's one for one (a plan's lines) builds it itself."""
        names = self.names()
        return {k: typed(names[k], v.strip()) for k, v in self.values.items() if k in names and v.strip() != ""}

    def refuse(self, details: dict) -> None:
        """Show `details` (field -> messages, as in the API's errors) beside their fields."""
        for field, msgs in details.items():
            field = field if field in self.names() or field in self.also else "_form"
            text = self.messages.get(field) or self.where(field, _first(msgs))
            self.errors.setdefault(field, text[:1].upper() + text[1:])

    def where(self, field: str, text: str) -> str:
        """A schema's own words for a field left out or mistyped ("Missing data for required
        field.") say what is wrong but not where; in the error summary each one says its field:
        "Date received: fill this in" for one left out, "Amount: use pounds and pence, like 12.50"."""
        if field == "_form" or text.strip() not in MISSING and text.strip().casefold() not in PLAIN:
            return text
        label = re.sub(r"\s*\([^)]*\)\s*$", "", self.labels.get(field) or field.replace("_", " ").capitalize())
        label = label.rstrip("?: ")
        if text.strip() in MISSING:
            schema_field = self.names().get(field)
            choose = isinstance(schema_field, fields.Boolean) or any(
                isinstance(v, OneOf) for v in getattr(schema_field, "validators", []))
            return f"{label}: {'choose one' if choose else 'fill this in'}"
        return f"{label}: {PLAIN[text.strip().casefold()]}"

    def uploaded(self, *, missing: str, empty: str):
        """The posted file (field `file`) and its bytes, or None with `missing` or `empty` beside it."""
        upload = request.files.get("file")
        data = upload.read() if upload is not None else b""
        if upload is not None:
            upload.stream.seek(0)  # the form key's request hash reads it again
        if upload is None or not upload.filename:
            self.errors["file"] = missing
        elif not data:
            self.errors["file"] = empty
        else:
            return upload, data
        return None

    def refuse_error(self, e: LedgerError) -> None:
        """Show an operation's refusal: beside the fields it names, else its message at the top (a
        refusal naming no field of the form, such as an arrangement's id, says why in words)."""
        details = e.details if isinstance(e.details, dict) else {}
        known = set(self.names()) | set(self.also)
        if any(k in known or k.split("-")[0] in known for k in details):
            self.refuse(details)
        else:
            self.refuse({"_form": [e.message]})

    def names(self) -> dict:
        """The schema's fields by the names a request gives them (a field's data_key: `from`)."""
        return {(f.data_key or k): f for k, f in self.schema.fields.items()}

    def error_list(self) -> list[dict]:
        """The GOV.UK error summary's list: each error, linked to its field."""
        return [{"text": text, "href": f"#{field}" if field != "_form" else "#main-content"}
                for field, text in self.errors.items()]

    def replayed(self):
        """The redirect this form's key was answered with when it was written, or None: for a form
        whose fields depend on what is written (a week's sessions no longer offered once recorded),
        a second submit is answered before its fields are read."""
        seen = _recorded(f"page:{self.key}") if request.method == "POST" else None
        return redirect(seen.body, 303) if seen is not None else None

    def write(self, operation: Callable[[], str]):
        """Run `operation` (it writes and returns the path to go on to) once for this form's key,
        commit, and redirect there; a refusal is rolled back and shown on the form (returns None)."""
        try:
            target = once(f"page:{self.key}", operation, lambda path: (303, path), lambda seen, _: seen.body)
        except LedgerError as e:
            self.refuse_error(e)
            self.status = e.status if 400 <= e.status < 500 else 422
            return None
        return redirect(target, 303)


MISSING = {"Missing data for required field.", "Field may not be null."}  # marshmallow's words
PLAIN = {  # marshmallow's and money.py's words for a mistyped field -> plain words, the field named before them
    "not a valid integer.": "enter a whole number, like 4",
    "not a valid number.": "enter a number, like 2.5",
    "not a decimal number": "enter a number, like 2.5",
    "not a valid date.": "enter a real date",
    "not a valid boolean.": "choose yes or no",
    "not a valid string.": "enter it as text",
    'not an amount of money: use pounds and pence, e.g. "12.50"': "use pounds and pence, like 12.50",
}


def refused_status(response):
    """A page shown with a refused form (errors in the summary, what was typed kept) answers the
    form's status (422, or the operation's 409) rather than 200, as the API does: a refusal is
    never an OK. Redirects and statuses a page set itself are left as they are."""
    if response.status_code == 200 and response.mimetype == "text/html":
        refused = next((form for form in g.get("page_forms", ()) if form.errors), None)
        if refused is not None:
            response.status_code = refused.status
    return response


def typed(field, text: str):
    """What a form's text is as JSON would send it: a checkbox's "true" or "false" for a flag
    (the API takes only JSON's true and false), whole numbers for an integer field; anything else
    stays text, for the schema to refuse in its own words."""
    if isinstance(field, fields.Boolean) and text in ("true", "false"):
        return text == "true"
    if isinstance(field, fields.Integer) and text.lstrip("-").isdigit() and len(text) <= 12:
        return int(text)
    return text


def _recorded(key: str) -> IdempotencyRecord | None:
    return db.session.scalar(sa.select(IdempotencyRecord).where(IdempotencyRecord.user_id == g.user.id,
                                                                IdempotencyRecord.key == key))


def _first(msgs) -> str:
    if isinstance(msgs, dict):
        return _first(next(iter(msgs.values()), "is not valid"))
    if isinstance(msgs, (list, tuple)):
        return _first(msgs[0]) if msgs else "is not valid"
    return str(msgs)
