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
