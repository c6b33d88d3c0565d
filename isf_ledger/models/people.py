"""People, their councils and their funds."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import db, utcnow


class Council(db.Model):
    """A commissioning council and its rule profile; a blank rule means the provider's default."""

    __tablename__ = "councils"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    # The name case-folded and trimmed (councils.name_key): "northshire " is Northshire.
    name_key: Mapped[str] = mapped_column(unique=True)
    surplus_threshold_weeks: Mapped[int | None]
    payment_cycle: Mapped[str | None] = mapped_column(sa.String(20))
    bank_expiry_days: Mapped[int | None]
    surplus_notice_days: Mapped[int | None]
    contribution_spent_first: Mapped[bool | None]
    voids_funded_by_council: Mapped[bool | None]
    surplus_alert_weeks: Mapped[int | None]


class CouncilRuleChange(db.Model):
    """One change of one rule in a council's profile: history, never edited (the database refuses
    UPDATE and DELETE, migration 0011). Values are JSON text ("4", "\"monthly\"", "true", "null")."""

    __tablename__ = "council_rule_changes"
    __table_args__ = (sa.Index("ix_council_rule_changes_council_field", "council_id", "field", "effective_from"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id"))
    field: Mapped[str] = mapped_column(sa.String(40))
    old_value: Mapped[str] = mapped_column(sa.String(40))
    new_value: Mapped[str] = mapped_column(sa.String(40))
    effective_from: Mapped[date]
    changed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Person(db.Model):
    __tablename__ = "people"
    __table_args__ = (sa.UniqueConstraint("council_id", "council_reference"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id"), index=True)
    council_reference: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    council: Mapped[Council] = relationship()
    fund: Mapped["Fund"] = relationship(back_populates="person", uselist=False)


class PersonNameChange(db.Model):
    """One correction of a person's name: history, never edited (the database refuses UPDATE and
    DELETE, migration 0017_auth). Statements already issued keep the name they were issued with."""

    __tablename__ = "person_name_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), index=True)
    old_name: Mapped[str]
    new_name: Mapped[str]
    changed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Fund(db.Model):
    """A person's Individual Service Fund: one cost centre, locked while money moves in it."""

    __tablename__ = "funds"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), unique=True)
    opened_on: Mapped[date]
    closed_on: Mapped[date | None]
    # First day of the last month whose statement was issued: nothing more may be dated up to
    # the end of that month (late items move to the next open month).
    issued_through: Mapped[date | None]

    person: Mapped[Person] = relationship(back_populates="fund")
