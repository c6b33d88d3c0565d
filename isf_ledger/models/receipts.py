"""Receipts into a fund."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import BigId, Pence, db, utcnow


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
