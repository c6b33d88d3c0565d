"""Queries from the person about their fund, and the provider's answers: history, never edited."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import BigId, db, utcnow


class FundQuery(db.Model):
    """A question about the fund, optionally about one item of it (at most one of a transaction, a
    spend, a delivery or a month's statement). Never changed or removed (the database refuses it):
    its status is read from its answers, so answering writes a new row and changes none."""

    __tablename__ = "fund_queries"
    __table_args__ = (
        sa.CheckConstraint("(CASE WHEN transaction_id IS NULL THEN 0 ELSE 1 END"
                           " + CASE WHEN spend_id IS NULL THEN 0 ELSE 1 END"
                           " + CASE WHEN delivery_id IS NULL THEN 0 ELSE 1 END"
                           " + CASE WHEN statement_month IS NULL THEN 0 ELSE 1 END) <= 1", name="one_item"),
        sa.Index("ix_fund_queries_person_raised", "person_id", "raised_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"))
    message: Mapped[str] = mapped_column(sa.String(2000))
    transaction_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"))
    spend_id: Mapped[int | None] = mapped_column(sa.ForeignKey("spend.id"))
    delivery_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("deliveries.id"))
    statement_month: Mapped[date | None]  # the month's first day
    raised_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)


class QueryAnswer(db.Model):
    """An answer to a query, by finance or a broker; never changed or removed."""

    __tablename__ = "fund_query_answers"
    id: Mapped[int] = mapped_column(primary_key=True)
    query_id: Mapped[int] = mapped_column(sa.ForeignKey("fund_queries.id"), index=True)
    message: Mapped[str] = mapped_column(sa.String(2000))
    answered_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
