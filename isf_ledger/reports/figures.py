"""The money figures of a month for many funds at once: what a statement, a review pack and the
dashboard say came in and went out, read set-based from the ledger.

Every movement of a fund's `available` pot falls under exactly one heading, by the kind of its
transaction (a reversal under the heading of what it reverses, negated), so that

    closing = opening + receipts - fee - support - shared support - spend - clawback
              + contingency drawn - contingency set aside

holds to the penny for every fund and month (domain.md "Monthly statement").
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..models import Account, Delivery, Posting, RateAdjustmentLine, Spend, Transaction
from ..models.shared_support import Arrangement, ChargeLine, ChargeRun
from ..accounts.positions import pots
from ..clock import month_end, month_start

# Heading of each kind of transaction, as money moves in `available`.
HEADINGS = {
    "receipt": "receipts_total",
    "interest": "receipts_total",  # the fund's share of the bank's interest is money paid in
    "fee": "management_fee_total",
    "fee_refund": "management_fee_total",
    "delivery": "support_charged_total",
    "rate_adjustment": "support_charged_total",
    "shared_charge": "shared_support_total",
    "spend": "spend_total",
    "clawback": "clawback_total",
    "closing": "closed_out_total",  # what a closing paid out of available
    "contingency_set_aside": "contingency_set_aside",
    "contingency_draw": "contingency_drawn",
}
# Headings that are money going out: shown as positive amounts, so they are subtracted.
OUTGOING = {"management_fee_total", "support_charged_total", "shared_support_total", "spend_total",
            "clawback_total", "closed_out_total", "contingency_set_aside"}
MONEY_HEADINGS = sorted(set(HEADINGS.values()))


@dataclass
class MonthMoney:
    person_id: int
    month: date  # the first day
    opening_balance: int = 0
    closing_balance: int = 0
    contingency_held: int = 0  # the contingency pot at the month's end
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MONEY_HEADINGS, 0))

    def reconciles(self) -> bool:
        t = self.totals
        return self.closing_balance == (
            self.opening_balance + t["receipts_total"] - t["management_fee_total"] - t["support_charged_total"]
            - t["shared_support_total"] - t["spend_total"] - t["clawback_total"] - t["closed_out_total"]
            + t["contingency_drawn"]
            - t["contingency_set_aside"])


def available_accounts(person_ids: list[int]):
    """The listed funds' `available` accounts, as a subquery to filter postings by: given the
    accounts, the postings are read through their (account, date) index, where a filter on the
    person alone lets PostgreSQL read the whole month's postings by date for every slice of
    month end (0.17 s a call at 10,000 people)."""
    return sa.select(Account.id).where(Account.person_id.in_(person_ids), Account.kind == "available")


def movements_by_heading(session, person_ids: list[int] | None, start: date, end: date) -> dict[int, dict[str, int]]:
    """Net movement of each fund's `available` between two dates (both included), by heading, in
    one query."""
    original = aliased(Transaction)
    kind = sa.func.coalesce(original.kind, Transaction.kind)
    q = (sa.select(Account.person_id, kind, sa.func.sum(Posting.amount_pence))
         .join(Account, Account.id == Posting.account_id)
         .join(Transaction, Transaction.id == Posting.transaction_id)
         .outerjoin(original, original.id == Transaction.reverses_id)
         .where(Account.kind == "available", Posting.date >= start, Posting.date <= end)
         .group_by(Account.person_id, kind))
    if person_ids is not None:
        q = q.where(Account.person_id.in_(person_ids), Posting.account_id.in_(available_accounts(person_ids)))
    out: dict[int, dict[str, int]] = {}
    for pid, k, pence in session.execute(q):
        heading = HEADINGS.get(k)
        if heading is None:
            raise AssertionError(f"a {k} transaction moved money in available but has no statement heading")
        row = out.setdefault(pid, dict.fromkeys(MONEY_HEADINGS, 0))
        row[heading] += -int(pence) if heading in OUTGOING else int(pence)
    return out


def month_money(session, person_ids: list[int] | None, month: date) -> dict[int, MonthMoney]:
    """The month's money figures for the funds listed (None: every fund), in three queries."""
    first, last = month_start(month), month_end(month)
    before = pots(session, person_ids, first - timedelta(days=1))
    after = pots(session, person_ids, last)
    moved = movements_by_heading(session, person_ids, first, last)
    out = {}
    for pid in sorted(set(before) | set(after) | set(moved)):
        m = MonthMoney(pid, first, before.get(pid, {}).get("available", 0), after.get(pid, {}).get("available", 0),
                       after.get(pid, {}).get("contingency", 0))
        m.totals.update(moved.get(pid, {}))
        out[pid] = m
    return out


def actual_by_domain(session, person_id: int, first: date, last: date) -> dict[tuple[str, str], int]:
    """Money out of `available` by (heading, domain), net of reversals: support by the delivery's
    domain, a rate adjustment by its lines' deliveries, shared support by the arrangement's, spend
    by its own. Two queries."""
    original = aliased(Transaction)
    own = sa.func.coalesce(original.id, Transaction.id)
    kind = sa.func.coalesce(original.kind, Transaction.kind)
    domain = sa.func.coalesce(Delivery.domain, Spend.domain, Arrangement.domain, "")
    q = (sa.select(kind, domain, sa.func.sum(Posting.amount_pence))
         .join(Account, Account.id == Posting.account_id)
         .join(Transaction, Transaction.id == Posting.transaction_id)
         .outerjoin(original, original.id == Transaction.reverses_id)
         .outerjoin(Delivery, sa.and_(Delivery.transaction_id == own, kind == "delivery"))
         .outerjoin(Spend, sa.and_(Spend.transaction_id == own, kind == "spend"))
         # shared_charge_lines has no index on transaction_id: its person's lines (indexed) are
         # the only ones a posting on this person's pot can name, so the join looks among those.
         .outerjoin(ChargeLine, sa.and_(ChargeLine.transaction_id == own, ChargeLine.person_id == person_id,
                                        kind == "shared_charge"))
         .outerjoin(ChargeRun, ChargeRun.id == ChargeLine.run_id)
         .outerjoin(Arrangement, Arrangement.id == ChargeRun.arrangement_id)
         .where(Account.person_id == person_id, Account.kind == "available", Posting.date >= first,
                Posting.date <= last, kind.in_(("delivery", "shared_charge", "spend")))
         .group_by(kind, domain))
    out: dict[tuple[str, str], int] = defaultdict(int)
    for k, d, pence in session.execute(q):
        out[(HEADINGS[k], d)] += -int(pence)
    sign = sa.case((Transaction.reverses_id.is_(None), 1), else_=-1)
    q = (sa.select(Delivery.domain, sa.func.sum(sign * RateAdjustmentLine.difference_pence))
         .select_from(Transaction)
         .outerjoin(original, original.id == Transaction.reverses_id)
         .join(RateAdjustmentLine, RateAdjustmentLine.transaction_id == own)
         .join(Delivery, Delivery.id == RateAdjustmentLine.delivery_id)
         .where(Transaction.person_id == person_id, Transaction.date >= first, Transaction.date <= last,
                kind == "rate_adjustment")
         .group_by(Delivery.domain))
    for d, pence in session.execute(q):
        out[("support_charged_total", d)] += int(pence)
    return dict(out)
