"""What the finance-system exports keep: the provider's nominal codes for our accounts, the
Sage 50 departments for our services and houses, and a record of each journal file exported."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow


class NominalCode(db.Model):
    """The provider's nominal code for one kind of our accounts (a kind left out keeps its
    default, exports.journals.DEFAULT_CODES)."""

    __tablename__ = "nominal_codes"
    account_kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(8))
    changed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExportDepartment(db.Model):
    """Sage 50's department number (0-999) for a service or house; any other is department 0."""

    __tablename__ = "export_departments"
    option: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    number: Mapped[int]
    changed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExportRun(db.Model):
    """A journal file handed to finance: the same format and period again says it was exported
    before (and whether its bytes are the same)."""

    __tablename__ = "export_runs"
    __table_args__ = (sa.UniqueConstraint("format", "period_from", "period_to", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    format: Mapped[str] = mapped_column(sa.String(20))
    period_from: Mapped[date]
    period_to: Mapped[date]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size_bytes: Mapped[int]
    exported_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    exported_at: Mapped[datetime] = mapped_column(default=utcnow)
