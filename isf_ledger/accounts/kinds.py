"""The kinds of transaction the engine knows, and what each may do to a fund.

domain.md invariant 4: the provider takes from a fund only its management fee and charges for
support it gave; everything else leaving a fund goes to a named third party, back to the
council, or to a shared arrangement. Invariant 5: a fund goes below zero only through a charge
for support already given (a delivery, a shared charge, a fee) or a reversal; any other payment
out of `available` that would take it below zero is refused with 409.

`post` checks every entry against its kind here, so a new capability declares its kind once and
cannot move money anywhere else; the audit reads the same table to check the books.
"""
from __future__ import annotations

from dataclasses import dataclass

FUND_POTS = frozenset({"available", "contingency"})


@dataclass(frozen=True)
class Kind:
    name: str
    # What a person reads on their ledger for this kind of line.
    label: str
    # Accounts (by account kind) the transaction may touch besides the fund's own pots.
    provider_accounts: frozenset[str]
    # The fund's pots it may take money out of.
    takes_from: frozenset[str] = frozenset()
    # May it take `available` below zero? Only charges for support already given (and reversals).
    may_overdraw: bool = False


def _kind(name, label, provider=(), takes_from=(), may_overdraw=False) -> Kind:
    return Kind(name, label, frozenset(provider), frozenset(takes_from), may_overdraw)


# The fee and support charges move the money out of client money into the provider's own bank
# in the same transaction, so client money always equals the sum of funds.
KINDS: dict[str, Kind] = {k.name: k for k in (
    _kind("receipt", "Money paid in", ("client_money",)),
    _kind("fee", "Management fee", ("fee_income", "client_money", "provider_bank"), ("available",), True),
    _kind("fee_refund", "Management fee refunded", ("fee_income", "client_money", "provider_bank")),
    _kind("delivery", "Support", ("support_income", "client_money", "provider_bank"), ("available",), True),
    _kind("rate_adjustment", "Support: change of rate", ("support_income", "client_money", "provider_bank"),
          ("available",), True),
    _kind("shared_charge", "Shared support", ("shared_arrangement", "client_money", "provider_bank", "void"),
          ("available",), True),
    # The empty places' share of a shared arrangement: the provider's, or the council's where it
    # funds voids; no fund is touched.
    _kind("shared_void", "Shared support: empty places", ("shared_arrangement", "void", "council_voids")),
    _kind("spend", "Bought for you", ("third_parties", "client_money"), ("available",)),
    _kind("contingency_set_aside", "Set aside for contingency", (), ("available",)),
    _kind("contingency_draw", "Contingency used", (), ("contingency",)),
    _kind("clawback", "Returned to the council", ("council_refunds", "client_money"), ("available",)),
    _kind("closing", "Fund closed: balance paid out", ("council_refunds", "third_parties", "client_money"),
          ("available", "contingency")),
)}
# A reversal undoes exactly what it reverses (the engine builds it by negating every leg), so it
# may touch whatever the original touched and may overdraw: it corrects a mistake.
REVERSAL = _kind("reversal", "Correction", (), FUND_POTS, True)


def kind_of(name: str) -> Kind:
    if name == REVERSAL.name:
        return REVERSAL
    return KINDS[name]


def kinds_taking_from_funds() -> dict[str, frozenset[str]]:
    """For the audit: each kind that may take money out of a fund, and where the money may go."""
    return {k.name: k.provider_accounts for k in KINDS.values() if k.takes_from}
