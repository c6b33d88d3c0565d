"""The split itself, with no database: for any members, weights, dates and costs, the shares and the
empty places sum exactly to the month's cost, none is negative, and the order of the inputs does
not matter."""
from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from isf_ledger.shared_support.apportion import Member, Version, apportion

START = date(2026, 8, 1)
day = st.integers(0, 150).map(lambda n: START + timedelta(days=n))
weight = st.integers(1, 1_000_000).map(lambda n: Decimal(n) / 10_000)  # 0.0001 to 100, 4 places
version = st.builds(lambda d, cap, nightly, pence: Version(d, cap, pence if nightly else None,
                                                           None if nightly else pence),
                    day, st.integers(1, 8), st.booleans(), st.integers(1, 5_000_000))


@st.composite
def member(draw, person_id):
    starts = draw(day)
    ends = draw(st.none() | st.integers(0, 60).map(lambda n: starts + timedelta(days=n)))
    reviews = draw(st.lists(st.tuples(day, weight), max_size=3))
    terms = {starts: draw(weight)}
    terms.update({d: w for d, w in reviews if d > starts})
    return Member(person_id, starts, ends, tuple(sorted(terms.items())))


@st.composite
def arrangement(draw):
    versions = draw(st.lists(version, min_size=1, max_size=3, unique_by=lambda v: v.effective_from))
    ids = draw(st.lists(st.integers(1, 10_000), max_size=6, unique=True))
    members = [draw(member(pid)) for pid in ids]
    return versions, members


def expected_cost(month: date, versions: list[Version]) -> int:
    """The contract's cost, independently: per night x nights, or weekly x days / 7, rounded once."""
    exact, d = Fraction(0), month
    while d.month == month.month:
        begun = [v for v in versions if v.effective_from <= d]
        if begun:
            v = max(begun, key=lambda v: v.effective_from)
            exact += v.per_night_pence if v.per_night_pence is not None else Fraction(v.weekly_pence, 7)
        d += timedelta(days=1)
    return math.floor(exact + Fraction(1, 2))


@settings(max_examples=300, deadline=None)
@given(arrangement(), st.sampled_from([date(2026, m, 1) for m in (8, 9, 10, 11, 12)]), st.randoms())
def test_shares_sum_to_the_cost_none_negative_and_order_does_not_matter(arr, month, rnd):
    versions, members = arr
    got = apportion(month, versions, members)
    assert got.cost_pence == expected_cost(month, versions)
    parts = [s.share_pence for s in got.shares]
    assert sum(parts) == got.cost_pence
    assert all(p >= 0 for p in parts)
    if got.nights:
        assert got.shares, "a month it ran always has someone or the empty places to pay"
    rnd.shuffle(versions)
    rnd.shuffle(members)
    again = apportion(month, versions, members)
    assert [(s.person_id, s.share_pence, s.weight_days) for s in again.shares] == \
        [(s.person_id, s.share_pence, s.weight_days) for s in got.shares]
    # Each part is within a penny of its exact proportional share.
    for s in got.shares:
        exact = Fraction(got.cost_pence) * Fraction(s.weight_days) / Fraction(got.total_weight_days)
        assert abs(s.share_pence - exact) < 1


def test_the_sleep_in_example_without_a_database():
    members = [Member(pid, date(2026, 10, 1), None, ((date(2026, 10, 1), Decimal(1)),)) for pid in (7, 3)]
    got = apportion(date(2026, 10, 1), [Version(date(2026, 10, 1), 3, 6240)], members)
    assert got.cost_pence == 193440
    assert [(s.person_id, s.share_pence) for s in got.shares] == [(3, 64480), (7, 64480), (None, 64480)]
