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


IDEMPOTENCY_KEY_DOC = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "schema": {"type": "string", "maxLength": 200},
    "description": "Send one per intended write: a replay returns the first answer and writes "
                   "nothing; the same key with another request is refused with 409.",
}
