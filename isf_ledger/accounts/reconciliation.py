"""Client money reconciliation: the sum of all funds equals the client money held, to the penny.

A fund below zero is money the provider must make good from its own funds, never from another
person's, so the overdrawn total is reported on its own.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from .bank_statements import bank_position
from .ledger import balances, provider_accounts
from .models import Account


def reconcile(session, as_of: date | None = None) -> dict:
    every = balances(session, None, as_of)
    person_accounts = dict(session.execute(
        sa.select(Account.id, Account.kind).where(Account.person_id.is_not(None))).all())
    funds_total = sum(every.get(a, 0) for a in person_accounts)
    overdrawn = sum(-every.get(a, 0) for a, kind in person_accounts.items()
                    if kind == "available" and every.get(a, 0) < 0)
    # The bank account is an asset: its postings run negative, so the money held is minus their sum.
    held = -every.get(provider_accounts(session)["client_money"].id, 0)
    return {"as_of": as_of, "funds_total": funds_total, "client_money_held": held,
            "difference": held - funds_total, "funds_overdrawn": overdrawn,
            "reconciles": held == funds_total,
            **bank_position(session, as_of or date.max, held)}
