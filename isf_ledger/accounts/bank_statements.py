"""The client bank account: statements stored as received, matched to the ledger's client-money
movements (domain.md "The client bank account").

A movement is one transaction's net effect on the client-money account, in bank terms (money in
positive). Each new line is matched, in order: by a receipt's reference with the same amount;
by the same amount within 4 days when exactly one movement fits; to every receipt of one day
that sums to it exactly (a council's BACS batch); to every share of one day's bank interest
(accounts/interest.py); to every transfer of the provider's fees and
charges of a month that sums to it exactly (movements that reach the provider's own bank). A
line that fits more than one way gets a guess (the nearest movements, or a bounded search for
movements that sum to it), shown and never posted; finance matches it by hand.
"""
from __future__ import annotations

import gc
from collections import defaultdict
from contextlib import contextmanager
from itertools import groupby
from operator import itemgetter
from datetime import date, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..db import utcnow
from ..errors import Conflict, Invalid, NotFound
from ..money import format_pence
from ..auth.users import MAX_ID
from .bank_files import read_statement
from ..models import BankClearedItem, BankClearing, BankReconciliation
from ..ledger.post import provider_accounts
from ..models import BankLine, BankMatch, BankStatement, Posting, Receipt, Transaction
from ..clock import month_start

WINDOW = timedelta(days=4)
SEARCH_CANDIDATES = 24  # the bounded search for a sum looks at the nearest this many movements
SEARCH_SUMS = 20_000  # and keeps at most this many sums
GUESSES = 50  # a statement read searches for a sum for at most this many of its unmatched lines


def movements(session, start: date | None = None, end: date | None = None, unmatched_only: bool = True,
              ids: list[int] | None = None):
    """Client-money movements: (transaction_id, date, amount in bank terms, reference, is_transfer,
    is_interest: a share of the bank's interest, accounts/interest.py)."""
    acc = provider_accounts(session)
    cm, own = acc["client_money"].id, acc["provider_bank"].id
    transfer = sa.select(Posting.transaction_id).where(Posting.account_id == own)
    q = (sa.select(Posting.transaction_id, Transaction.date, -sa.func.sum(Posting.amount_pence), Receipt.reference,
                   Posting.transaction_id.in_(transfer), Transaction.kind == "interest")
         .join(Transaction, Transaction.id == Posting.transaction_id)
         .outerjoin(Receipt, Receipt.transaction_id == Posting.transaction_id)
         .where(Posting.account_id == cm)
         .group_by(Posting.transaction_id, Transaction.date, Receipt.reference, Transaction.kind)
         .having(sa.func.sum(Posting.amount_pence) != 0))
    if start is not None:
        q = q.where(Posting.date >= start)
    if end is not None:
        q = q.where(Posting.date <= end)
    if ids is not None:
        q = q.where(Posting.transaction_id.in_(ids))
    if unmatched_only:
        q = q.where(~sa.exists().where(BankMatch.transaction_id == Posting.transaction_id))
    return [(t, d, int(a), r or "", bool(x), bool(i)) for t, d, a, r, x, i in session.execute(q)]


