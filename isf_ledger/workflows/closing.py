"""Closing a fund (domain.md "Closing a fund"), in one database transaction:

1. Outstanding charges. Deliveries, spend and fees are posted as they are recorded, so only
   shared support can be pending: every month the person shared support in, up to the close
   date, is charged if it has ended and was not yet. A month not yet ended cannot be charged
   fairly (the other members' days are not known), so closing is refused (409
   `shared_month_not_ended`) until it has ended: close then, dated on the day the person left.
   A membership running past the close date must be ended by a review first (409).
2. The balance (available and contingency) is paid out in one `closing` transaction: refunded
   to the council or transferred to the new holder, with the reference. An overdrawn
   `available` is refused (409 `fund_overdrawn`): the provider makes good the overdraft from its
   own money first (a fee-exempt receipt, source `other`), never netting it against contingency.
3. The fund's ended months not yet issued are issued, in order, as month end would issue them
   (domain.md "Month end in order": from the month after its last statement, or the month it
   opened), then the final statement for the closing month, up to the close date
   (reports/statements.issue_final), so the person sees the balance leave and the fund at zero.
4. `closed_on` is set (the database lets it be set once): every later write for the person is
   refused by the posting engine with 409 `fund_closed`.
Nothing may already be dated after the close date (409 `items_after_close`): reverse it first.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from .. import clock
from ..errors import Conflict
from ..locks import lock_key
from ..money import format_pence
from ..reports import statements as st
from ..accounts.dates import refuse_before_opening, refuse_future
from ..models import FundClosing, Transaction
from ..ledger.post import Entry, fund_balance, lock_funds, person_accounts, post, provider_accounts
from ..clock import add_months, month_end, month_start

DESTINATIONS = ("council", "transfer")
# Why the fund closed: it chooses the final statement's wording (domain.md "Closing a fund").
CLOSE_REASONS = ("moved_provider", "direct_payment", "died", "other")


def _charge_shared_support(session, person_id: int, closed_on: date, user_id: int | None) -> list[int]:
    from ..shared_support.charges import charge_month, ends_on
    from ..models.shared_support import ChargeRun, Membership

    charged = []
    for m in session.scalars(sa.select(Membership).where(Membership.person_id == person_id,
                                                          Membership.starts_on <= closed_on)):
        end = ends_on(session, m.id)
        if end is None or end > closed_on:
            raise Conflict(f"the person is still a member of shared arrangement {m.arrangement_id}"
                           f"{'' if end is None else ' until ' + end.isoformat()}: end the membership on or before "
                           f"{closed_on.isoformat()} with a review first", {"arrangement_id": m.arrangement_id},
                           code="shared_membership_open")
        month = month_start(m.starts_on)
        while month <= month_start(end):
            done = session.scalar(sa.select(ChargeRun.id).where(ChargeRun.arrangement_id == m.arrangement_id,
                                                                 ChargeRun.month == month))
            if done is None:
                if month_end(month) >= clock.today():
                    raise Conflict(f"the shared support of {month:%B %Y} can be charged only once the month has "
                                   f"ended; close the fund on or after {add_months(month, 1).isoformat()}, "
                                   f"dated {closed_on.isoformat()}", {"arrangement_id": m.arrangement_id},
                                   code="shared_month_not_ended")
                before = session.scalar(sa.select(sa.func.max(Transaction.id)))
                charge_month(session, [m.arrangement_id], month, user_id)
                charged += list(session.scalars(sa.select(Transaction.id).where(
                    Transaction.person_id == person_id, Transaction.kind == "shared_charge",
                    Transaction.id > (before or 0))))
            month = add_months(month, 1)
    return charged


def close_fund(session, person_id: int, *, date: date, destination: str, reference: str,
               reason: str | None = None, user_id: int | None = None) -> dict:
    # Month end's lock first, then the fund, as month end takes them: neither waits on the other.
    lock_key(session, "statements:issue")
    funds = lock_funds(session, [person_id])  # 409 fund_closed the second time
    fund = funds[person_id]
    refuse_before_opening(date, fund.opened_on)
    refuse_future(date, what="closings (on the day the person left, not ahead of it)")
    if fund.issued_through is not None and date <= month_end(fund.issued_through):
        raise Conflict(f"the statement for {fund.issued_through:%B %Y} is already issued; close the fund on a "
                       "later day", {"date": ["in a month whose statement is issued"]}, code="month_closed")
    later = session.scalar(sa.select(sa.func.count()).select_from(Transaction)
                           .where(Transaction.person_id == person_id, Transaction.date > date))
    if later:
        raise Conflict(f"{later} item(s) are dated after {date.isoformat()}; reverse them or close the fund later",
                       {"date": ["items are dated after it"]}, code="items_after_close")
    shared = _charge_shared_support(session, person_id, date, user_id)
    months = st.issue_missing_months(session, person_id, date, user_id=user_id)
    pots = fund_balance(session, person_id)
    available, contingency = pots.get("available", 0), pots.get("contingency", 0)
    if available < 0:
        raise Conflict(f"the fund is overdrawn by {format_pence(-available)}: the provider makes this good from its "
                       "own money (a fee-exempt receipt, source other) before the fund is closed",
                       {"available": format_pence(available)}, code="fund_overdrawn")
    total = available + contingency
    to = "refunded to the council" if destination == "council" else "transferred to the new fund holder"
    entry = None
    if total:
        fund_acc, provider = person_accounts(session, person_id), provider_accounts(session)
        entry = Entry(kind="closing", date=date, person_id=person_id,
                      description=f"Fund closed: {format_pence(total)} {to} (reference {reference})",
                      legs=[(fund_acc["available"], -available), (fund_acc["contingency"], -contingency),
                            (provider["client_money"], total)])
        post(session, [entry], funds, user_id)
    reason = reason or ("moved_provider" if destination == "transfer" else "other")
    closing = {"destination": destination, "reference": reference, "reason": reason, "paid_out": format_pence(total),
               "available_paid_out": format_pence(available), "contingency_paid_out": format_pence(contingency)}
    statement = st.issue_final(session, person_id, date, closing, user_id=user_id)
    session.execute(sa.update(type(fund)).where(type(fund).person_id == person_id).values(closed_on=date))
    session.add(FundClosing(person_id=person_id, date=date, destination=destination, reference=reference,
                            paid_out_pence=total, transaction_id=entry.posted_id if entry else None,
                            statement_id=statement.id, created_by=user_id))
    session.flush()
    return {"person_id": person_id, "closed_on": date, "destination": destination, "reference": reference,
            "reason": reason,
            "paid_out": total, "available_paid_out": available, "contingency_paid_out": contingency,
            "transaction_id": entry.posted_id if entry else None, "transaction_ids":
            shared + ([entry.posted_id] if entry else []), "shared_charge_transaction_ids": shared,
            "final_statement_number": statement.number, "final_statement_month": date.strftime("%Y-%m"),
            "statements_issued": [{"month": m.strftime("%Y-%m"), "number": n} for m, n in months]}
