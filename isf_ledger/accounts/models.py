"""Tables of the restricted-fund ledger. The rules that use them live in the modules named for them."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import BigId, Pence, db, utcnow


class Council(db.Model):
    """A commissioning council and its rule profile; a blank rule means the provider's default."""

    __tablename__ = "councils"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    surplus_threshold_weeks: Mapped[int | None]
    payment_cycle: Mapped[str | None] = mapped_column(sa.String(20))
    bank_expiry_days: Mapped[int | None]
    surplus_notice_days: Mapped[int | None]
    contribution_spent_first: Mapped[bool | None]
    voids_funded_by_council: Mapped[bool | None]


class Person(db.Model):
    __tablename__ = "people"
    __table_args__ = (sa.UniqueConstraint("council_id", "council_reference"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id"), index=True)
    council_reference: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    council: Mapped[Council] = relationship()
    fund: Mapped["Fund"] = relationship(back_populates="person", uselist=False)


class Fund(db.Model):
    """A person's Individual Service Fund: one cost centre, locked while money moves in it."""

    __tablename__ = "funds"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), unique=True)
    opened_on: Mapped[date]
    closed_on: Mapped[date | None]
    # First day of the last month whose statement was issued: nothing more may be dated up to
    # the end of that month (late items move to the next open month).
    issued_through: Mapped[date | None]

    person: Mapped[Person] = relationship(back_populates="fund")


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
    """

    __tablename__ = "account_months"
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)  # first day of the month
    net_pence: Mapped[Pence] = mapped_column(default=0)


class PlanVersion(db.Model):
    """One effective-dated version of a person's support plan; later versions never rewrite it."""

    __tablename__ = "plan_versions"
    __table_args__ = (sa.UniqueConstraint("person_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), index=True)
    version: Mapped[int]
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    annual_budget_pence: Mapped[Pence]
    payment_cycle: Mapped[str | None] = mapped_column(sa.String(20))
    management_fee_rate: Mapped[Decimal]
    contingency_amount_pence: Mapped[Pence]
    weekly_client_contribution_pence: Mapped[Pence]
    planned_weekly_hours: Mapped[dict] = mapped_column(sa.JSON)  # service -> "hours" string
    rate_overrides: Mapped[dict] = mapped_column(sa.JSON)  # service -> "rate" string
    surplus_threshold_weeks: Mapped[int | None]
    bank_expiry_days: Mapped[int | None]
    surplus_notice_days: Mapped[int | None]
    contribution_spent_first: Mapped[bool | None]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    budget_lines: Mapped[list["BudgetLine"]] = relationship(order_by="BudgetLine.id", lazy="selectin")


class BudgetLine(db.Model):
    """What part of the budget is for: a Lancashire domain, the outcome sought, the yearly amount."""

    __tablename__ = "budget_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_versions.id"), index=True)
    domain: Mapped[str] = mapped_column(sa.String(40))
    outcome: Mapped[str] = mapped_column(sa.String(500))
    annual_amount_pence: Mapped[Pence]


class Rate(db.Model):
    """An entry of the provider's effective-dated rate card."""

    __tablename__ = "rates"
    __table_args__ = (sa.UniqueConstraint("service", "effective_from"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[str] = mapped_column(sa.String(60), index=True)
    unit: Mapped[str] = mapped_column(sa.String(10))
    rate: Mapped[Decimal]
    effective_from: Mapped[date]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Receipt(db.Model):
    """Money paid into a fund, with the fee it bore; both are transactions of the ledger."""

    __tablename__ = "receipts"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), index=True)
    date: Mapped[date]
    amount_pence: Mapped[Pence]
    source: Mapped[str] = mapped_column(sa.String(30))
    reference: Mapped[str | None]
    fee_exempt: Mapped[bool]
    fee_rate: Mapped[Decimal]
    fee_pence: Mapped[Pence]
    transaction_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("transactions.id"), unique=True)
    fee_transaction_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
