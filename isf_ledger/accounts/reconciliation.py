"""Client money reconciliation: the sum of all funds equals the client money held, to the penny.

A fund below zero is money the provider must make good from its own funds, never from another
person's, so the overdrawn total is reported on its own.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from .bank_statements import clear
from ..ledger.post import balances, provider_accounts
from ..errors import Conflict
from ..money import format_pence
from ..ledger.kinds import kind_of
from .bank_statements import bank_position
from ..models import Account, BankReconciliation, Posting


def reconcile(session, as_of: date | None = None, detail: bool = False, funds: tuple[int, int] | None = None) -> dict:
    """`funds`: the funds' total and what is overdrawn as at `as_of`, when the caller already
    has them (the dashboard's kept figures, checked by the self-audit against the ledger), so
    only the client money account is read."""
    client = provider_accounts(session)["client_money"].id
    if funds is None:
        every = balances(session, None, as_of)
        person_accounts = dict(session.execute(
            sa.select(Account.id, Account.kind).where(Account.person_id.is_not(None))).all())
        funds_total = sum(every.get(a, 0) for a in person_accounts)
        overdrawn = sum(-every.get(a, 0) for a, kind in person_accounts.items()
                        if kind == "available" and every.get(a, 0) < 0)
    else:
        funds_total, overdrawn = funds
        # Nothing dated after `as_of` on the account (its last posting, along its index): its
        # monthly checkpoints alone are its balance, not the month's postings summed.
        last = session.scalar(sa.select(sa.func.max(Posting.date)).where(Posting.account_id == client))
        every = balances(session, [client], None if as_of is None or last is None or last <= as_of else as_of)
    # The bank account is an asset: its postings run negative, so the money held is minus their sum.
    held = -every.get(client, 0)
    return {"as_of": as_of, "funds_total": funds_total, "client_money_held": held,
            "difference": held - funds_total, "funds_overdrawn": overdrawn,
            "reconciles": held == funds_total,
            **bank_position(session, as_of or date.max, held, detail)}


def _lock_completions(session) -> None:
    """Hold the client money account's row until this transaction ends, so a second completion
    waits, then reads the first (PostgreSQL: READ COMMITTED, each statement sees what committed
    before it). SQLite needs nothing: a write begins with BEGIN IMMEDIATE, one writer at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(Account.id).where(Account.code == "provider:client_money").with_for_update())


def complete(session, as_of: date, user_id: int | None) -> dict:
    """Record that the bank, the ledger and the funds agree as at `as_of` (409 unless the bank
    difference and the difference are both 0.00); completing the same date again answers the
    first completion. Completions run one at a time (`_lock_completions`), so two at once cannot
    both pass: the second sees the first."""
    _lock_completions(session)
    done = session.scalar(sa.select(BankReconciliation).where(BankReconciliation.as_of == as_of))
    if done is None:
        later = session.scalar(sa.select(sa.func.max(BankReconciliation.as_of)))
        if later is not None and later > as_of:
            raise Conflict(f"a reconciliation is already completed as at {later.isoformat()}: the next one starts "
                           "from it", {"as_of": f"after {later.isoformat()}"}, code="already_reconciled_later")
        rec = reconcile(session, as_of, detail=True)
        if rec["bank_difference"] is None:
            raise Conflict(f"no bank statement closes on or before {as_of.isoformat()}", code="no_bank_statement")
        if rec["bank_difference"] != 0 or rec["difference"] != 0:
            raise Conflict("the reconciliation does not agree to 0.00: the bank difference is "
                           f"{format_pence(rec['bank_difference'])} and the difference {format_pence(rec['difference'])}",
                           {"bank_difference": format_pence(rec["bank_difference"])}, code="does_not_reconcile")
        done = BankReconciliation(as_of=as_of, bank_balance_pence=rec["bank_balance"],
                                  client_money_held_pence=rec["client_money_held"], completed_by=user_id)
        session.add(done)
        session.flush()
        clear(session, done, rec)
    return {"id": done.id, "as_of": done.as_of, "bank_balance": done.bank_balance_pence,
            "client_money_held": done.client_money_held_pence, "completed_by": done.completed_by,
            "completed_at": done.completed_at}


def report(session, as_of: date) -> dict:
    """The reconciliation as at a date, for its report: the bank statement's balance, each
    outstanding receipt and payment, the balance they make, the client money held and the sum of
    the funds; each unmatched line (with the movement it differs from, if it is one mistyped);
    the bank difference; and who completed it and when, if anyone has."""
    rec = reconcile(session, as_of, detail=True)
    done = session.scalar(sa.select(BankReconciliation).where(BankReconciliation.as_of == as_of))
    last = session.scalar(sa.select(sa.func.max(BankReconciliation.as_of)).where(BankReconciliation.as_of <= as_of))
    who = None
    if done is not None and done.completed_by is not None:
        from ..auth.users import User  # the name of who completed it

        user = session.get(User, done.completed_by)
        who = user.name if user is not None else None

    def movement(m) -> dict:
        return {"transaction_id": m.transaction_id, "date": m.date, "what": kind_of(m.kind).label,
                "description": m.description, "reference": m.reference, "amount": m.amount_pence}

    outstanding = rec.pop("outstanding")
    unmatched = rec.pop("unmatched")
    floor = rec.pop("floor")
    bank = rec["bank_balance"]
    return {**rec,
            "adjusted_bank_balance": None if bank is None else
            bank + rec["outstanding_receipts"] - rec["outstanding_payments"],
            "receipts": [movement(m) for m in outstanding if m.amount_pence > 0],
            "payments": [movement(m) for m in outstanding if m.amount_pence < 0],
            "lines": [{"line_id": ln.id, "date": ln.date, "description": ln.description, "reference": ln.reference,
                       "amount": ln.amount_pence, "near": movement(near) if near else None,
                       "differs_by": ln.amount_pence - near.amount_pence if near else ln.amount_pence}
                      for ln, near in unmatched],
            "since": floor.as_of if floor is not None else None,
            "completed_at": done.completed_at if done else None, "completed_by": who,
            "last_reconciled": last}
