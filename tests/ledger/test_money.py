"""Exact money: parsing, formatting, rounding once half-up, splitting by the largest remainder."""
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isf_ledger.money import (MoneyError, apply_rate, format_decimal, format_pence, parse_pence,
                              split_largest_remainder)


@pytest.mark.parametrize("text, pence", [("1800.00", 180000), ("12.5", 1250), ("7", 700), ("0.01", 1),
                                          ("-12.50", -1250), (Decimal("3.10"), 310), (5, 500)])
def test_parse(text, pence):
    assert parse_pence(text) == pence


@pytest.mark.parametrize("bad", ["12.345", "1,000.00", "£5", "", " 5", "5.", ".5", "1e3", "NaN", 1.5, True, None,
                                 "1000000000.00"])
def test_parse_refuses(bad):
    with pytest.raises(MoneyError):
        parse_pence(bad)


@pytest.mark.parametrize("pence, text", [(180000, "1800.00"), (-1250, "-12.50"), (5, "0.05"), (-5, "-0.05"),
                                          (0, "0.00")])
def test_format(pence, text):
    assert format_pence(pence) == text


def test_rates_keep_at_least_two_places():
    assert [format_decimal(Decimal(x)) for x in ("0.1", "18.5", "0.125", "20", "3.50")] == \
        ["0.10", "18.50", "0.125", "20.00", "3.50"]


@pytest.mark.parametrize("pence, rate, want", [(5, "0.10", 1), (25, "0.10", 3), (15, "0.10", 2),
                                               (-25, "0.10", -3), (1850, "1.5", 2775)])
def test_apply_rate_rounds_half_up_where_half_even_would_not(pence, rate, want):
    assert apply_rate(pence, Decimal(rate)) == want


def test_largest_remainder_matches_the_worked_example():
    # £1,934.40 a month, two tenants and one empty place, equal weights: £644.80 each.
    parts = split_largest_remainder(193440, [(1, Decimal(1)), (2, Decimal(1)), ("void", Decimal(1))])
    assert parts == {1: 64480, 2: 64480, "void": 64480}


def test_largest_remainder_ties_go_to_the_earlier_entry():
    assert split_largest_remainder(100, [(1, Decimal(1)), (2, Decimal(1)), ("void", Decimal(1))]) == \
        {1: 34, 2: 33, "void": 33}
    assert split_largest_remainder(101, [(1, Decimal(1)), (2, Decimal(1)), ("void", Decimal(1))]) == \
        {1: 34, 2: 34, "void": 33}


@given(st.integers(0, 10**9), st.lists(st.decimals("0.01", "50", places=2), min_size=1, max_size=8))
def test_largest_remainder_never_loses_a_penny(total, weights):
    parts = split_largest_remainder(total, list(enumerate(weights)))
    assert sum(parts.values()) == total
    exact = [Decimal(total) * w / sum(weights) for w in weights]
    assert all(abs(parts[i] - exact[i]) < 1 for i in range(len(weights)))


def test_largest_remainder_ties_are_exact_even_with_weights_decimals_cannot_divide():
    # Thirds: 28-digit decimals would round 1/3 and 2/3 remainders apart; fractions keep them equal.
    parts = split_largest_remainder(100, [(1, Decimal(1)), (2, Decimal(1)), (3, Decimal(1)),
                                          (4, Decimal(3)), ("void", Decimal(3))])
    assert parts == {1: 11, 2: 11, 3: 11, 4: 34, "void": 33}
    assert sum(parts.values()) == 100
