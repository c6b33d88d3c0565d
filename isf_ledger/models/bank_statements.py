"""The client bank account's statements as the bank sent them, and their matches to the ledger."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import BigId, Pence, db, utcnow


class BankStatement(db.Model):
    """One uploaded file: its format and the balance it closes on (kept as received)."""

    __tablename__ = "bank_statements"
    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    format: Mapped[str] = mapped_column(sa.String(30))
    closing_date: Mapped[date | None]
    closing_balance_pence: Mapped[int | None] = mapped_column(sa.BigInteger)
    uploaded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankLine(db.Model):
    """One line of a statement, never edited. `identity` is the bank's id (OFX FITID) or, without
    one, the account, date, amount, description and balance: a line seen before is skipped."""

    __tablename__ = "bank_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_statements.id"), index=True)
    line_no: Mapped[int]
    account: Mapped[str] = mapped_column(sa.String(60), default="")
    date: Mapped[date] = mapped_column(index=True)
    amount_pence: Mapped[Pence]  # signed: money in is positive
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    reference: Mapped[str] = mapped_column(sa.String(140), default="")
    balance_pence: Mapped[int | None] = mapped_column(sa.BigInteger)
    identity: Mapped[str] = mapped_column(sa.String(64), unique=True)


class BankMatch(db.Model):
    """A bank line matched to one client-money movement (a transaction). Append-only: a
    movement is on at most one line."""

    __tablename__ = "bank_matches"
    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_lines.id"), index=True)
    transaction_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("transactions.id"), unique=True)
    how: Mapped[str] = mapped_column(sa.String(20))  # reference, amount, sum, hand
    matched_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    matched_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankReconciliation(db.Model):
    """A reconciliation completed: the bank, the ledger and the funds agreed to the penny as at
    `as_of`; who and when. Append-only."""

    __tablename__ = "bank_reconciliations"
    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(unique=True)
    bank_balance_pence: Mapped[Pence]
    client_money_held_pence: Mapped[Pence]
    completed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankClearing(db.Model):
    """What a completed reconciliation cleared: the statement it closed on, and the highest
    transaction and line it saw, so the next reconciliation reads only what came after and what
    this one carried forward (its `outstanding` and `unmatched` items). Append-only."""

    __tablename__ = "bank_clearings"
    id: Mapped[int] = mapped_column(primary_key=True)
    reconciliation_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_reconciliations.id"), unique=True)
    as_of: Mapped[date]
    bank_date: Mapped[date]
    last_transaction_id: Mapped[int] = mapped_column(BigId, default=0)
    last_line_id: Mapped[int] = mapped_column(default=0)


class BankClearedItem(db.Model):
    """One movement or line at a completed reconciliation: `cleared` (a matched movement and its
    line, for good: no later reconciliation reads it again), `outstanding` (a movement not yet on
    the bank, carried forward) or `unmatched` (a line carried forward). Append-only."""

    __tablename__ = "bank_cleared_items"
    __table_args__ = (
        sa.Index("ix_bank_cleared_items_cleared_transaction", "transaction_id", unique=True,
                 sqlite_where=sa.text("state = 'cleared'"), postgresql_where=sa.text("state = 'cleared'")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    clearing_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_clearings.id"), index=True)
    state: Mapped[str] = mapped_column(sa.String(20))
    transaction_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"))
    line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("bank_lines.id"))
    amount_pence: Mapped[Pence]


class BankInterest(db.Model):
    """Interest the bank paid on client money for a period: shared among the funds (`shared`) or
    kept by the provider (`provider`), by the provider's setting when it was recorded; `kept_pence`
    is what did not go to a fund. Append-only (a mistake is corrected by reversing its transactions)."""

    __tablename__ = "bank_interest"
    __table_args__ = (
        sa.UniqueConstraint("period_from", "period_to"),
        sa.CheckConstraint("handling IN ('shared', 'provider')", name="handling"),
        sa.CheckConstraint("amount_pence > 0", name="amount"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[date]
    period_from: Mapped[date]
    period_to: Mapped[date]
    amount_pence: Mapped[Pence]
    handling: Mapped[str] = mapped_column(sa.String(20))
    kept_pence: Mapped[Pence]
    line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("bank_lines.id"), unique=True)
    # What the provider kept (the interest in, to interest income) and its move to the provider's bank.
    kept_transaction_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"))
    transfer_transaction_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankInterestShare(db.Model):
    """One fund's part of an interest payment: its balance-days over the period (pence x days)
    and its share; `transaction_id` is the fund's `interest` transaction (none for a fund closed
    by then, whose share the provider holds to pay on)."""

    __tablename__ = "bank_interest_shares"
    id: Mapped[int] = mapped_column(primary_key=True)
    interest_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_interest.id"), index=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), index=True)
    balance_days_pence: Mapped[Pence]
    share_pence: Mapped[Pence]
    transaction_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"))
