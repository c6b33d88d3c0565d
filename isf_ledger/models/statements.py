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


class DeliveryPreference(db.Model):
    """How a person gets their statements, from a date. Never edited: a change is a new row, so
    the log can say where any past statement was meant to go (the database refuses updates)."""

    __tablename__ = "statement_delivery_preferences"
    __table_args__ = (sa.Index("ix_statement_delivery_preferences_person", "person_id", "effective_from"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"))
    effective_from: Mapped[date]
    method: Mapped[str] = mapped_column(sa.String(10))  # email | post
    email: Mapped[str | None] = mapped_column(sa.String(320))
    name: Mapped[str | None] = mapped_column(sa.String(200))  # a representative's, if not the person's
    address_lines: Mapped[list | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class StatementDelivery(db.Model):
    """One statement to one address: the row is written (status `sending`, committed) before the
    message leaves, so a run killed mid-batch never sends it again (see delivery.py)."""

    __tablename__ = "statement_deliveries"
    __table_args__ = (sa.UniqueConstraint("statement_id", "address_key"),
                      sa.Index("ix_statement_deliveries_month_status", "month", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(sa.ForeignKey("statements.id"))
    month: Mapped[date]
    preference_id: Mapped[int] = mapped_column(sa.ForeignKey("statement_delivery_preferences.id"))
    method: Mapped[str] = mapped_column(sa.String(10))
    address: Mapped[str] = mapped_column(sa.String(1000))  # the e-mail address, or the postal address
    address_key: Mapped[str] = mapped_column(sa.String(64))  # SHA-256 of the normalised address
    message_id: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(10))  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None]  # when a sender last claimed it (see delivery.SENDING_WINDOW)
    last_error: Mapped[str | None] = mapped_column(sa.String(1000))
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PrintBatch(db.Model):
    """The month's letters for post, one PDF: an address sheet, then the statement as issued, for
    each person who gets theirs by post. Rebuilt whole when a late statement joins the month."""

    __tablename__ = "statement_print_batches"
    month: Mapped[date] = mapped_column(primary_key=True)
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary)
    letters: Mapped[int]
    built_at: Mapped[datetime] = mapped_column(default=utcnow)


# APScheduler's SQLAlchemyJobStore table (APScheduler 3.x's own definition), made by the
# migrations like every other table so `db check` sees no drift and the scheduler needs no DDL rights.
scheduler_jobs = sa.Table(
    "apscheduler_jobs", db.metadata,
    sa.Column("id", sa.Unicode(191), primary_key=True),
    sa.Column("next_run_time", sa.Float(25), index=True),
    sa.Column("job_state", sa.LargeBinary, nullable=False),
)
