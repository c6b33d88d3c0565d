"""Spend on the person's behalf: invoices from other providers and flexible spend, paid from `available`.

How it sits in the books. The provider holds the fund's money in the client money bank account
and owes it to the person (`available`). Paying a taxi firm or a subcontractor on the person's
behalf lowers both at once, in one balanced two-leg transaction:

    available -X (the fund has X less)      client_money +X (X left the bank; an asset, so +)

so the sum of all funds and the client money held fall together and reconciliation stays exact
after every spend. The money is the person's, not the provider's: it is no expense or income of
the provider and passes through no provider account; the payee is named on the spend row (and in
the transaction's description), which is where the review pack reads "paid elsewhere" by payee,
category and domain. The provider's own take from a fund is only the fee and its charges
(invariant 4; kinds `fee`, `delivery`, `rate_adjustment`, `shared_charge`), so every spend is
money that went elsewhere. A spend is a third-party invoice when it carries an
`invoice_reference` (`kind` "invoice"), otherwise flexible spend (`kind` "flexible").

Rules:
- never beyond `available` (invariant 5): the engine refuses it, 409 insufficient_funds.
- one payee's invoice is paid once, anywhere in the ledger: payee and reference are compared
  case-folded with spaces trimmed and collapsed. The check runs under a named lock on the pair,
  and a unique constraint on (payee_key, invoice_key, payment_number) backs it against any path
  that skips the lock. A reversed payment corrects a mistake (wrong amount, wrong fund), so the
  invoice may then be paid again: the new row takes the next `payment_number`.
- `category` is free text, stored as lower-case words joined by "_" so "Assistive technology"
  and "assistive_technology" report together; SUGGESTED_CATEGORIES are what the demo and the
  pages offer. A fixed list would refuse the unexpected spend a person-centred plan allows.
- `domain` is one of the plan's domains (plans.DOMAINS), so a reviewer sees what each domain's
  money went on.
- `one_off` (default false) marks spend that will not recur (a holiday, a piece of equipment):
  the forecast leaves it out of the recent rate it projects the year's end at.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..errors import Conflict
from ..locks import lock_key
from .dates import check_fact_date
from ..ledger.post import Entry, lock_funds, person_accounts, post, provider_accounts
from ..models import ReceiptFile, Spend, Transaction

SUGGESTED_CATEGORIES = ("subcontracted_support", "transport", "leisure", "classes", "memberships", "equipment",
                        "assistive_technology", "holidays", "gifts", "household", "other")


def key_of(text: str) -> str:
    """How a payee or an invoice reference is recognised: case-folded, spaces trimmed and collapsed."""
    return " ".join(text.split()).casefold()


def category_of(text: str) -> str:
    return "_".join(text.lower().split())


def spend_entry(person_id: int, day: date, amount_pence: int, payee: str, description: str,
                invoice_reference: str | None, fund: dict, provider: dict) -> Entry:
    what = f"{payee}: {description}" + (f" (invoice {invoice_reference})" if invoice_reference else "")
    return Entry(kind="spend", date=day, person_id=person_id, description=what,
                 legs=[(fund["available"], -amount_pence), (provider["client_money"], amount_pence)])


def spend_row(person_id: int, entry: Entry, amount_pence: int, payee: str, category: str, domain: str,
              description: str, invoice_reference: str | None, payment_number: int | None,
              user_id: int | None = None) -> dict:
    invoice = invoice_reference.strip() if invoice_reference and invoice_reference.strip() else None
    return {"person_id": person_id, "date": entry.date, "amount_pence": amount_pence, "payee": payee.strip(),
            "payee_key": key_of(payee), "category": category_of(category), "domain": domain,
            "description": description.strip(), "invoice_reference": invoice,
            "invoice_key": key_of(invoice) if invoice else None,
            "payment_number": payment_number if invoice else None,
            "transaction_id": entry.posted_id, "created_by": user_id}


def _next_payment_number(session, payee: str, invoice_reference: str) -> int:
    """1 for an invoice never paid, the next number when every earlier payment was reversed;
    an invoice paid and not reversed is refused."""
    payee_key, invoice_key = key_of(payee), key_of(invoice_reference)
    lock_key(session, f"invoice:{payee_key}\x1f{invoice_key}")
    reversal = aliased(Transaction)
    paid = session.execute(
        sa.select(Spend, reversal.id).outerjoin(reversal, reversal.reverses_id == Spend.transaction_id)
        .where(Spend.payee_key == payee_key, Spend.invoice_key == invoice_key)
        .order_by(Spend.payment_number)).all()
    for spend, reversed_by in paid:
        if reversed_by is None:
            raise Conflict(f"invoice {invoice_reference.strip()!r} from {spend.payee} was already paid on "
                           f"{spend.date.isoformat()} (spend {spend.id}); an invoice is paid once",
                           {"invoice_reference": ["already paid to this payee"], "spend_id": spend.id,
                            "transaction_id": spend.transaction_id}, code="invoice_already_paid")
    return 1 + max((s.payment_number or 0 for s, _ in paid), default=0)


def record_spend(session, person_id: int, *, date: date, amount_pence: int, payee: str, category: str,
                 domain: str, description: str, invoice_reference: str | None = None,
                 one_off: bool = False, user_id: int | None = None) -> Spend:
    check_fact_date(session, person_id, date)
    funds = lock_funds(session, [person_id])
    invoice = invoice_reference.strip() if invoice_reference and invoice_reference.strip() else None
    number = _next_payment_number(session, payee, invoice) if invoice else None
    entry = spend_entry(person_id, date, amount_pence, payee.strip(), description.strip(), invoice,
                        person_accounts(session, person_id), provider_accounts(session))
    post(session, [entry], funds, user_id)  # refuses to take `available` below zero
    row = Spend(**spend_row(person_id, entry, amount_pence, payee, category, domain, description, invoice,
                            number, user_id), one_off=one_off)
    session.add(row)
    session.flush()
    return row


def spend_of(session, person_id: int, *, start: date | None = None, end: date | None = None,
             domain: str | None = None, category: str | None = None,
             spend_id: int | None = None) -> list[tuple[Spend, int | None, ReceiptFile | None]]:
    """A fund's spend by date, each with the transaction that reversed it (if any) and its receipt file."""
    reversal = aliased(Transaction)
    q = (sa.select(Spend, reversal.id, ReceiptFile)
         .outerjoin(reversal, reversal.reverses_id == Spend.transaction_id)
         .outerjoin(ReceiptFile, ReceiptFile.spend_id == Spend.id)
         .where(Spend.person_id == person_id))
    if start is not None:
        q = q.where(Spend.date >= start)
    if end is not None:
        q = q.where(Spend.date <= end)
    if domain is not None:
        q = q.where(Spend.domain == domain)
    if category is not None:
        q = q.where(Spend.category == category_of(category))
    if spend_id is not None:
        q = q.where(Spend.id == spend_id)
    return [tuple(r) for r in session.execute(q.order_by(Spend.date, Spend.id))]