class _Matcher:
    """Matches lines to `movements`. What it holds and returns is tuples of plain values, not
    lists: the cyclic garbage collector stops watching those, where a list for each of a year's
    lines would set off its full collections, each a walk of the whole heap."""

    def __init__(self, candidates):
        self.free = {m[0]: m for m in candidates}
        self.by_amount = {amount: tuple(same) for amount, same in groupby(sorted(candidates, key=itemgetter(2)),
                                                                           itemgetter(2))}

    def _take(self, ids):
        for t in ids:
            self.free.pop(t, None)
        return tuple(sorted(ids))

    def match(self, line, sums: bool = True, guess: bool = True) -> tuple[str | None, tuple[int, ...],
                                                                          tuple[int, ...]]:
        """(how, matched ids, guessed ids) for one line; matched ids are taken. Without `sums`
        only a single movement is matched; without `guess` no search is made for one."""
        same = [m for m in self.by_amount.get(line.amount_pence, ()) if m[0] in self.free]
        text = f"{line.reference} {line.description}".upper()
        by_ref = [m for m in same if len(m[3]) >= 3 and m[3].upper() in text]
        if len(by_ref) == 1:
            return "reference", self._take([by_ref[0][0]]), ()
        near = [m for m in same if abs(m[1] - line.date) <= WINDOW]
        if len(near) == 1:
            return "amount", self._take([near[0][0]]), ()
        if len(near) > 1:
            best = min(near, key=lambda m: (abs(m[1] - line.date), m[0]))
            return None, (), (best[0],)
        if not sums:
            return None, (), ()
        groups = defaultdict(list)
        for m in self.free.values():
            if (m[2] > 0) != (line.amount_pence > 0):
                continue
            if m[4] and m[1] <= line.date and month_start(m[1]) >= month_start(month_start(line.date) - timedelta(1)):
                groups[("transfer", month_start(m[1]))].append(m)
            elif m[5] and abs(m[1] - line.date) <= WINDOW:
                groups[("interest", m[1])].append(m)  # every fund's share of one day's interest
            elif not m[4] and abs(m[1] - line.date) <= WINDOW:
                groups[("day", m[1])].append(m)
        fits = [g for g in groups.values() if len(g) > 1 and sum(m[2] for m in g) == line.amount_pence]
        if len(fits) == 1:
            return "sum", self._take([m[0] for m in fits[0]]), ()
        return None, (), self._search(line) if guess else ()

    def match_all(self, lines, guesses: int = 0) -> dict[int, tuple[str | None, tuple[int, ...], tuple[int, ...]]]:
        """Every line, in date order: first each line that is one movement, then the rest to the
        movements left (a batch's receipts are not taken by the day's other lines after it); a
        guess searched for the first `guesses` lines left unmatched (the search is the dear part)."""
        out, rest = {}, []
        for line in sorted(lines, key=lambda ln: (ln.date, ln.id)):
            out[line.id] = self.match(line, sums=False, guess=False)
            if out[line.id][0] is None and not out[line.id][2]:
                rest.append(line)
        for line in rest:
            out[line.id] = self.match(line, guess=guesses > 0)
            if out[line.id][0] is None:
                guesses -= 1
        return out

    def _search(self, line) -> tuple[int, ...]:
        """A bounded search for nearby same-sign movements summing exactly to the line: a guess."""
        near = sorted((m for m in self.free.values() if (m[2] > 0) == (line.amount_pence > 0)
                       and abs(m[1] - line.date) <= WINDOW * 8), key=lambda m: abs(m[1] - line.date))
        sums: dict[int, tuple[int, ...]] = {0: ()}
        for m in near[:SEARCH_CANDIDATES]:
            for total, ids in list(sums.items()):
                new = total + m[2]
                if new not in sums and len(sums) < SEARCH_SUMS:
                    sums[new] = ids + (m[0],)
            if line.amount_pence in sums:
                return tuple(sorted(sums[line.amount_pence]))
        return ()


class _Line(NamedTuple):
    """What matching reads of a line just stored."""
    id: int
    date: date
    amount_pence: int
    reference: str
    description: str


def _line_window(lines):
    dates = [ln.date for ln in lines]
    return month_start(min(dates)) - timedelta(days=40), max(dates) + WINDOW


@contextmanager
def _collector_paused():
    """The cyclic garbage collector off for the span, if it was on. An import holds a year's
    lines and SQLAlchemy's parameters for them (tens of thousands of objects, freed by reference
    counting, no cycles): each full collection they set off walks the whole heap and finds
    nothing, 0.1-0.3 s a time on SQLite at 19,383 lines. The pause is process-wide for about a
    second; another thread's cycles wait for the next collection after it."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def import_statement(session, data: bytes, filename: str, user_id: int | None) -> dict:
    with _collector_paused():
        return _import_statement(session, data, filename, user_id)


def _import_statement(session, data: bytes, filename: str, user_id: int | None) -> dict:
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
    statement_id = statement.id  # read once: an ORM attribute costs a lookup each time
    rows = [{"statement_id": statement_id, "line_no": ln.line_no, "account": ln.account[:60], "date": ln.date,
             "amount_pence": ln.amount_pence, "description": ln.description[:500], "reference": ln.reference[:140],
             "balance_pence": ln.balance_pence, "identity": ident}
            for ln, ident in zip(parsed.lines, identities)]
    new = []
    if rows:
        # On the table, not the ORM class (a year's statement is tens of thousands of lines); a
        # line already imported is skipped by its identity's unique index, in the same statement.
        table = BankLine.__table__
        insert = (postgresql.insert(table) if session.get_bind().dialect.name == "postgresql" else sqlite.insert(table))
        stored = {identity: line_id for identity, line_id in session.execute(
            insert.on_conflict_do_nothing(index_elements=["identity"]).returning(table.c.identity, table.c.id), rows)}
        new = [_Line(stored[r["identity"]], r["date"], r["amount_pence"], r["reference"], r["description"])
               for r in rows if r["identity"] in stored]
    matched = 0
    if new:
        matcher = _Matcher(movements(session, *_line_window(new)))
        rows, now = [], utcnow()
        found = matcher.match_all(new)
        for line in new:
            how, ids, _ = found[line.id]
            if how:
                matched += 1
                rows += [{"line_id": line.id, "transaction_id": t, "how": how, "matched_by": user_id,
                          "matched_at": now} for t in ids]
        if rows:
            # RETURNING only so that SQLAlchemy sends multi-row INSERTs ("insertmanyvalues"): on
            # SQLite the driver's executemany, a statement per row, took 1.6 times as long (19,000 rows).
            table = BankMatch.__table__
            session.execute(sa.insert(table).returning(table.c.id), rows)
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
        for line_id, (how, ids, guess) in matcher.match_all(open_lines, GUESSES).items():
            guesses[line_id] = list(ids or guess)
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


NEAR = 100  # a line within 1/NEAR of a movement's amount (and the window) may be that movement, mistyped


class Open(NamedTuple):
    """A movement not yet on the bank as at a statement's date: (transaction, date, amount in
    bank terms, its receipt's reference, its kind and description)."""
    transaction_id: int
    date: date
    amount_pence: int
    reference: str
    kind: str
    description: str


