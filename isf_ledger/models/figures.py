"""Each fund's current dashboard figures (fund_figures): derived data, like the checkpoints.

A row holds the figures reports.dashboard.fund_figures (the slow path, the one place each rule
lives) gave for the fund as at `figures_on`; NULL there means stale. The database's triggers
(migration 0029_fund_figures) make a row stale, in the writer's own transaction, whenever
anything its figures are read from is written for the fund (postings, hours and their reversals,
receipts, plans, queries and their answers, the person, the fund, its council and its rules;
the rate card makes every row stale), and raise `version`, so a refresh worked out from older
data never overwrites a newer change. A row is good for its `figures_on` only: the calendar
alone moves the pace, arrears, the bank's lapse and the recent hours, so the first read of a new
day (or the self-audit's rebuild) works every row out again. reports/current.py reads and
refreshes them; the self-audit checks them against the slow path.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Pence, db

NO_WEEKS = -10**11  # weeks_held (hundredths) of a fund without a budget: below every figure, as the slow path sorts
# One column a dashboard alert (reports.dashboard.ALERTS, checked by tests), for filtering and totals.
ALERT_COLUMNS = ("overdrawn", "underspending", "overspending", "many_refusals", "many_provider_cancellations",
                 "arrears", "queries_overdue")


# The columns the dashboard sorts by: an index each way, ties by person id ascending.
SORTED = ("name_key", "council_key", "available", "weeks_held", "surplus", "overdrawn", "arrears", "contingency",
          "bank_value", "spent", "alert_count")
C_TEXT = sa.String(400).with_variant(sa.String(400, collation="C"), "postgresql")  # code point order, as Python sorts


class FundFigureRow(db.Model):
    __tablename__ = "fund_figures"
    # Each way: (col, person_id) here, (col DESC, person_id) made by the migration alone
    # (an expression autogenerate cannot compare; migrations/env.py leaves it out).
    __table_args__ = tuple(sa.Index(f"ix_fund_figures_by_{col}", col, "person_id") for col in SORTED)
    person_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    figures_on: Mapped[date | None] = mapped_column(index=True)  # NULL: stale
    name: Mapped[str] = mapped_column(sa.String(400), default="")
    name_key: Mapped[str] = mapped_column(C_TEXT, default="")  # the name, casefolded (sorting, finding)
    council: Mapped[str] = mapped_column(sa.String(400), default="")
    council_key: Mapped[str] = mapped_column(C_TEXT, default="")
    council_reference: Mapped[str | None] = mapped_column(sa.String(100))
    closed_on: Mapped[date | None]
    available: Mapped[Pence] = mapped_column(default=0)
    contingency: Mapped[Pence] = mapped_column(default=0)
    bank_value: Mapped[Pence] = mapped_column(default=0)
    annual_budget: Mapped[Pence] = mapped_column(default=0)
    weeks_held: Mapped[Pence] = mapped_column(default=NO_WEEKS)  # hundredths of a week
    surplus: Mapped[Pence] = mapped_column(default=0)
    surplus_lasting: Mapped[bool] = mapped_column(default=False)
    arrears: Mapped[Pence] = mapped_column(default=0)
    overdrawn: Mapped[Pence] = mapped_column(default=0)
    spent: Mapped[Pence] = mapped_column(default=0)
    spent_on_support: Mapped[Pence] = mapped_column(default=0)
    pace: Mapped[Pence] = mapped_column(default=0)
    delivered: Mapped[Pence] = mapped_column(default=0)  # recent hours, hundredths
    refused: Mapped[Pence] = mapped_column(default=0)
    provider_cancelled: Mapped[Pence] = mapped_column(default=0)
    queries_overdue: Mapped[int] = mapped_column(default=0)
    alert_count: Mapped[int] = mapped_column(default=0)
    alert_overdrawn: Mapped[bool] = mapped_column(default=False)
    alert_underspending: Mapped[bool] = mapped_column(default=False)
    alert_overspending: Mapped[bool] = mapped_column(default=False)
    alert_many_refusals: Mapped[bool] = mapped_column(default=False)
    alert_many_provider_cancellations: Mapped[bool] = mapped_column(default=False)
    alert_arrears: Mapped[bool] = mapped_column(default=False)
    alert_queries_overdue: Mapped[bool] = mapped_column(default=False)
