"""The demo's last chapter: a few surpluses clawed back, fee refunds, and funds closed.

Written after every other record, through the operations the API calls (clawback.py, closing.py),
each person in a database transaction of their own, all dated the demo's last day (today):
- about one person in 50 with a surplus above the threshold has part of it recovered by the
  council, told `surplus_notice_days` (and a few days more) before;
- about one in 100 gets a fee refund with the reason a council's contract gives;
- about one in 100 leaves, and their fund is closed: the balance (contingency included) refunded
  to the council or transferred to the new holder. People outside shared support are asked
  first; one who shares support leaves it at the end of last month, by a review of the
  membership (closing refuses a membership that runs past the date, and this month has not
  ended, so cannot be charged yet). Nothing of theirs is dated after today, so closing comes
  last for them as it must.
Demos of fewer than MIN_PEOPLE people make none of these, so small demos stay as they were.

Who is picked comes from a generator of its own, over the people in the order the demo made them
(never database ids); a person is skipped where the rule would refuse (no surplus, an overdrawn
fund), and the next one tried, so the same seed on the same day picks the same people.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from ..errors import Conflict
from ..shared_support.charges import review_member
from ..models.shared_support import Arrangement, Membership
from ..accounts.clawback import record_clawback, record_fee_refund, surplus_on
from ..workflows.closing import close_fund
from ..models import Posting, Receipt, Transaction

MIN_PEOPLE = 50
KINDS = ("clawback", "fee_refund", "closing")
CLAWBACK_EVERY, FEE_REFUND_EVERY, CLOSING_EVERY = 50, 100, 100
MIN_CLAWBACK_PENCE = 100_00  # a recovery worth the council's letter
FEE_REFUND_REASONS = (
    "{council}'s contract: no fee on the instalment paid while {name} was in hospital",
    "{council}'s contract: the fee is refunded on money the council recovered as surplus",
    "Fee charged at 10% where the plan agreed 8%; refunded on the council's query",
)


@dataclass
class Endings:
    clawbacks: int = 0
    fee_refunds: int = 0
    closings: int = 0
    transactions: int = 0
    postings: int = 0


def how_many(people: int, every: int) -> int:
    return 0 if people < MIN_PEOPLE else max(1, people // every)


def add_endings(session, people: list[tuple[int, object]], start: date, today: date, seed: int) -> Endings:
    """`people`: (person id, PersonSpec) in the order the demo made them."""
    done = Endings()
    n = len(people)
    if n < MIN_PEOPLE:
        return done
    rng = random.Random(f"{seed}:endings")
    order = list(people)
    rng.shuffle(order)
    shared = set(session.scalars(sa.select(Membership.person_id).where(
        Membership.person_id.in_([pid for pid, _ in people])).distinct()))
    taken: set[int] = set()

    def attempt(candidates, want: int, act) -> int:
        made = 0
        for pid, spec in candidates:
            if made == want:
                break
            if pid in taken:
                continue
            try:
                wrote = act(pid, spec)
            except Conflict:
                wrote = False
            if not wrote:
                session.rollback()
                continue
            session.commit()
            taken.add(pid)
            made += 1
        return made

    def clawback(pid, spec):
        s = surplus_on(session, pid, today)
        amount = s.recoverable * rng.choice((25, 40, 50)) // 100 // 100 * 100  # whole pounds
        notice = today - timedelta(days=s.notice_days + rng.randint(0, 10))
        if amount < MIN_CLAWBACK_PENCE or notice < start:
            return False
        record_clawback(session, pid, date=today, amount_pence=amount, notice_given_on=notice,
                        reference=f"{spec.council[1]} surplus recovery {spec.reference}")
        return True

    def fee_refund(pid, spec):
        fee = session.scalar(sa.select(Receipt.fee_pence).where(Receipt.person_id == pid, Receipt.source == "council")
                             .order_by(Receipt.date.desc(), Receipt.id.desc()).limit(1))
        if not fee:
            return False
        reason = rng.choice(FEE_REFUND_REASONS).format(council=spec.council[0], name=spec.name.split()[0])
        record_fee_refund(session, pid, date=today, amount_pence=fee, reason=reason)
        return True

    def closing(pid, spec):
        # One who shares support left it at the end of last month (the last month charged),
        # agreed through a review of the membership, as the API records a leaving.
        for membership in session.scalars(sa.select(Membership).where(Membership.person_id == pid)):
            review_member(session, session.get(Arrangement, membership.arrangement_id), membership,
                          effective_from=this_month, ends_on=this_month - timedelta(days=1),
                          agreed_on=max(start, this_month - timedelta(days=rng.randint(14, 35))),
                          recorded_by="demo: notice to leave")
        to_council = rng.randrange(100) < 70
        reference = (f"{spec.council[1]} refund {spec.reference}" if to_council
                     else f"Transfer to the new provider, {spec.council[1]} {spec.reference}")
        close_fund(session, pid, date=today, destination="council" if to_council else "transfer",
                   reference=reference)
        return True

    # Those who leave first (closing is the last thing written for them), then the others; people
    # outside shared support are asked first.
    this_month = today.replace(day=1)
    leaving = [p for p in order if p[0] not in shared] + [p for p in order if p[0] in shared]
    done.closings = attempt(leaving, how_many(n, CLOSING_EVERY), closing)
    done.fee_refunds = attempt(order, how_many(n, FEE_REFUND_EVERY), fee_refund)
    if start <= today - timedelta(days=60):  # long enough for a surplus and its notice
        done.clawbacks = attempt(order, how_many(n, CLAWBACK_EVERY), clawback)
    if taken:
        done.transactions, done.postings = session.execute(
            sa.select(sa.func.count(sa.distinct(Transaction.id)), sa.func.count(Posting.id))
            .select_from(Transaction).join(Posting, Posting.transaction_id == Transaction.id)
            .where(Transaction.person_id.in_(taken), Transaction.kind.in_(KINDS))).one()
        session.rollback()
    return done
