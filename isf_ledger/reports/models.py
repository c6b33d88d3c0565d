"""Issued statements: immutable snapshots, numbered from one provider-wide sequence."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow


class Statement(db.Model):
    """One issued statement: the figures as issued and the SHA-256 of the PDF the person got.

    Never updated or deleted (the database refuses it). A correction is a new row, the next
    `version` of the same person and month, naming the one it replaces.
    """

    __tablename__ = "statements"
    __table_args__ = (sa.UniqueConstraint("person_id", "month", "version"),
                      sa.Index("ix_statements_month_person", "month", "person_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)  # provider-wide, what people quote
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"))
    month: Mapped[date]  # first day
    version: Mapped[int]  # 1 when issued at month end, then 2, 3... for corrections
    replaces_id: Mapped[int | None] = mapped_column(sa.ForeignKey("statements.id"), unique=True)
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    figures: Mapped[dict] = mapped_column(sa.JSON)
    pdf_sha256: Mapped[str] = mapped_column(sa.String(64))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class StatementDocument(db.Model):
    """The PDF as issued; its SHA-256 must equal the statement's `pdf_sha256`."""

    __tablename__ = "statement_documents"
    statement_id: Mapped[int] = mapped_column(sa.ForeignKey("statements.id"), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary)
