"""Support plans: effective-dated versions and their budget lines."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Pence, db, utcnow


class PlanVersion(db.Model):
    """One effective-dated version of a person's support plan; later versions never rewrite it."""

    __tablename__ = "plan_versions"
    __table_args__ = (sa.UniqueConstraint("person_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), index=True)
    version: Mapped[int]
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    annual_budget_pence: Mapped[Pence]
    payment_cycle: Mapped[str | None] = mapped_column(sa.String(20))
    management_fee_rate: Mapped[Decimal]
    contingency_amount_pence: Mapped[Pence]
    weekly_client_contribution_pence: Mapped[Pence]
    planned_weekly_hours: Mapped[dict] = mapped_column(sa.JSON)  # service -> "hours" string
    rate_overrides: Mapped[dict] = mapped_column(sa.JSON)  # service -> "rate" string
    surplus_threshold_weeks: Mapped[int | None]
    bank_expiry_days: Mapped[int | None]
    surplus_notice_days: Mapped[int | None]
    contribution_spent_first: Mapped[bool | None]
    surplus_alert_weeks: Mapped[int | None]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    budget_lines: Mapped[list["BudgetLine"]] = relationship(order_by="BudgetLine.id", lazy="selectin")


class BudgetLine(db.Model):
    """What part of the budget is for: a Lancashire domain, the outcome sought, the yearly amount."""

    __tablename__ = "budget_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_versions.id"), index=True)
    domain: Mapped[str] = mapped_column(sa.String(40))
    outcome: Mapped[str] = mapped_column(sa.String(500))
    annual_amount_pence: Mapped[Pence]
