"""Clawbacks and closed funds: what a transaction alone cannot say (notice given, method, where
the balance went), kept beside the transactions and never changed."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import BigId, Pence, db, utcnow


class Clawback(db.Model):
    """The council recovering surplus: repaid from the fund, or withheld from an instalment."""

    __tablename__ = "clawbacks"
    __table_args__ = (sa.CheckConstraint("method IN ('repayment', 'deduction')", name="method"),
                      sa.CheckConstraint("amount_pence > 0", name="positive"))
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), index=True)
    date: Mapped[date]
    amount_pence: Mapped[Pence]
    reference: Mapped[str | None] = mapped_column(sa.String(200))
    notice_given_on: Mapped[date | None]
    method: Mapped[str] = mapped_column(sa.String(20))
    override_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # The surplus recoverable on the day, as worked out when it was recorded.
    recoverable_pence: Mapped[Pence]
    transaction_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("transactions.id"), unique=True)
    # A deduction: the withheld part of the instalment, recorded as a fee-exempt council receipt.
    receipt_id: Mapped[int | None] = mapped_column(sa.ForeignKey("receipts.id"), unique=True)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FundClosing(db.Model):
    """How a fund was closed: the date, where the balance went, and the final statement."""

    __tablename__ = "fund_closings"
    __table_args__ = (sa.CheckConstraint("destination IN ('council', 'transfer')", name="destination"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), unique=True)
    date: Mapped[date]
    destination: Mapped[str] = mapped_column(sa.String(20))
    reference: Mapped[str] = mapped_column(sa.String(200))
    paid_out_pence: Mapped[Pence]
    # None when the fund held nothing to pay out.
    transaction_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"), unique=True)
    statement_id: Mapped[int] = mapped_column(sa.ForeignKey("statements.id"), unique=True)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
