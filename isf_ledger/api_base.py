"""The API's blueprint: request bodies are read as exact JSON (numbers as Decimal, never float)."""
from __future__ import annotations

import json
from decimal import Decimal

from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields
from webargs.flaskparser import FlaskParser, is_json_request

from .errors import DuplicateKey, UnsupportedMediaType


def unique_keys(pairs: list) -> dict:
    """json's object_pairs_hook: a key given twice is refused (DuplicateKey), never read as its last value."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def loads_exact(text: str | bytes):
    """A request body as the API reads it: numbers with a fraction as Decimal, never float, and no
    key given twice in any object, at any depth."""
    return json.loads(text, parse_float=Decimal, object_pairs_hook=unique_keys)


class ExactParser(FlaskParser):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._schemas: dict[type, Schema] = {}

    def _get_schema(self, argmap, req):
        # flask-smorest hands over the schema class: made once, not on every request (a schema
        # keeps no state between loads).
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas[argmap] = argmap()
            return schema
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req):
        # Reached only for views that take a JSON body, after `guard`, so the contract's order
        # holds: 401/403/404 first, then this 415 among the checks of the body (400/422).
        if not is_json_request(req):
            raise UnsupportedMediaType()
        raw = req.get_data(cache=True)
        try:
            return loads_exact(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        except (ValueError, RecursionError) as e:  # too deep, or an integer too long to read
            if isinstance(e, json.JSONDecodeError):
                raise
            raise json.JSONDecodeError(f"cannot be read: {type(e).__name__}", "?", 0) from e


class ExactBlueprint(Blueprint):
    ARGUMENTS_PARSER = ExactParser()


class ErrorDetail(Schema):
    code = fields.String(metadata={"description": "what went wrong, e.g. invalid, fund_closed"})
    message = fields.String(metadata={"description": "a sentence naming the field or rule"})
    details = fields.Dict(metadata={"description": "field -> messages, or facts about the refusal"})


class ErrorEnvelope(Schema):
    error = fields.Nested(ErrorDetail)


class LedgerApi(Api):
    """flask-smorest's Api, documenting the contract's error shape."""

    ERROR_SCHEMA = ErrorEnvelope

    # Answers any operation may give, in the contract's order, beyond what each view documents.
    COMMON_ERRORS = {
        "400": "the body cannot be read (not JSON, a key given twice)",
        "401": "no token, or one that is unknown or disabled",
        "403": "the role may not do this, or the fund is outside the user's scope",
        "404": "no such id in the path",
        "409": "refused by a rule: the fund is closed, not enough money, already done, a reused Idempotency-Key",
        "415": "a body that is not application/json (Content-Type must say so)",
        "503": "the database is busy (Retry-After says when to try again), unmigrated or unreachable",
    }

    def document_errors(self) -> None:
        """Add the common error answers to every operation of the OpenAPI document: each view
        documents its success and 422; these come from the guard, the parser and the engine."""
        for name, text in self.COMMON_ERRORS.items():
            self.spec.components.response(f"ERROR_{name}", {
                "description": text,
                "content": {"application/json": {"schema": self.ERROR_SCHEMA}}})
        for path, operations in self.spec._paths.items():  # apispec keeps paths here; no public reader
            for method, op in operations.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                codes = ["401", "403", "503"]
                if "{" in path:
                    codes.append("404")
                if method != "get":
                    codes += ["400", "409"]
                    if "application/json" in op.get("requestBody", {}).get("content", {}):
                        codes.append("415")
                responses = op.setdefault("responses", {})
                for code in codes:
                    responses.setdefault(code, {"$ref": f"#/components/responses/ERROR_{code}"})


IDEMPOTENCY_KEY_DOC = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "schema": {"type": "string", "maxLength": 200},
    "description": "Send one per intended write: a replay returns the first answer and writes "
                   "nothing; the same key with another request is refused with 409.",
}
