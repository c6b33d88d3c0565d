"""The client bank account: statements stored as received, matched to the ledger's client-money
movements (domain.md "The client bank account").

A movement is one transaction's net effect on the client-money account, in bank terms (money in
positive). Each new line is matched, in order: by a receipt's reference with the same amount;
by the same amount within 4 days when exactly one movement fits; to every receipt of one day
that sums to it exactly (a council's BACS batch); to every transfer of the provider's fees and
charges of a month that sums to it exactly (movements that reach the provider's own bank). A
line that fits more than one way gets a guess (the nearest movements, or a bounded search for
movements that sum to it), shown and never posted; finance matches it by hand.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa

from ..errors import Conflict, Invalid, NotFound
from ..money import format_pence
from ..auth.users import MAX_ID
from .bank_files import read_statement
from ..ledger.post import provider_accounts
from ..models import BankLine, BankMatch, BankStatement, Posting, Receipt, Transaction
from ..clock import month_start

WINDOW = timedelta(days=4)
SEARCH_CANDIDATES = 24  # the bounded search for a sum looks at the nearest this many movements


def movements(session, start: date | None = None, end: date | None = None, unmatched_only: bool = True,
              ids: list[int] | None = None):
    """Client-money movements: (transaction_id, date, amount in bank terms, reference, is_transfer)."""
    acc = provider_accounts(session)
    cm, own = acc["client_money"].id, acc["provider_bank"].id
    transfer = sa.select(Posting.transaction_id).where(Posting.account_id == own)
    q = (sa.select(Posting.transaction_id, Transaction.date, -sa.func.sum(Posting.amount_pence), Receipt.reference,
                   Posting.transaction_id.in_(transfer))
         .join(Transaction, Transaction.id == Posting.transaction_id)
         .outerjoin(Receipt, Receipt.transaction_id == Posting.transaction_id)
         .where(Posting.account_id == cm)
         .group_by(Posting.transaction_id, Transaction.date, Receipt.reference)
         .having(sa.func.sum(Posting.amount_pence) != 0))
    if start is not None:
        q = q.where(Posting.date >= start)
    if end is not None:
        q = q.where(Posting.date <= end)
    if ids is not None:
        q = q.where(Posting.transaction_id.in_(ids))
    if unmatched_only:
        q = q.where(~sa.exists().where(BankMatch.transaction_id == Posting.transaction_id))
    return [(t, d, int(a), r or "", bool(x)) for t, d, a, r, x in session.execute(q)]


class _Matcher:
    def __init__(self, candidates):
        self.free = {m[0]: m for m in candidates}
        self.by_amount = defaultdict(list)
        for m in candidates:
            self.by_amount[m[2]].append(m)

    def _take(self, ids):
        for t in ids:
            self.free.pop(t, None)
        return sorted(ids)

    def match(self, line) -> tuple[str | None, list[int], list[int]]:
        """(how, matched ids, guessed ids) for one line; matched ids are taken."""
        same = [m for m in self.by_amount.get(line.amount_pence, ()) if m[0] in self.free]
        text = f"{line.reference} {line.description}".upper()
        by_ref = [m for m in same if len(m[3]) >= 3 and m[3].upper() in text]
        if len(by_ref) == 1:
            return "reference", self._take([by_ref[0][0]]), []
        near = [m for m in same if abs(m[1] - line.date) <= WINDOW]
        if len(near) == 1:
            return "amount", self._take([near[0][0]]), []
        if len(near) > 1:
            best = min(near, key=lambda m: (abs(m[1] - line.date), m[0]))
            return None, [], [best[0]]
        groups = defaultdict(list)
        for m in self.free.values():
            if (m[2] > 0) != (line.amount_pence > 0):
                continue
            if m[4] and m[1] <= line.date and month_start(m[1]) >= month_start(month_start(line.date) - timedelta(1)):
                groups[("transfer", month_start(m[1]))].append(m)
            elif not m[4] and abs(m[1] - line.date) <= WINDOW:
                groups[("day", m[1])].append(m)
        fits = [g for g in groups.values() if len(g) > 1 and sum(m[2] for m in g) == line.amount_pence]
        if len(fits) == 1:
            return "sum", self._take([m[0] for m in fits[0]]), []
        return None, [], self._search(line)

    def _search(self, line) -> list[int]:
        """A bounded search for nearby same-sign movements summing exactly to the line: a guess."""
        near = sorted((m for m in self.free.values() if (m[2] > 0) == (line.amount_pence > 0)
                       and abs(m[1] - line.date) <= WINDOW * 8), key=lambda m: abs(m[1] - line.date))
        sums: dict[int, tuple[int, ...]] = {0: ()}
        for m in near[:SEARCH_CANDIDATES]:
            for total, ids in list(sums.items()):
                new = total + m[2]
                if new not in sums and len(sums) < 200_000:
                    sums[new] = ids + (m[0],)
            if line.amount_pence in sums:
                return sorted(sums[line.amount_pence])
        return []


def _line_window(lines):
    dates = [ln.date for ln in lines]
    return month_start(min(dates)) - timedelta(days=40), max(dates) + WINDOW


def import_statement(session, data: bytes, filename: str, user_id: int | None) -> dict:
    parsed = read_statement(data)
    statement = BankStatement(filename=filename[:255], format=parsed.format,
                              closing_balance_pence=parsed.closing_balance_pence, closing_date=parsed.closing_date,
                              uploaded_by=user_id)
    session.add(statement)
    session.flush()
    seen = defaultdict(int)
    identities = []
    for ln in parsed.lines:
        key = (ln.account, ln.date, ln.amount_pence, ln.description, ln.balance_pence)
        seen[key] += 1
        identities.append(ln.identity(seen[key]))
    known = set()
    for i in range(0, len(identities), 500):
        known.update(session.scalars(sa.select(BankLine.identity).where(BankLine.identity.in_(identities[i:i + 500]))))
    new = [BankLine(statement_id=statement.id, line_no=ln.line_no, account=ln.account[:60], date=ln.date,
                    amount_pence=ln.amount_pence, description=ln.description[:500], reference=ln.reference[:140],
                    balance_pence=ln.balance_pence, identity=ident)
           for ln, ident in zip(parsed.lines, identities) if ident not in known]
    session.add_all(new)
    session.flush()
    matched = 0
    if new:
        matcher = _Matcher(movements(session, *_line_window(new)))
        rows = []
        for line in sorted(new, key=lambda ln: (ln.date, ln.id)):
            how, ids, _ = matcher.match(line)
            if how:
                matched += 1
                rows += [{"line_id": line.id, "transaction_id": t, "how": how, "matched_by": user_id} for t in ids]
        if rows:
            session.execute(sa.insert(BankMatch), rows)
    return {"id": statement.id, "format": parsed.format, "lines": len(parsed.lines), "skipped": len(parsed.lines) - len(new),
            "matched": matched, "unmatched": len(new) - matched,
            "closing_balance": statement.closing_balance_pence, "closing_date": statement.closing_date}


def _statement(session, statement_id: int) -> BankStatement:
    statement = session.get(BankStatement, statement_id) if statement_id <= MAX_ID else None
    if statement is None:
        raise NotFound(f"no bank statement {statement_id}")
    return statement


def _matches(session, line_ids) -> dict[int, list[int]]:
    out = defaultdict(list)
    for line_id, t in session.execute(sa.select(BankMatch.line_id, BankMatch.transaction_id)
                                      .where(BankMatch.line_id.in_(line_ids)).order_by(BankMatch.transaction_id)):
        out[line_id].append(t)
    return out


def statement_json(session, statement_id: int) -> dict:
    statement = _statement(session, statement_id)
    lines = session.scalars(sa.select(BankLine).where(BankLine.statement_id == statement_id)
                            .order_by(BankLine.line_no)).all()
    matched = _matches(session, [ln.id for ln in lines])
    open_lines = [ln for ln in lines if ln.id not in matched]
    guesses = {}
    if open_lines:
        matcher = _Matcher(movements(session, *_line_window(open_lines)))
        for line in open_lines:
            how, ids, guess = matcher.match(line)
            guesses[line.id] = ids or guess
    return {"id": statement.id, "format": statement.format, "closing_balance": statement.closing_balance_pence,
            "closing_date": statement.closing_date,
            "lines": [{"id": ln.id, "line_no": ln.line_no, "date": ln.date, "amount": ln.amount_pence,
                       "description": ln.description, "reference": ln.reference, "account": ln.account,
                       "balance": ln.balance_pence,
                       "status": "matched" if ln.id in matched else "unmatched",
                       "transaction_ids": matched.get(ln.id, []),
                       "guess": guesses.get(ln.id) or None} for ln in lines]}


def match_by_hand(session, statement_id: int, line_id: int, transaction_ids: list[int], user_id: int) -> dict:
    _statement(session, statement_id)
    line = session.get(BankLine, line_id) if line_id <= MAX_ID else None
    if line is None or line.statement_id != statement_id:
        raise NotFound(f"no line {line_id} on bank statement {statement_id}")
    ids = sorted(set(transaction_ids))
    if not ids or len(ids) != len(transaction_ids):
        raise Invalid("transaction_ids", "name one or more transactions, each once")
    found = {m[0]: m for m in movements(session, unmatched_only=False, ids=ids)}
    missing = [t for t in ids if t not in found]
    if missing:
        raise Invalid("transaction_ids", f"not client-money movements: {missing}")
    taken = list(session.scalars(sa.select(BankMatch.transaction_id).where(BankMatch.transaction_id.in_(ids))))
    if taken:
        raise Invalid("transaction_ids", f"already matched to a bank line: {sorted(taken)}")
    total = sum(found[t][2] for t in ids)
    if total != line.amount_pence:
        raise Invalid("transaction_ids", f"they sum to {format_pence(total)}, the line is "
                                         f"{format_pence(line.amount_pence)}")
    if session.scalar(sa.select(sa.func.count()).where(BankMatch.line_id == line.id)):
        raise Conflict(f"line {line_id} is already matched", code="already_matched")
    session.execute(sa.insert(BankMatch), [{"line_id": line.id, "transaction_id": t, "how": "hand",
                                            "matched_by": user_id} for t in ids])
    return {"id": line.id, "status": "matched", "transaction_ids": ids}


def bank_position(session, as_of: date, held: int) -> dict:
    """The bank against the ledger as at a date, set-based: the last statement's balance, the
    movements not yet on a statement, the lines not matched."""
    last = session.execute(sa.select(BankStatement.closing_balance_pence, BankStatement.closing_date)
                           .where(BankStatement.closing_date <= as_of,
                                  BankStatement.closing_balance_pence.is_not(None))
                           .order_by(BankStatement.closing_date.desc(), BankStatement.id.desc()).limit(1)).first()
    if last is None:
        return {"bank_balance": None, "bank_date": None, "outstanding_receipts": None, "outstanding_payments": None,
                "unmatched_bank_lines": None, "unmatched_bank_total": None, "bank_difference": None}
    balance, bank_date = last
    cm = provider_accounts(session)["client_money"].id
    on_statement = (sa.select(BankMatch.transaction_id).join(BankLine, BankLine.id == BankMatch.line_id)
                    .where(BankLine.date <= bank_date))
    moved = (sa.select((-sa.func.sum(Posting.amount_pence)).label("amount"))
             .where(Posting.account_id == cm, Posting.date <= as_of, Posting.transaction_id.not_in(on_statement))
             .group_by(Posting.transaction_id).subquery())
    receipts, payments = session.execute(sa.select(
        sa.func.coalesce(sa.func.sum(sa.case((moved.c.amount > 0, moved.c.amount), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((moved.c.amount < 0, -moved.c.amount), else_=0)), 0))).one()
    count, total = session.execute(
        sa.select(sa.func.count(BankLine.id), sa.func.coalesce(sa.func.sum(BankLine.amount_pence), 0))
        .where(BankLine.date <= bank_date, ~sa.exists().where(BankMatch.line_id == BankLine.id))).one()
    return {"bank_balance": balance, "bank_date": bank_date, "outstanding_receipts": int(receipts),
            "outstanding_payments": int(payments), "unmatched_bank_lines": count, "unmatched_bank_total": int(total),
            "bank_difference": balance + int(receipts) - int(payments) - held}
