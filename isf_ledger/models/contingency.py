"""Contingency movements: money set aside from `available` into `contingency`, and draws back."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import BigId, Pence, db, utcnow


class ContingencyMovement(db.Model):
    """One set-aside or draw, beside the transaction that moved the money; never changed.

    A mistaken one is corrected by reversing its transaction; the reversal is read from the
    ledger, so this row needs no flag."""

    __tablename__ = "contingency_movements"
    __table_args__ = (sa.CheckConstraint("kind IN ('set_aside', 'draw')", name="kind"),
                      sa.CheckConstraint("amount_pence > 0", name="positive"))
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    date: Mapped[date]  # the day it happened (the transaction's date may move past an issued month)
    amount_pence: Mapped[Pence]
    reason: Mapped[str | None] = mapped_column(sa.String(500))  # draws: what the extra need was
    authorised_by: Mapped[str | None]  # draws: who agreed it
    transaction_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("transactions.id"), unique=True)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
