"""Underspend and clawback (domain.md "Underspend and clawback"), and fee refunds.

The surplus on a day is `available` less the earmarked bank value less threshold weeks of the
annual budget (rules by plan > council > provider), when positive. A clawback within it, with
`surplus_notice_days` of notice, is recorded; beyond it or with less notice only with an
`override_reason`. Where `contribution_spent_first` is false the person's own contribution is
not recovered: only the council's share of the surplus (surplus x council receipts / all
receipts in the plan year).

How a clawback sits in the books:
- `repayment`: the money goes back to the council out of the client money bank, as spend does
  (available -X, client_money +X).
- `deduction`: the council paid its instalment less X. Finance records the receipt of what
  arrived; the clawback records the withheld X as a fee-exempt council receipt (it is the
  council's money, settled against the surplus, so the instalment counts as paid in full for
  arrears wherever receipts are read) followed by the clawback of the same X. The two net to
  nothing in the bank, as the cash did, and the person's statement shows both lines.
The fee already taken is not refunded; a fee refund is its own transaction (`fee_refund`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from .. import clock
from ..errors import Conflict, Invalid
from ..money import format_pence, round_half_up
from .councils import rule_history, rule_on
from .dates import check_fact_date
from .fees import fee_rate_on, fee_taken
from ..ledger.post import Entry, fund_balance, lock_funds, person_accounts, post, provider_accounts
from ..models import Clawback, Person, Receipt, Transaction
from .plans import plan_on, plan_year_start
from .positions import bank_positions
from .receipts import receipt_entries

METHODS = ("repayment", "deduction")


@dataclass
class Surplus:
    day: date
    available: int
    bank_value: int
    threshold_weeks: int
    threshold: int
    surplus: int  # above the threshold, never below zero
    contribution_spent_first: bool
    council_received: int  # in the plan year to the day
    all_received: int
    recoverable: int  # what a clawback may take without an override
    notice_days: int

    def as_json(self) -> dict:
        return {"date": self.day.isoformat(), "available": format_pence(self.available),
                "bank_value": format_pence(self.bank_value), "threshold_weeks": self.threshold_weeks,
                "threshold": format_pence(self.threshold), "surplus_above_threshold": format_pence(self.surplus),
                "contribution_spent_first": self.contribution_spent_first,
                "council_received_in_plan_year": format_pence(self.council_received),
                "all_received_in_plan_year": format_pence(self.all_received),
                "recoverable": format_pence(self.recoverable), "notice_days": self.notice_days,
                "recoverable_from": (self.day + timedelta(days=self.notice_days)).isoformat()}


def _received_in(session, person_id: int, start: date | None, end: date) -> tuple[int, int]:
    """Council receipts and all receipts from `start` to `end`, less those reversed by `end`."""
    if start is None:
        return 0, 0
    reversal = sa.exists().where(Transaction.reverses_id == Receipt.transaction_id, Transaction.date <= end)
    council = sa.func.sum(sa.case((Receipt.source == "council", Receipt.amount_pence), else_=0))
    row = session.execute(sa.select(sa.func.coalesce(council, 0), sa.func.coalesce(sa.func.sum(Receipt.amount_pence), 0))
                          .where(Receipt.person_id == person_id, Receipt.date >= start, Receipt.date <= end,
                                 ~reversal)).one()
    return int(row[0]), int(row[1])


def surplus_above(available: int, bank_value: int, weeks: int, annual_budget_pence: int) -> tuple[int, int]:
    """(threshold, surplus): the threshold is `weeks` of the plan's annual budget, in whole pence;
    the surplus what the fund holds beyond the banked hours' value and the threshold, never below
    zero (domain.md "Surplus"). The one place this is worked out: clawback, statements, the dashboard."""
    threshold = round_half_up(Decimal(weeks * annual_budget_pence) / 52)
    return threshold, max(0, available - bank_value - threshold)


def surplus_on(session, person_id: int, day: date) -> Surplus:
    person = session.get(Person, person_id)
    plan = plan_on(session, person_id, day)
    council = person.council
    available = fund_balance(session, person_id, day).get("available", 0)
    bank = bank_positions(session, [person_id], day).get(person_id, (0, 0))[1]
    history = rule_history(session, [person.council_id])

    def rule(name):  # as in force on the day (the council's profile at that date)
        return rule_on(session, name, council, plan, day, history)

    weeks = rule("surplus_threshold_weeks")
    threshold, surplus = surplus_above(available, bank, weeks, plan.annual_budget_pence if plan else 0)
    first = rule("contribution_spent_first")
    council_got, all_got = _received_in(session, person_id, plan_year_start(session, person_id, day), day)
    if first:
        recoverable = surplus
    else:
        recoverable = round_half_up(Decimal(surplus) * council_got / all_got) if all_got else 0
    return Surplus(day, available, bank, weeks, threshold, surplus, bool(first), council_got, all_got,
                   recoverable, rule("surplus_notice_days"))


def notice_letter(session, person_id: int, *, amount_pence: int | None = None, day: date | None = None) -> dict:
    """The surplus notice letter's figures, written today (UK): the surplus today, and `amount`
    (default: all that may be recovered today) recoverable from `day` (default: the earliest the
    notice allows). The letter never promises what a clawback would refuse: a date with less
    than `surplus_notice_days` of notice, or an amount beyond what may be recovered, is a 422."""
    today = clock.today()
    s = surplus_on(session, person_id, today)
    earliest = today + timedelta(days=s.notice_days)
    when = earliest if day is None else day
    if when < earliest:
        raise Invalid("date", f"the person must be told at least {s.notice_days} days before a surplus is recovered: "
                              f"a letter written on {today.isoformat()} may give {earliest.isoformat()} or later")
    amount = s.recoverable if amount_pence is None else amount_pence
    if amount > s.recoverable:
        share = "" if s.contribution_spent_first else " (the council's share of the surplus)"
        raise Invalid("amount", f"more than may be recovered: on {today.isoformat()} that is "
                                f"{format_pence(s.recoverable)}{share}")
    return {"name": session.get(Person, person_id).name, "written_on": today.isoformat(), "date": when.isoformat(),
            "amount": format_pence(amount), "available": format_pence(s.available),
            "bank_value": format_pence(s.bank_value), "threshold": format_pence(s.threshold),
            "threshold_weeks": s.threshold_weeks, "surplus": format_pence(s.surplus)}


def record_clawback(session, person_id: int, *, date: date, amount_pence: int, reference: str | None = None,
                    notice_given_on: date | None = None, method: str = "repayment",
                    override_reason: str | None = None, user_id: int | None = None) -> Clawback:
    check_fact_date(session, person_id, date)
    funds = lock_funds(session, [person_id])
    s = surplus_on(session, person_id, date)
    if not override_reason:
        if amount_pence > s.recoverable:
            share = "" if s.contribution_spent_first else " (the council's share of it)"
            raise Conflict(f"the surplus that may be recovered on {date.isoformat()} is {format_pence(s.recoverable)}"
                           f"{share}; this asks for {format_pence(amount_pence)}. Give an override_reason to "
                           "record it anyway", {"amount": ["more than the surplus"], "surplus": s.as_json()},
                           code="beyond_surplus")
        earliest = None if notice_given_on is None else notice_given_on + timedelta(days=s.notice_days)
        if earliest is None or date < earliest:
            told = "no notice is recorded" if notice_given_on is None else f"notice was given on {notice_given_on.isoformat()}"
            raise Conflict(f"the person must be told at least {s.notice_days} days before a surplus is recovered; "
                           f"{told}, so the earliest date is "
                           f"{(earliest or date + timedelta(days=s.notice_days)).isoformat()}. Give an "
                           "override_reason to record it anyway",
                           {"notice_given_on": [f"less than {s.notice_days} days before the date"]},
                           code="too_little_notice")
    fund, provider = person_accounts(session, person_id), provider_accounts(session)
    what = f"clawback{f' {reference}' if reference else ''}"
    entries, receipt = [], None
    if method == "deduction":
        entries = receipt_entries(person_id, date, amount_pence, "council", f"withheld for {what}", 0, fund, provider)
    to = "withheld by the council from its payment" if method == "deduction" else "repaid to the council"
    claw = Entry(kind="clawback", date=date, person_id=person_id, reason=override_reason,
                 description=f"Surplus {to}" + (f" (reference {reference})" if reference else ""),
                 follows=entries[0] if entries else None,
                 legs=[(fund["available"], -amount_pence), (provider["client_money"], amount_pence)])
    post(session, entries + [claw], funds, user_id)
    if entries:
        receipt = Receipt(person_id=person_id, date=date, amount_pence=amount_pence, source="council",
                          reference=f"withheld for {what}"[:200], fee_exempt=True,
                          fee_rate=fee_rate_on(session, person_id, date), fee_pence=0,
                          transaction_id=entries[0].posted_id)
        session.add(receipt)
        session.flush()
    row = Clawback(person_id=person_id, date=date, amount_pence=amount_pence, reference=reference,
                   notice_given_on=notice_given_on, method=method, override_reason=override_reason,
                   recoverable_pence=s.recoverable, transaction_id=claw.posted_id,
                   receipt_id=receipt.id if receipt else None, created_by=user_id)
    session.add(row)
    session.flush()
    return row


def record_fee_refund(session, person_id: int, *, date: date, amount_pence: int, reason: str,
                      user_id: int | None = None) -> Entry:
    """The provider pays fee back into `available` (a council's contract may ask for it): from its
    fee income, the money moving from its own bank back into client money. Never more than the
    fee this fund has paid."""
    check_fact_date(session, person_id, date)
    funds = lock_funds(session, [person_id])
    taken = fee_taken(session, person_id)
    if amount_pence > taken:
        raise Conflict(f"this fund has paid {format_pence(taken)} in fees; a refund cannot be more",
                       {"amount": ["more than the fee paid"], "fee_paid": format_pence(taken)},
                       code="beyond_fee_paid")
    fund, provider = person_accounts(session, person_id), provider_accounts(session)
    entry = Entry(kind="fee_refund", date=date, person_id=person_id, reason=reason,
                  description=f"Management fee refunded: {reason}",
                  legs=[(fund["available"], amount_pence), (provider["fee_income"], -amount_pence),
                        (provider["client_money"], -amount_pence), (provider["provider_bank"], amount_pence)])
    post(session, [entry], funds, user_id)
    return entry
