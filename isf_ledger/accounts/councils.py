"""Councils and their rule profiles: a value on the person's plan wins over the council's, which
wins over the provider's default.

A council is named once, by finance (`POST /api/v1/councils`, or by naming a new council when
finance creates a person); after that it is found by its name whatever the case or spacing, so
"northshire " is Northshire. A broker naming a council nobody has created gets a 422 that lists
the known ones: a typo must not become a new council.
"""
from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import Invalid
from ..models import Council, CouncilRuleChange

PROVIDER_DEFAULTS = {
    "surplus_threshold_weeks": 4,
    "payment_cycle": "four_weekly",
    "bank_expiry_days": 365,
    "surplus_notice_days": 28,
    "contribution_spent_first": True,
    "voids_funded_by_council": False,
    "surplus_alert_weeks": 12,  # how long a surplus stays above the threshold before finance is alerted
}
# Rules a plan may set for one person; voids are the council's business alone.
PLAN_RULES = ("surplus_threshold_weeks", "payment_cycle", "bank_expiry_days", "surplus_notice_days",
              "contribution_spent_first", "surplus_alert_weeks")


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


# --- The profile as at a date ----------------------------------------------------------------
#
# A council's columns hold the values last set; every PATCH keeps (field, old, new,
# effective_from) in council_rule_changes. The value on a day is the `new` of the latest change
# effective on or before it; before the first change, that change's `old`; with no change, the
# column. Who reads which (domain.md "every rule reads the profile at the item's date"):
#   bank_expiry_days         at the banked session's date (hours.record_deliveries)
#   surplus_threshold_weeks  at the day the surplus is read: a clawback's date (clawback.py),
#                            the dashboard's as_of, a statement's last day (reports/)
#   surplus_notice_days, contribution_spent_first: at the clawback's date (clawback.py)
#   payment_cycle            at each date of the plan year: a council's dated change of cycle
#                            starts a run of the new cycle there (instalments.py)
#   voids_funded_by_council  at the last day of the month charged (shared_support/charges.py)

History = dict[tuple[int, str], list[tuple[date, int, object, object]]]


def rule_history(session, council_ids) -> History:
    """Every council's rule changes, in one query: (council, field) -> [(from, id, old, new)]."""
    out: History = defaultdict(list)
    ids = sorted({c for c in council_ids if c is not None})
    if not ids:
        return out
    q = (sa.select(CouncilRuleChange.council_id, CouncilRuleChange.field, CouncilRuleChange.effective_from,
                   CouncilRuleChange.id, CouncilRuleChange.old_value, CouncilRuleChange.new_value)
         .where(CouncilRuleChange.council_id.in_(ids))
         .order_by(CouncilRuleChange.effective_from, CouncilRuleChange.id))
    for cid, field, day, cid_, old, new in session.execute(q):
        out[(cid, field)].append((day, cid_, json.loads(old), json.loads(new)))
    return out


def council_value_on(name: str, council: Council, day: date, history: History):
    changes = history.get((council.id, name))
    if not changes:
        return getattr(council, name)
    effective = [c for c in changes if c[0] <= day]
    return effective[-1][3] if effective else changes[0][2]


def rule_on(session, name: str, council: Council | None, plan, day: date, history: History | None = None):
    """The rule in force for an item dated `day`: the plan's value, else the council's value on
    that day (from its history), else the provider's default. Pass `history` (rule_history) to
    read many items without a query each."""
    if plan is not None and name in PLAN_RULES and getattr(plan, name) is not None:
        return getattr(plan, name)
    if council is not None:
        if history is None:
            history = rule_history(session, [council.id])
        value = council_value_on(name, council, day, history)
        if value is not None:
            return value
    return PROVIDER_DEFAULTS[name]


def change_rules(session, council: Council, changes: dict, *, effective_from: date, user_id: int | None) -> list:
    """Set some of a council's rules from a date, keeping each change (old and new) in history.
    A value equal to the current one is no change and leaves no row."""
    rows = []
    for name, new in changes.items():
        old = getattr(council, name)
        if old == new:
            continue
        rows.append(CouncilRuleChange(council_id=council.id, field=name, old_value=json.dumps(old),
                                      new_value=json.dumps(new), effective_from=effective_from,
                                      changed_by=user_id))
        setattr(council, name, new)
    session.add_all(rows)
    session.flush()
    return rows


def history_json(rows) -> list[dict]:
    return [{"id": r.id, "field": r.field, "old": json.loads(r.old_value), "new": json.loads(r.new_value),
             "effective_from": r.effective_from.isoformat(), "changed_by": r.changed_by,
             "changed_at": r.changed_at.isoformat()} for r in rows]
