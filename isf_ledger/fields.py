"""Marshmallow fields for the contract's exact numbers: money, rates, hours and dates."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from marshmallow import ValidationError, fields

from .money import MoneyError, format_decimal, format_pence, parse_decimal, parse_pence

EARLIEST, LATEST = date(1990, 1, 1), date(2100, 12, 31)


class Money(fields.Field):
    """Pounds as a string with two decimals ("1800.00") outside; integer pence inside."""

    def __init__(self, *, minimum: int | None = 0, positive: bool = False, **kw):
        super().__init__(**kw)
        self.minimum, self.positive = minimum, positive
        self.metadata.setdefault("type", "string")
        self.metadata.setdefault("pattern", r"^-?\d+(\.\d{1,2})?$")
        self.metadata.setdefault("example", "1800.00")

    def _serialize(self, value, attr, obj, **kw):
        return None if value is None else format_pence(value)

    def _deserialize(self, value, attr, data, **kw):
        try:
            pence = parse_pence(value)
        except MoneyError as e:
            raise ValidationError(str(e)) from e
        if self.positive and pence <= 0:
            raise ValidationError("must be more than 0.00")
        if self.minimum is not None and pence < self.minimum:
            raise ValidationError("must not be negative")
        return pence


class Exact(fields.Field):
    """An exact decimal as a string ("0.10", "18.50", "3.50"), with bounds and a number of places."""

    def __init__(self, *, places: int = 2, minimum: Decimal | None = Decimal(0),
                 maximum: Decimal | None = None, positive: bool = False, **kw):
        super().__init__(**kw)
        self.places, self.minimum, self.maximum, self.positive = places, minimum, maximum, positive
        self.metadata.setdefault("type", "string")
        self.metadata.setdefault("pattern", r"^\d+(\.\d+)?$")

    def _serialize(self, value, attr, obj, **kw):
        return None if value is None else format_decimal(Decimal(value))

    def _deserialize(self, value, attr, data, **kw):
        try:
            d = parse_decimal(value, max_places=self.places)
        except MoneyError as e:
            raise ValidationError(str(e)) from e
        if self.positive and d <= 0:
            raise ValidationError("must be more than 0")
        if self.minimum is not None and d < self.minimum:
            raise ValidationError(f"must be at least {self.minimum}")
        if self.maximum is not None and d > self.maximum:
            raise ValidationError(f"must be at most {self.maximum}")
        return d


DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NOT_A_DAY = "not a date: use YYYY-MM-DD, e.g. 2026-11-10"


class Day(fields.Date):
    """An ISO date within the years a fund can plausibly have (1990-2100).

    Only YYYY-MM-DD: Python's fromisoformat also reads 20261110, 2026-W46-2 and non-ASCII digits."""

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, str) or not DAY.fullmatch(value):
            raise ValidationError(NOT_A_DAY)
        try:
            d = date.fromisoformat(value)
        except ValueError as e:  # 2026-02-30
            raise ValidationError(NOT_A_DAY) from e
        if not (EARLIEST <= d <= LATEST):
            raise ValidationError(f"must be between {EARLIEST} and {LATEST}")
        return d


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a C0 or C1 control character (NUL, a tab, a line break, DEL...):
    never part of a name, a name of a file or anything else typed on one line."""
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


class Text(fields.String):
    """Free text a database can hold: no NUL characters and no lone surrogates (PostgreSQL refuses
    the first, UTF-8 the second), so such input is a 422 naming the field, never a server error."""

    def _deserialize(self, value, attr, data, **kw):
        text = super()._deserialize(value, attr, data, **kw)
        if self.required and not text.strip():
            raise ValidationError("must not be blank")
        if "\x00" in text:
            raise ValidationError("must not contain NUL characters")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValidationError("is not valid Unicode text") from e
        return text


class Flag(fields.Boolean):
    """true or false and nothing else: a flag that changes money is never guessed from "yes".

    Checked by type: Boolean's truthy set {True} would still take 1 and 1.0, as 1 == True."""

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, bool):
            return value
        raise ValidationError("must be true or false")
