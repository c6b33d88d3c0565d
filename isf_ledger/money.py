"""Exact money: integer pence inside, strings of pounds at the edges, never a float.

Every amount the ledger computes is rounded once, ROUND_HALF_UP, where it is first computed;
every amount shared between people is split by the largest remainder so nothing is lost.
"""
from __future__ import annotations

import functools
import math
import re
from fractions import Fraction
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Hashable, Sequence

# A fund larger than a billion pounds is a typing mistake, not a budget.
MAX_PENCE = 100_000_000_000
_MONEY = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,2})?")
_DECIMAL = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,12})?")


class MoneyError(ValueError):
    """A value that is not an exact amount of money."""


def parse_pence(value: object) -> int:
    """'2000.00', '12.5', '7' or an exact JSON number -> pence. Floats and 3+ decimals are refused."""
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError("send money as a string of pounds, e.g. \"12.50\"")
    if isinstance(value, (int, Decimal)):
        value = str(value)
    if not isinstance(value, str) or not _MONEY.fullmatch(value):
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+\.[0-9]{3,}", value):
            raise MoneyError("money has at most two decimal places (pence)")
        raise MoneyError("not an amount of money: use pounds and pence, e.g. \"12.50\"")
    pence = int((Decimal(value) * 100).to_integral_exact())
    if abs(pence) >= MAX_PENCE:
        raise MoneyError("amount is too large")
    return pence


@functools.lru_cache(maxsize=1 << 16)
def format_pence(pence: int) -> str:
    """Pence -> '1800.00' / '-12.50'. Memoised: month end formats about 36 amounts a statement,
    most of them the same few (0, the budget, the instalments)."""
    sign = "-" if pence < 0 else ""
    pounds, p = divmod(abs(int(pence)), 100)
    return f"{sign}{pounds}.{p:02d}"


def format_hundredths(hundredths: int) -> str:
    """Hours or nights kept as integer hundredths -> '3.50' / '-0.25' (not money: its own name)."""
    sign = "-" if hundredths < 0 else ""
    whole, part = divmod(abs(int(hundredths)), 100)
    return f"{sign}{whole}.{part:02d}"


def parse_decimal(value: object, *, max_places: int) -> Decimal:
    """An exact decimal from a string or exact JSON number (rates, weights, hours)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError("send numbers as strings, e.g. \"0.10\"")
    if isinstance(value, (int, Decimal)):
        value = str(value)
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise MoneyError("not a decimal number")
    try:
        d = Decimal(value)
    except InvalidOperation as e:  # pragma: no cover - the pattern already guards this
        raise MoneyError("not a decimal number") from e
    if -d.normalize().as_tuple().exponent > max_places:
        raise MoneyError(f"at most {max_places} decimal places")
    return d


def format_decimal(d: Decimal, *, min_places: int = 2) -> str:
    """A rate or quantity as a string with at least two decimals: '0.10', '18.50', '0.125'."""
    places = max(min_places, -d.normalize().as_tuple().exponent)
    return f"{d:.{places}f}"


def round_half_up(value: Decimal) -> int:
    """A computed amount in pence (possibly fractional) -> whole pence, half away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def apply_rate(pence: int, rate: Decimal) -> int:
    """ROUND_HALF_UP(amount x rate), in pence: a fee on a receipt, a charge for hours."""
    return round_half_up(Decimal(pence) * rate)


def split_largest_remainder(total: int, weights: Sequence[tuple[Hashable, Decimal]]) -> dict:
    """Split `total` pence in proportion to weights so the parts sum exactly to the total.

    Each part gets the floor of its exact share; the pence left over go one each to the largest
    remainders, ties to the earlier entry (callers list people by id, the void share last).
    """
    # Fractions, not Decimals: remainders that are equal must compare equal for ties to go right.
    weight_sum = sum((Fraction(w) for _, w in weights), Fraction(0))
    if weight_sum <= 0:
        raise ValueError("weights must sum to more than zero")
    exact = [(key, Fraction(total) * Fraction(w) / weight_sum) for key, w in weights]
    parts = {key: math.floor(share) for key, share in exact}
    left = total - sum(parts.values())
    order = sorted(range(len(exact)), key=lambda i: -(exact[i][1] - parts[exact[i][0]]))
    for i in order[:left]:
        parts[exact[i][0]] += 1
    assert sum(parts.values()) == total
    return parts
