"""One error shape for the whole API: {"error": {"code", "message", "details"}}."""
from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from werkzeug.exceptions import HTTPException

from . import dbstate
from .db import db


class LedgerError(Exception):
    """A request the ledger refuses. Operations raise it; the API turns it into JSON."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, details: dict | None = None, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code:
            self.code = code


class Invalid(LedgerError):
    """The request names something wrong in a field (422)."""

    status = 422
    code = "invalid"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}", {field: [message]})


class BadRequest(LedgerError):
    status = 400
    code = "bad_request"


class DuplicateKey(BadRequest):
    """A JSON object that names one key twice: json.loads would keep the last silently."""

    code = "duplicate_key"

    def __init__(self, key: str):
        key = key if len(key) <= 100 else key[:100] + "..."
        super().__init__(f"the body gives `{key}` more than once", {key: ["given more than once"]})


class UnsupportedMediaType(LedgerError):
    status = 415
    code = "unsupported_media_type"

    def __init__(self):
        super().__init__("send the body as JSON with the header Content-Type: application/json",
                         {"Content-Type": ["must be application/json"]})


class NotFound(LedgerError):
    status = 404
    code = "not_found"


class Forbidden(LedgerError):
    status = 403
    code = "forbidden"


class Unauthorised(LedgerError):
    status = 401
    code = "unauthorised"


class Conflict(LedgerError):
    """A rule of the ledger refuses the write (409)."""


def error_response(status: int, code: str, message: str, details=None, headers=None):
    resp = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    resp.status_code = status
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="isf-ledger"'
    resp.headers.extend(headers or {})
    return resp


def _flatten(messages) -> dict:
    """webargs nests errors by location ({"json": {...}}); callers want field -> messages."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "querystring", "view_args", "form", "headers"}:
        out = {}
        for part in messages.values():
            out.update(part if isinstance(part, dict) else {"_body": part})
        return out
    return messages if isinstance(messages, dict) else {"_body": messages}


def _describe(details: dict) -> str:
    parts = []
    for field, msgs in details.items():
        text = msgs
        if isinstance(msgs, list):
            text = "; ".join(str(m) for m in msgs)
        elif isinstance(msgs, dict):
            text = "; ".join(f"{k}: {v}" for k, v in msgs.items())
        parts.append(f"{field}: {text}")
    return "; ".join(parts)


def init_app(app: Flask) -> None:
    @app.errorhandler(LedgerError)
    def _ledger_error(e: LedgerError):
        db.session.rollback()
        return error_response(e.status, e.code, e.message, e.details)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):
        db.session.rollback()
        data = getattr(e, "data", None) or {}
        messages = data.get("messages")
        if messages:
            details = _flatten(messages)
            status = e.code if e.code in (400, 422) else 422
            if status == 400:
                return error_response(400, "bad_request", "the body is not valid JSON", details)
            return error_response(422, "invalid", "invalid request: " + _describe(details), details)
        code = (e.name or "error").lower().replace(" ", "_")
        return error_response(e.code or 500, code, e.description or e.name)

    @app.errorhandler(IntegrityError)
    def _db_error(e: IntegrityError):
        # Reached only when the database itself refuses a write the rules let through (a
        # trigger, a unique index under a race): nothing was written, so say so as a conflict.
        db.session.rollback()
        app.logger.warning("database refused a write: %s", e.orig)
        return error_response(409, "refused_by_database", "the database refused the change; nothing was written")

    @app.errorhandler(OperationalError)
    @app.errorhandler(ProgrammingError)
    def _db_cannot_serve(e: DBAPIError):
        # The database is not migrated, busy beyond its timeout, or gone: the client is not at
        # fault and nothing was written, so 503 (with Retry-After where waiting helps), never 500.
        try:
            db.session.rollback()
        except DBAPIError:  # the connection itself may be the problem
            pass
        kind = dbstate.kind(e)
        if kind is None:
            raise e
        app.logger.warning(dbstate.unreachable(db.engine, e))
        if kind == "not_migrated":
            return error_response(503, "database_not_migrated", dbstate.UPGRADE)
        if kind == "busy":
            return error_response(503, "database_busy", dbstate.BUSY, headers={"Retry-After": "2"})
        return error_response(503, "database_unavailable", dbstate.UNAVAILABLE, headers={"Retry-After": "10"})
