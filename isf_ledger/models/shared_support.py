"""Shared support's tables. Every one is history: the database refuses UPDATE and DELETE on them
(migration 0007), so a review is a new row from a date, never an edit."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import BigId, Pence, db, utcnow


class Arrangement(db.Model):
    """A sleep-in or background support shared by the people of one house or scheme. Its money
    is on its own account, `arrangement:{id}`, which nets to its cost each month."""

    __tablename__ = "shared_arrangements"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    method: Mapped[str] = mapped_column(sa.String(20))  # equal | weighted
    domain: Mapped[str] = mapped_column(sa.String(40))
    # The council that funds its empty places, where that council's rule says so (None: the provider).
    council_id: Mapped[int | None] = mapped_column(sa.ForeignKey("councils.id"))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArrangementVersion(db.Model):
    """The cost and the places from a date on, until a later version starts."""

    __tablename__ = "shared_arrangement_versions"
    __table_args__ = (
        sa.UniqueConstraint("arrangement_id", "effective_from"),
        sa.CheckConstraint("(per_night_pence IS NULL) <> (weekly_pence IS NULL)", name="one_cost"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    arrangement_id: Mapped[int] = mapped_column(sa.ForeignKey("shared_arrangements.id"), index=True)
    effective_from: Mapped[date]
    capacity: Mapped[int]
    per_night_pence: Mapped[int | None] = mapped_column(sa.BigInteger)
    weekly_pence: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(db.Model):
    """A person's place in an arrangement from `starts_on`; its weight and end are in its terms."""

    __tablename__ = "shared_memberships"
    id: Mapped[int] = mapped_column(primary_key=True)
    arrangement_id: Mapped[int] = mapped_column(sa.ForeignKey("shared_arrangements.id"), index=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), index=True)
    starts_on: Mapped[date]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MembershipTerm(db.Model):
    """What was agreed, with consent, from a date: the weight from `effective_from`, and the day
    the membership ends (None: open). The latest term's `ends_on` is the membership's end."""

    __tablename__ = "shared_membership_terms"
    __table_args__ = (sa.UniqueConstraint("membership_id", "effective_from"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(sa.ForeignKey("shared_memberships.id"), index=True)
    effective_from: Mapped[date]
    weight: Mapped[Decimal]
    ends_on: Mapped[date | None]
    agreed_on: Mapped[date]
    recorded_by: Mapped[str]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChargeRun(db.Model):
    """A month charged for an arrangement: once (the unique key makes racing runs charge once)."""

    __tablename__ = "shared_charge_runs"
    __table_args__ = (sa.UniqueConstraint("arrangement_id", "month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    arrangement_id: Mapped[int] = mapped_column(sa.ForeignKey("shared_arrangements.id"))
    month: Mapped[date]  # its first day
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChargeLine(db.Model):
    """One party's share of a charged month and how it was worked out: a member's (person_id) or
    the empty places' (person_id None). A later review adds a line with the difference; the
    party's share is the sum of its lines' `amount_pence`."""

    __tablename__ = "shared_charge_lines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("shared_charge_runs.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id"), index=True)
    # On an empty places' line: the council that funds them (None: the provider bears them).
    council_id: Mapped[int | None] = mapped_column(sa.ForeignKey("councils.id"))
    days: Mapped[int]  # a member's days in the month; the empty places' line: days with a place empty
    weight: Mapped[Decimal | None]  # the member's weight on their last day in the month
    weight_days: Mapped[Decimal]  # weight x days (empty places: place-days, each place weighing 1)
    total_weight_days: Mapped[Decimal]  # everyone's weight x days and the empty place-days
    capacity: Mapped[int]  # places, on the month's last day the arrangement ran
    cost_pence: Mapped[Pence]  # the month's cost as worked out then
    share_pence: Mapped[Pence]  # the party's whole share as worked out then
    amount_pence: Mapped[Pence]  # what this line charged: the share, or the difference a review made
    transaction_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("transactions.id"))
    reason: Mapped[str | None] = mapped_column(sa.String(500))  # why a difference was charged
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
