"""Interest the bank pays on the client money account (issue 27; domain.md "The client bank
account", "Money and numbers").

The provider's setting (`provider.bank_interest`) decides where it goes:
- `shared`: among the funds, in proportion to their daily balances over the interest period. A
  fund's weight is its balance-days: the sum, over each day of the period (both ends included),
  of what it held at the end of that day (`available` + `contingency`, both in the bank), in
  pence; a day below zero counts as nothing (an overdrawn fund holds no money: the provider makes
  it good). A fund opened during the period counts from its first money, one closed from its
  closing on (its balance is then zero). The split is domain.md's: the LARGEST REMAINDER method
  (money.split_largest_remainder): each fund gets the floor of its exact share and the pence left
  over go one each to the largest remainders, ties to the lower person id, so the shares always
  sum exactly to the interest. Each open fund's share is its own `interest` transaction (client
  money in, into `available`: one fund a transaction, no cross-subsidy). A fund closed by the
  day it is recorded takes no further postings (domain.md "Closing a fund"), so its share is not
  posted to it: the provider holds it (as below) and the answer names it, for finance to pay on
  to whoever took the closing balance. No other fund gets it.
- `provider`: kept by the provider: an `interest` transaction with no fund (client money in, to
  interest income), then `interest_to_provider` moving it to the provider's own bank, in the same
  database transaction, as the fee does; client money still equals the sum of the funds.

Either way the movements into client money sum to the interest, so the bank's interest line is
matched to them (by the line named here, or by the matcher's interest group).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..auth.users import MAX_ID
from ..db import among, utcnow
from ..errors import Conflict, Invalid, NotFound
from ..ledger.post import Entry, lock_funds, post, provider_accounts
from ..models import (Account, BankInterest, BankInterestShare, BankLine, BankMatch, Fund, Posting,
                      Transaction)
from ..money import format_pence, split_largest_remainder
from .dates import refuse_future
from .positions import pots

LONGEST_PERIOD = timedelta(days=400)  # a year's interest and a little: a longer period is a mistake
HANDLINGS = ("shared", "provider")  # provider.BANK_INTEREST


def balance_days(session, start: date, end: date) -> dict[int, int]:
    """Every fund's balance-days over [start, end] (see the module's note), in pence x days: one
    query for the balances the day before, one for the period's movements by fund and day."""
    opening = {pid: sum(p.values()) for pid, p in pots(session, None, start - timedelta(days=1)).items()}
    q = (sa.select(Account.person_id, Posting.date, sa.func.sum(Posting.amount_pence))
         .join(Account, Account.id == Posting.account_id)
         .where(Account.person_id.is_not(None), Posting.date >= start, Posting.date <= end)
         .group_by(Account.person_id, Posting.date))
    moves: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for pid, day, pence in session.execute(q):
        moves[pid].append((day, int(pence)))
    out = {}
    for pid in sorted(set(opening) | set(moves)):
        held, since, total = opening.get(pid, 0), start, 0
        for day, pence in sorted(moves.get(pid, ())):
            total += max(held, 0) * (day - since).days  # the days before this one at the balance held
            held, since = held + pence, day
        total += max(held, 0) * ((end - since).days + 1)  # from the last change to the end, both included
        out[pid] = total
    return out


def shares(total_pence: int, weights: dict[int, int]) -> dict[int, int]:
    """The interest split by balance-days, largest remainder, ties to the lower person id."""
    listed = [(pid, Decimal(w)) for pid, w in sorted(weights.items()) if w > 0]
    if not listed:
        return {}
    return split_largest_remainder(total_pence, listed)


def _line(session, line_id: int | None, amount_pence: int | None) -> tuple[BankLine | None, int]:
    if line_id is None:
        if amount_pence is None:
            raise Invalid("amount", "give the interest's amount, or the bank line it is (line_id)")
        return None, amount_pence
    line = session.get(BankLine, line_id) if line_id <= MAX_ID else None
    if line is None:
        raise NotFound(f"no bank line {line_id}")
    if line.amount_pence <= 0:
        raise Invalid("line_id", f"line {line_id} is money out ({format_pence(line.amount_pence)}), not interest paid")
    if amount_pence is not None and amount_pence != line.amount_pence:
        raise Invalid("amount", f"{format_pence(amount_pence)} is not the line's {format_pence(line.amount_pence)}")
    return line, line.amount_pence