def _floor(session, as_of: date) -> BankClearing | None:
    """The last reconciliation completed before `as_of`: the next one starts from it."""
    return session.scalar(sa.select(BankClearing).where(BankClearing.as_of < as_of)
                          .order_by(BankClearing.as_of.desc()).limit(1))


def _open_movements(session, as_of: date, bank_date: date, floor: BankClearing | None) -> list[Open]:
    """Client-money movements dated on or before `as_of` not matched to a line on or before the
    bank's date. After a completed reconciliation only what came after it is read (dated after
    it, or posted after it), with the movements it carried forward."""
    cm = provider_accounts(session)["client_money"].id
    ids = None
    if floor is not None:
        base = sa.select(Posting.transaction_id).where(Posting.account_id == cm, Posting.date <= as_of)
        ids = sa.union(base.where(Posting.date > floor.as_of),
                       base.where(Posting.transaction_id > floor.last_transaction_id),
                       sa.select(BankClearedItem.transaction_id).where(BankClearedItem.clearing_id == floor.id,
                                                                       BankClearedItem.state == "outstanding"))
    on_bank = (sa.select(BankMatch.transaction_id).join(BankLine, BankLine.id == BankMatch.line_id)
               .where(BankLine.date <= bank_date))
    q = (sa.select(Posting.transaction_id, Transaction.date, -sa.func.sum(Posting.amount_pence),
                   sa.func.coalesce(Receipt.reference, ""), Transaction.kind, Transaction.description)
         .join(Transaction, Transaction.id == Posting.transaction_id)
         .outerjoin(Receipt, Receipt.transaction_id == Posting.transaction_id)
         .where(Posting.account_id == cm, Posting.date <= as_of, Posting.transaction_id.not_in(on_bank))
         .group_by(Posting.transaction_id, Transaction.date, Receipt.reference, Transaction.kind,
                   Transaction.description)
         .having(sa.func.sum(Posting.amount_pence) != 0)
         .order_by(Transaction.date, Posting.transaction_id))
    if ids is not None:
        q = q.where(Posting.transaction_id.in_(ids))
    return [Open(t, d, int(a), r or "", k, desc) for t, d, a, r, k, desc in session.execute(q)]


def _unmatched_lines(session, bank_date: date, floor: BankClearing | None) -> list[BankLine]:
    q = (sa.select(BankLine).where(BankLine.date <= bank_date, ~sa.exists().where(BankMatch.line_id == BankLine.id))
         .order_by(BankLine.date, BankLine.id))
    if floor is not None:
        carried = sa.select(BankClearedItem.line_id).where(BankClearedItem.clearing_id == floor.id,
                                                           BankClearedItem.state == "unmatched")
        q = q.where(sa.or_(BankLine.id > floor.last_line_id, BankLine.date > floor.bank_date, BankLine.id.in_(carried)))
    return list(session.scalars(q))


