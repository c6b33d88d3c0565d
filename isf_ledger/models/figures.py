"""Each fund's current dashboard figures (fund_figures): derived data, like the checkpoints.

A row holds the fund's figures as the dashboard works them out (reports.dashboard.fund_figures)
as at `figures_on`, good for every day before `stale_on` while nothing is written for the fund.
The money columns are kept by ledger.post in the same database transaction as the postings;
the database's triggers (migration 0027) mark a row stale (`stale_on` = STALE) when anything
else its figures depend on is written (hours, receipts, reversals, queries, plans, rules, rates,
names, a closing). `version` rises with every change, so a refresh computed from older data
never overwrites a newer change. What moves with the calendar alone (the plan year's pace and
the overspending alert) is worked out when the page is read. The self-audit compares every row
with the slow path and `isf-ledger audit --rebuild-figures` rebuilds them.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Pence, db

STALE = date(1900, 1, 1)  # stale_on for a row to be worked out again before it is read
NO_WEEKS = -10**11  # weeks_held (hundredths) of a fund without a budget: sorted below every figure


class FundFigureRow(db.Model):
    __tablename__ = "fund_figures"
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id"), primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    figures_on: Mapped[date] = mapped_column(default=STALE)
    stale_on: Mapped[date] = mapped_column(default=STALE)
    name_key: Mapped[str] = mapped_column(sa.String(400), default="")  # the name, casefolded
    council_key: Mapped[str] = mapped_column(sa.String(400), default="")
    available: Mapped[Pence] = mapped_column(default=0)
    contingency: Mapped[Pence] = mapped_column(default=0)
    bank_value: Mapped[Pence] = mapped_column(default=0)
    annual_budget: Mapped[Pence] = mapped_column(default=0)
    weeks_held: Mapped[Pence] = mapped_column(default=NO_WEEKS)  # hundredths of a week
    threshold: Mapped[Pence] = mapped_column(default=0)
    surplus: Mapped[Pence] = mapped_column(default=0)
    overdrawn: Mapped[Pence] = mapped_column(default=0)
    arrears: Mapped[Pence] = mapped_column(default=0)
    spent: Mapped[Pence] = mapped_column(default=0)  # the plan year's use, the fee included
    spent_on_support: Mapped[Pence] = mapped_column(default=0)
    year_start: Mapped[date | None]  # the plan year (None without a plan in force)
    year_start_day: Mapped[int] = mapped_column(default=0)  # its first day's ordinal (date.toordinal)
    year_days: Mapped[int] = mapped_column(default=0)
    lasting: Mapped[bool] = mapped_column(default=False)  # the surplus has lasted surplus_alert_weeks
    # The recent hours' alerts (the hours themselves are read for the page's rows when shown).
    many_refusals: Mapped[bool] = mapped_column(default=False)
    many_cancellations: Mapped[bool] = mapped_column(default=False)
    queries_overdue: Mapped[int] = mapped_column(default=0)
