"""The provider's rate card."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow


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
