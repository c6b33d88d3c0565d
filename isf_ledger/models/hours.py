"""Hours: deliveries of support, their reversals, and the rate adjustments that correct their charges.

Quantities are integer hundredths (3.50 h is 350) so the database sums them exactly. Every row
here is history: the database refuses to update or delete it; a correction is a new row.
"""
from __future__ import annotations

from datetime import date, datetime, time  # noqa: F401 - date in Mapped annotations
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import BigId, Pence, db, utcnow

STATUSES = ("delivered", "refused", "unplanned", "banked", "bank_used", "provider_cancelled")
# domain.md's table: what the fund is charged for. Banked hours and the provider's own
# cancellations never are.
CHARGED = ("delivered", "refused", "unplanned", "bank_used")


class PlanService(db.Model):
    """A service a plan version plans for, and its weekly hours (or nights) in hundredths."""

    __tablename__ = "plan_services"
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_versions.id"), primary_key=True)
    service: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    weekly_hundredths: Mapped[int]


class Delivery(db.Model):
    """A session of support as the broker recorded it: given, refused, unplanned, banked, drawn
    from the bank, or cancelled by the provider."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.Index("ix_deliveries_person_date", "person_id", "date"),
        sa.Index("ix_deliveries_service_date", "service", "date"),
        # A rostering system's visit id is one visit provider-wide: imported once, whoever it was for.
        sa.Index("uq_deliveries_external_id", "external_id", unique=True),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"))
    date: Mapped[date]
    start_time: Mapped[time]
    service: Mapped[str] = mapped_column(sa.String(60))
    unit: Mapped[str] = mapped_column(sa.String(10))
    quantity_hundredths: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(20))
    notice_given_at: Mapped[datetime | None]
    domain: Mapped[str] = mapped_column(sa.String(40))
    rate: Mapped[Decimal]  # the rate in force on the session's date when it was recorded
    charge_pence: Mapped[Pence]
    transaction_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"), unique=True)
    # Banked hours only: the first day they are no longer in the bank.
    lapses_on: Mapped[date | None]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The rostering system's visit id, for deliveries imported from it (accounts/imports.py).
    external_id: Mapped[str | None] = mapped_column(sa.String(100))


class DeliveryImport(db.Model):
    """A file of deliveries applied whole: its SHA-256 makes the same file a second time write nothing."""

    __tablename__ = "delivery_imports"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    rows: Mapped[int]
    written: Mapped[int]
    skipped: Mapped[int]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryReversal(db.Model):
    """A delivery taken out of every figure, with its charge reversed (if it had one)."""

    __tablename__ = "delivery_reversals"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("deliveries.id"), unique=True)
    date: Mapped[date]
    reason: Mapped[str] = mapped_column(sa.String(500))
    transaction_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"), unique=True)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateAdjustmentLine(db.Model):
    """One delivery's share of a rate adjustment: what it was charged at, what it is now, the difference."""

    __tablename__ = "rate_adjustment_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("deliveries.id"), index=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), index=True)
    # None only where the person's lines cancel out to nothing, so no money moved.
    transaction_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"), index=True)
    old_rate: Mapped[Decimal]
    new_rate: Mapped[Decimal]
    difference_pence: Mapped[Pence]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
