"""Councils' rule profiles: a value on the person's plan wins over the council's, which wins
over the provider's default."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .models import Council

PROVIDER_DEFAULTS = {
    "surplus_threshold_weeks": 4,
    "payment_cycle": "four_weekly",
    "bank_expiry_days": 365,
    "surplus_notice_days": 28,
    "contribution_spent_first": True,
    "voids_funded_by_council": False,
}
# Rules a plan may set for one person; voids are the council's business alone.
PLAN_RULES = ("surplus_threshold_weeks", "payment_cycle", "bank_expiry_days", "surplus_notice_days",
              "contribution_spent_first")


def council_named(session, name: str) -> Council:
    """The council with this name, created (with the provider's defaults) the first time it is named."""
    name = " ".join(name.split())  # "Northshire " and "Northshire" are one council
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(Council).values(name=name).on_conflict_do_nothing(index_elements=["name"]))
    return session.scalar(sa.select(Council).where(Council.name == name))


def rule(name: str, council: Council | None, plan=None):
    """The rule in force for a person: their plan's value, else their council's, else the default."""
    if plan is not None and name in PLAN_RULES and getattr(plan, name) is not None:
        return getattr(plan, name)
    if council is not None and getattr(council, name) is not None:
        return getattr(council, name)
    return PROVIDER_DEFAULTS[name]
