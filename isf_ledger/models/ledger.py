"""The posting engine's tables: accounts, transactions, postings and monthly checkpoints."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import BigId, Pence, db, utcnow


class Account(db.Model):
    """A pot of money: a person's `available` or `contingency`, or one of the provider's accounts."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(80), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id"), index=True)
    name: Mapped[str]


class Transaction(db.Model):
    """One money movement: its postings sum to zero, and it is never changed once written.

    The postings are written first and this header last; the database refuses a header whose
    postings do not balance and any posting added to a transaction already written.
    """

    __tablename__ = "transactions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    date: Mapped[date] = mapped_column(index=True)  # accounting date
    service_date: Mapped[date]  # the day it happened, kept when a closed month moves `date`
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id"), index=True)
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    reverses_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"), unique=True)
    # The transaction this one belongs with (a receipt's fee follows the receipt): reversed together.
    follows_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"), index=True)
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    postings: Mapped[list["Posting"]] = relationship(order_by="Posting.id", viewonly=True)


class TransactionId(db.Model):
    """An allocated transaction id, written with its postings: the database refuses a posting
    for an id never allocated, and SQLite's AUTOINCREMENT never hands out an id twice."""

    __tablename__ = "transaction_ids"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)


class Posting(db.Model):
    """One leg of a transaction: signed pence on one account.

    Positive is a credit: money the provider owes a fund, or has earned. The two bank accounts
    (client money, the provider's own) are assets, so their balances are negative: the client
    money held is minus the client-money account's sum, and equals the sum of all funds.
    """

    __tablename__ = "postings"
    __table_args__ = (
        sa.CheckConstraint("amount_pence <> 0", name="nonzero"),
        sa.Index("ix_postings_account_date_amount", "account_id", "date", "amount_pence"),
        # A month's postings of every account (month end, dashboards) without walking all history.
        sa.Index("ix_postings_date_account_amount", "date", "account_id", "amount_pence"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Deferred: the legs go in before their header, which the database checks for balance.
    transaction_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("transactions.id", deferrable=True, initially="DEFERRED"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    date: Mapped[date]  # the transaction's accounting date, here so balances read one index
    amount_pence: Mapped[Pence]


class AccountMonth(db.Model):
    """Net movement of an account in a month: a checkpoint so balances never re-read all history.

    Derived from postings, kept in the same database transaction, and rebuildable from them.

    A provider account's month is split over `slot`s (ledger.post.CHECKPOINT_SLOTS), one per
    writer's fund: every delivery, receipt and spend moves client money, so one row per month
    would be locked by every writer until it commits and serialise them all. A person's pot has
    only slot 0 (its writers already queue on the fund's lock). Readers sum over the slots.
    """

    __tablename__ = "account_months"
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)  # first day of the month
    slot: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, default=0, server_default="0")
    net_pence: Mapped[Pence] = mapped_column(default=0)


class AccountKindMonth(db.Model):
    """Net movement of a person's pot in a month by the kind of transaction that moved it (a
    reversal under `reversal` with the kind it reverses in `reverses_kind`, else ''): so a
    question about one kind of money over many months (the plan year's use on the dashboard)
    reads a row a month, not every posting.

    Derived from postings, kept in the same database transaction by ledger.post, and rebuildable
    from them (migration 0013 fills it; the self-audit compares it with the postings)."""

    __tablename__ = "account_kind_months"
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)  # first day of the month
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    reverses_kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    net_pence: Mapped[Pence] = mapped_column(default=0)
