"""The API's blueprint: request bodies are read as exact JSON (numbers as Decimal, never float)."""
from __future__ import annotations

import json
from decimal import Decimal

from flask_smorest import Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request


class ExactParser(FlaskParser):
    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        raw = req.get_data(cache=True)
        return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw, parse_float=Decimal)


class ExactBlueprint(Blueprint):
    ARGUMENTS_PARSER = ExactParser()
