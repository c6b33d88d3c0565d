"""Spend on the person's behalf, and the receipt files that evidence it."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import BigId, Pence, db, utcnow


class Spend(db.Model):
    """A payment out of `available` to a named third party; never changed once written.

    An invoice (payee and invoice_reference) is paid once: `payment_number` is 1 for its first
    payment and goes up only when every earlier payment of it was reversed, and the unique
    constraint over the normalised pair makes two racing payments of one invoice impossible."""

    __tablename__ = "spend"
    __table_args__ = (sa.UniqueConstraint("payee_key", "invoice_key", "payment_number"),
                      sa.CheckConstraint("amount_pence > 0", name="positive"),
                      sa.Index("ix_spend_person_id_date", "person_id", "date"))
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"))
    date: Mapped[date]
    amount_pence: Mapped[Pence]
    payee: Mapped[str]
    payee_key: Mapped[str]  # payee case-folded, spaces collapsed: how one payee is recognised
    category: Mapped[str] = mapped_column(sa.String(60))
    domain: Mapped[str] = mapped_column(sa.String(40))
    description: Mapped[str] = mapped_column(sa.String(500))
    invoice_reference: Mapped[str | None] = mapped_column(sa.String(100))
    # A one-off (a holiday, a piece of equipment) is left out of the forecast's recent rate.
    one_off: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    invoice_key: Mapped[str | None] = mapped_column(sa.String(100))
    payment_number: Mapped[int | None]
    transaction_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("transactions.id"), unique=True)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReceiptFile(db.Model):
    """The receipt file of a spend: stored outside the database under its SHA-256, one per spend."""

    __tablename__ = "spend_receipt_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    spend_id: Mapped[int] = mapped_column(sa.ForeignKey("spend.id"), unique=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size_bytes: Mapped[int]
    media_type: Mapped[str] = mapped_column(sa.String(40))  # from the content, never from the name
    original_name: Mapped[str] = mapped_column(sa.String(255))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