def _pair(lines: list[BankLine], moves: list[Open]) -> dict[int, Open]:
    """Each unmatched line that is plainly one open movement at another amount (its receipt's
    reference, or the only movement of its sign within the window and 1% of its amount): that
    movement is on the bank, mistyped, and only the difference between them is a difference."""
    by_day = defaultdict(list)
    for m in moves:
        by_day[m.date].append(m)
    taken, out = set(), {}
    for line in lines:
        near = [m for k in range(-WINDOW.days, WINDOW.days + 1) for m in by_day.get(line.date + timedelta(k), ())
                if m.transaction_id not in taken and (m.amount_pence > 0) == (line.amount_pence > 0)]
        text = f"{line.reference} {line.description}".upper()
        fits = [m for m in near if len(m.reference) >= 3 and m.reference.upper() in text]
        if len(fits) != 1:
            room = max(1, abs(line.amount_pence) // NEAR)
            fits = [m for m in near if abs(m.amount_pence - line.amount_pence) <= room]
        if len(fits) == 1:
            out[line.id] = fits[0]
            taken.add(fits[0].transaction_id)
    return out


def bank_position(session, as_of: date, held: int, detail: bool = False) -> dict:
    """The bank against the ledger as at a date: the last statement's balance, the movements not
    yet on the bank (outstanding), the lines the ledger does not hold (unmatched), and the
    difference: the bank balance less client money held, allowing for the outstanding movements
    and counting a mistyped line only by what it differs from the movement it is (domain.md
    "The client bank account"). With `detail`, the movements and lines themselves (the report)."""
    last = session.execute(sa.select(BankStatement.id, BankStatement.closing_balance_pence, BankStatement.closing_date)
                           .where(BankStatement.closing_date <= as_of,
                                  BankStatement.closing_balance_pence.is_not(None))
                           .order_by(BankStatement.closing_date.desc(), BankStatement.id.desc()).limit(1)).first()
    if last is None:
        out = {"bank_balance": None, "bank_date": None, "outstanding_receipts": None, "outstanding_payments": None,
               "unmatched_bank_lines": None, "unmatched_bank_total": None, "bank_difference": None}
        return {**out, "statement_id": None, "outstanding": [], "unmatched": [], "floor": None} if detail else out
    statement_id, balance, bank_date = last
    floor = _floor(session, as_of)
    moves = _open_movements(session, as_of, bank_date, floor)
    lines = _unmatched_lines(session, bank_date, floor)
    paired = _pair(lines, moves)
    on_bank = {m.transaction_id for m in paired.values()}
    outstanding = [m for m in moves if m.transaction_id not in on_bank]
    receipts = sum(m.amount_pence for m in outstanding if m.amount_pence > 0)
    payments = -sum(m.amount_pence for m in outstanding if m.amount_pence < 0)
    out = {"bank_balance": balance, "bank_date": bank_date, "outstanding_receipts": receipts,
           "outstanding_payments": payments, "unmatched_bank_lines": len(lines),
           "unmatched_bank_total": sum(ln.amount_pence for ln in lines),
           "bank_difference": balance + receipts - payments - held}
    if detail:
        out.update(statement_id=statement_id, outstanding=outstanding, floor=floor,
                   unmatched=[(ln, paired.get(ln.id)) for ln in lines])
    return out


def clear(session, reconciliation: BankReconciliation, position: dict) -> BankClearing:
    """Clear for good what a completed reconciliation found on the bank: every matched movement
    and its line since the last one; carry forward what is outstanding and unmatched."""
    floor, bank_date = position["floor"], position["bank_date"]
    q = (sa.select(BankMatch.transaction_id, BankMatch.line_id, BankLine.amount_pence)
         .join(BankLine, BankLine.id == BankMatch.line_id)
         .where(BankLine.date <= bank_date,
                ~sa.exists().where(BankClearedItem.state == "cleared",
                                   BankClearedItem.transaction_id == BankMatch.transaction_id)))
    if floor is not None:
        q = q.where(sa.or_(BankLine.id > floor.last_line_id, BankLine.date > floor.bank_date,
                           BankMatch.transaction_id.in_(
                               sa.select(BankClearedItem.transaction_id).where(BankClearedItem.clearing_id == floor.id,
                                                                               BankClearedItem.state == "outstanding")),
                           BankMatch.line_id.in_(
                               sa.select(BankClearedItem.line_id).where(BankClearedItem.clearing_id == floor.id,
                                                                        BankClearedItem.state == "unmatched"))))
    cleared = session.execute(q).all()
    done = BankClearing(reconciliation_id=reconciliation.id, as_of=reconciliation.as_of, bank_date=bank_date,
                        last_transaction_id=session.scalar(sa.select(sa.func.max(Transaction.id))) or 0,
                        last_line_id=session.scalar(sa.select(sa.func.max(BankLine.id))) or 0)
    session.add(done)
    session.flush()
    rows = [{"clearing_id": done.id, "state": "cleared", "transaction_id": t, "line_id": ln, "amount_pence": a}
            for t, ln, a in cleared]
    rows += [{"clearing_id": done.id, "state": "outstanding", "transaction_id": m.transaction_id, "line_id": None,
              "amount_pence": m.amount_pence} for m in position["outstanding"]]
    rows += [{"clearing_id": done.id, "state": "unmatched", "transaction_id": None, "line_id": ln.id,
              "amount_pence": ln.amount_pence} for ln, _ in position["unmatched"]]
    for i in range(0, len(rows), 1000):
        session.execute(sa.insert(BankClearedItem), rows[i:i + 1000])
    return done
