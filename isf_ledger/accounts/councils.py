"""Councils and their rule profiles: a value on the person's plan wins over the council's, which
wins over the provider's default.

A council is named once, by finance (`POST /api/v1/councils`, or by naming a new council when
finance creates a person); after that it is found by its name whatever the case or spacing, so
"northshire " is Northshire. A broker naming a council nobody has created gets a 422 that lists
the known ones: a typo must not become a new council.
"""
from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import Invalid
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


def clean_name(name: str, field: str = "council") -> str:
    """A council's name as shown: invisible characters (zero-width spaces, joiners, marks) gone,
    runs of spaces one space; refused unless it holds a letter."""
    visible = "".join(" " if unicodedata.category(c) in ("Zs", "Zl", "Zp", "Cc") else c
                      for c in name if unicodedata.category(c) not in ("Cf", "Co", "Cn"))
    cleaned = " ".join(visible.split())
    if not any(c.isalpha() for c in cleaned):
        raise Invalid(field, "a name must hold at least one letter")
    return cleaned


def name_key(name: str) -> str:
    """What two names must share to be one council: case and spacing do not count."""
    return unicodedata.normalize("NFKC", clean_name(name)).casefold()


def find_council(session, name: str) -> Council | None:
    try:
        key = name_key(name)
    except Invalid:
        return None
    return session.scalar(sa.select(Council).where(Council.name_key == key))


def known_names(session) -> list[str]:
    return list(session.scalars(sa.select(Council.name).order_by(Council.name)))


def create_council(session, name: str, **profile) -> Council:
    """Name a council (once: a second council with the same name in another case is the same one)."""
    shown = clean_name(name, "name")
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(Council).values(name=shown, name_key=name_key(shown), **profile)
                    .on_conflict_do_nothing(index_elements=["name_key"]))
    return session.scalar(sa.select(Council).where(Council.name_key == name_key(shown)))


def council_for_person(session, name: str, *, may_create: bool) -> Council:
    """The council a new person is funded by: a known one, or (for finance) a new one."""
    found = find_council(session, clean_name(name))
    if found is not None:
        return found
    if may_create:
        return create_council(session, name)
    known = known_names(session)
    raise Invalid("council", f"no council named {clean_name(name)!r}; known councils: "
                             f"{', '.join(known) if known else 'none yet'} (finance adds new ones)")


def rule(name: str, council: Council | None, plan=None):
    """The rule in force for a person: their plan's value, else their council's, else the default."""
    if plan is not None and name in PLAN_RULES and getattr(plan, name) is not None:
        return getattr(plan, name)
    if council is not None and getattr(council, name) is not None:
        return getattr(council, name)
    return PROVIDER_DEFAULTS[name]