def record_interest(session, *, handling: str, date: date, period_from: date, period_to: date,
                    amount_pence: int | None = None, line_id: int | None = None, user_id: int | None = None) -> dict:
    """Record interest the bank paid on `date` for the period, as `handling` (the provider's
    setting, `shared` or `provider`) says."""
    refuse_future(date)
    if period_from > period_to:
        raise Invalid("period_from", f"after period_to ({period_to.isoformat()})")
    if period_to > date:
        raise Invalid("period_to", f"after the date the interest was paid ({date.isoformat()})")
    if period_to - period_from >= LONGEST_PERIOD:
        raise Invalid("period_from", f"a period of at most {LONGEST_PERIOD.days} days")
    line, amount = _line(session, line_id, amount_pence)
    if amount <= 0:
        raise Invalid("amount", "must be more than 0.00")
    done = session.scalar(sa.select(BankInterest).where(BankInterest.period_from == period_from,
                                                        BankInterest.period_to == period_to))
    if done is not None:
        raise Conflict(f"interest for {period_from.isoformat()} to {period_to.isoformat()} is already recorded "
                       f"(interest {done.id})", {"interest_id": done.id}, code="interest_already_recorded")
    if line is not None:
        if session.scalar(sa.select(sa.func.count()).where(BankMatch.line_id == line.id)):
            raise Conflict(f"line {line.id} is already matched", code="already_matched")
        used = session.scalar(sa.select(BankInterest.id).where(BankInterest.line_id == line.id))
        if used is not None:
            raise Conflict(f"line {line.id} is already interest {used}", code="already_matched")
    if handling not in HANDLINGS:
        raise ValueError(f"no such handling of interest: {handling!r}")
    provider = provider_accounts(session)
    split: dict[int, int] = {}
    weights: dict[int, int] = {}
    closed: set[int] = set()
    funds = {}
    if handling == "shared":
        open_ids = list(session.scalars(sa.select(Fund.person_id).where(Fund.closed_on.is_(None))))
        funds = lock_funds(session, open_ids)  # lowest id first; a closing now waits for this
        closed = set(session.scalars(sa.select(Fund.person_id).where(Fund.closed_on.is_not(None))))
        weights = {pid: w for pid, w in balance_days(session, period_from, period_to).items() if w > 0}
        if not weights:
            raise Conflict("no fund held money in the period: there is nobody to share the interest with",
                           code="no_money_held")
        split = shares(amount, weights)
    available = dict(session.execute(sa.select(Account.person_id, Account)
                                     .where(Account.person_id.in_([p for p in split if p not in closed]),
                                            Account.kind == "available")).all()) if split else {}
    what = f"Bank interest {period_from.isoformat()} to {period_to.isoformat()}"
    entries = []
    for pid, pence in sorted(split.items()):
        if pid in closed or not pence:
            continue
        entries.append(Entry(kind="interest", date=date, person_id=pid, description=what,
                             legs=[(provider["client_money"], -pence), (available[pid], pence)]))
    kept = amount - sum(-e.legs[0][1] for e in entries)
    if kept:
        entries += [Entry(kind="interest", date=date, description=f"{what}: kept by the provider",
                          legs=[(provider["client_money"], -kept), (provider["interest_income"], kept)]),
                    Entry(kind="interest_to_provider", date=date, description=f"{what}: to the provider's bank",
                          legs=[(provider["client_money"], kept), (provider["provider_bank"], -kept)])]
    post(session, entries, funds, user_id)
    row = BankInterest(date=date, period_from=period_from, period_to=period_to, amount_pence=amount,
                       handling=handling, kept_pence=kept, line_id=line.id if line else None, created_by=user_id,
                       kept_transaction_id=entries[-2].posted_id if kept else None,
                       transfer_transaction_id=entries[-1].posted_id if kept else None)
    session.add(row)
    session.flush()
    posted = {e.person_id: e.posted_id for e in entries if e.person_id is not None}
    if split:
        session.execute(sa.insert(BankInterestShare), [
            {"interest_id": row.id, "person_id": pid, "balance_days_pence": weights[pid], "share_pence": pence,
             "transaction_id": posted.get(pid)} for pid, pence in sorted(split.items())])
    if line is not None:
        into = [e.posted_id for e in entries if e.kind == "interest"]
        session.execute(sa.insert(BankMatch), [{"line_id": line.id, "transaction_id": t, "how": "interest",
                                                "matched_by": user_id, "matched_at": utcnow()} for t in into])
    return interest_json(session, row.id)


def interest_json(session, interest_id: int) -> dict:
    row = session.get(BankInterest, interest_id) if interest_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"no interest {interest_id}")
    parts = session.scalars(sa.select(BankInterestShare).where(BankInterestShare.interest_id == row.id)
                            .order_by(BankInterestShare.person_id)).all()
    txns = list(session.scalars(sa.select(BankMatch.transaction_id).where(BankMatch.line_id == row.line_id))) \
        if row.line_id else []
    return {"id": row.id, "date": row.date, "period_from": row.period_from, "period_to": row.period_to,
            "amount": row.amount_pence, "handling": row.handling, "kept_by_provider": row.kept_pence,
            "line_id": row.line_id, "matched_transaction_ids": sorted(txns),
            "shares": [{"person_id": s.person_id, "balance_days": s.balance_days_pence, "share": s.share_pence,
                        "transaction_id": s.transaction_id, "posted": s.transaction_id is not None}
                       for s in parts],
            "closed_fund_shares": sum(s.share_pence for s in parts if s.transaction_id is None)}


def interest_received(session, person_ids: list[int], first: date, last: date) -> dict[int, int]:
    """Each fund's interest received into `available` between two dates, net of reversals."""
    original = aliased(Transaction)
    kind = sa.func.coalesce(original.kind, Transaction.kind)
    q = (sa.select(Account.person_id, sa.func.sum(Posting.amount_pence))
         .join(Account, Account.id == Posting.account_id)
         .join(Transaction, Transaction.id == Posting.transaction_id)
         .outerjoin(original, original.id == Transaction.reverses_id)
         .where(Account.kind == "available", among(session, Account.person_id, person_ids), kind == "interest",
                Posting.date >= first, Posting.date <= last,
                # through the funds' available accounts: filtered on the person alone PostgreSQL
                # reads the whole month's postings by date for every slice of month end
                Posting.account_id.in_(sa.select(Account.id).where(
                    among(session, Account.person_id, person_ids), Account.kind == "available")))
         .group_by(Account.person_id))
    return {pid: int(p) for pid, p in session.execute(q)}
