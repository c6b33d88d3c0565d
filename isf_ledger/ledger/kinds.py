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
    # Where money taken from the fund must go (the audit checks it): the provider's income for
    # its fee and charges, the arrangement for shared support, out of the client money bank for a
    # payment to someone else; nothing for a move between the fund's own pots.
    to: frozenset[str] = frozenset()


def _kind(name, label, provider=(), takes_from=(), may_overdraw=False, to=()) -> Kind:
    return Kind(name, label, frozenset(provider), frozenset(takes_from), may_overdraw, frozenset(to))


# The fee and support charges move the money out of client money into the provider's own bank
# in the same transaction, so client money always equals the sum of funds.
KINDS: dict[str, Kind] = {k.name: k for k in (
    _kind("receipt", "Money paid in", ("client_money",)),
    _kind("fee", "Management fee", ("fee_income", "client_money", "provider_bank"), ("available",), True,
          ("fee_income",)),
    _kind("fee_refund", "Management fee refunded", ("fee_income", "client_money", "provider_bank")),
    _kind("delivery", "Support", ("support_income", "client_money", "provider_bank"), ("available",), True,
          ("support_income",)),
    _kind("rate_adjustment", "Support: change of rate", ("support_income", "client_money", "provider_bank"),
          ("available",), True, ("support_income",)),
    _kind("shared_charge", "Shared support", ("shared_arrangement", "client_money", "provider_bank"),
          ("available",), True, ("shared_arrangement",)),
    # The empty places' share of a shared arrangement: the provider's, or the council's where it
    # funds voids; no fund is touched.
    _kind("shared_void", "Shared support: empty places", ("shared_arrangement", "void", "council_voids")),
    # Paid straight out of the client money bank to the payee (spend.py): the fund and the bank
    # fall together, and the payee is named on the spend row, not on a provider account.
    _kind("spend", "Bought for you", ("client_money",), ("available",), to=("client_money",)),
    _kind("contingency_set_aside", "Set aside for contingency", (), ("available",)),
    _kind("contingency_draw", "Contingency used", (), ("contingency",)),
    # Paid straight out of the client money bank to the council (or the fund's new holder), as spend is.
    _kind("clawback", "Returned to the council", ("client_money",), ("available",), to=("client_money",)),
    _kind("closing", "Fund closed: balance paid out", ("client_money",), ("available", "contingency"),
          to=("client_money",)),
    # Interest the bank paid on client money (accounts/interest.py): a fund's share into its
    # `available`, or (with no fund) what the provider keeps, into its interest income...
    _kind("interest", "Bank interest", ("client_money", "interest_income")),
    # ...which moves out of client money to the provider's own bank in the same database
    # transaction, as the fee does, so client money still equals the sum of the funds.
    _kind("interest_to_provider", "Bank interest kept by the provider", ("client_money", "provider_bank")),
)}
# A reversal undoes exactly what it reverses (the engine builds it by negating every leg), so it
# may touch whatever the original touched and may overdraw: it corrects a mistake.
REVERSAL = _kind("reversal", "Correction", (), FUND_POTS, True)


def kind_of(name: str) -> Kind:
    if name == REVERSAL.name:
        return REVERSAL
    return KINDS[name]


def outflows() -> dict[str, frozenset[str]]:
    """For the audit: each kind that may take money out of a fund, and the accounts the money
    may go to (none: it stays in the fund, between its pots)."""
    return {k.name: k.to for k in KINDS.values() if k.takes_from}
