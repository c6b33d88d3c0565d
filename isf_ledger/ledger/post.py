"""The posting engine: every money movement in the product goes through `post`.

It keeps the ledger's invariants in one place: legs that sum to zero, never two people's
funds in one transaction, nothing written to a closed fund, nothing dated into a month whose
statement is issued, fund rows locked in a fixed order, and a monthly checkpoint per account
so that a balance never re-reads all history.

A provider account's checkpoint for a month is split over CHECKPOINT_SLOTS rows: every posting
moves client money, and one row a month would be locked by each writer until it commits, so
every fund's writers would queue behind each other's (see AccountMonth).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from ..clock import month_end, month_start, next_month
from ..db import utcnow
from ..errors import Conflict
from ..money import format_pence
from .kinds import REVERSAL, kind_of
from ..models import Account, AccountKindMonth, AccountMonth, Fund, Posting, Transaction

PERSON_ACCOUNTS = ("available", "contingency")
# Rows a provider account's month is split over; a database transaction writes one of them (its
# first fund's), so two writers of different funds rarely wait for each other, and transactions
# that share a slot take its rows in the order they took the one row before: no new deadlock.
CHECKPOINT_SLOTS = 64
_SLOT = "isf_checkpoint_slot"


class LedgerBug(AssertionError):
    """A programming error that would break an invariant; never caused by a user's input."""


@dataclass
class Entry:
    """A transaction to post: legs are (account, signed pence); positive is a credit (see Posting)."""

    kind: str
    date: date
    legs: list[tuple[Account, int]]
    person_id: int | None = None
    description: str = ""
    reverses_id: int | None = None
    reason: str | None = None
    service_date: date | None = None
    # The entry this one belongs with (a receipt's fee follows the receipt): they are reversed together.
    follows: "Entry | None" = None
    follows_id: int | None = None
    kind_reversed: str | None = None  # on a reversal: the kind of what it reverses
    posted_id: int | None = field(default=None, init=False)
    posted_date: date | None = field(default=None, init=False)








def provider_accounts(session) -> dict[str, Account]:
    """The provider's own accounts by kind (not the arrangements', which are many)."""
    rows = session.scalars(sa.select(Account).where(Account.code.like("provider:%")))
    return {a.kind: a for a in rows}


def person_accounts(session, person_id: int) -> dict[str, Account]:
    rows = session.scalars(sa.select(Account).where(Account.person_id == person_id))
    return {a.kind: a for a in rows}


def person_and_provider_accounts(session, person_id: int) -> tuple[dict[str, Account], dict[str, Account]]:
    """person_accounts and provider_accounts in one query (one round trip on a write's path)."""
    person, provider = {}, {}
    for a in session.scalars(sa.select(Account).where(sa.or_(Account.person_id == person_id,
                                                             Account.code.like("provider:%")))):
        if a.person_id == person_id:
            person[a.kind] = a
        elif a.person_id is None and a.code.startswith("provider:"):
            provider[a.kind] = a
    return person, provider


def open_person_accounts(session, person_id: int) -> dict[str, Account]:
    """Create a new fund's accounts (called once, when the person is created)."""
    accounts = {kind: Account(code=f"person:{person_id}:{kind}", kind=kind, person_id=person_id,
                              name=f"Fund {person_id}: {kind}") for kind in PERSON_ACCOUNTS}
    session.add_all(accounts.values())
    session.flush()
    return accounts


def lock_funds(session, person_ids) -> dict[int, Fund]:
    """Lock the funds a write touches, lowest person id first, so writers never deadlock.

    Refuses any write to a closed fund. On SQLite the write lock taken at BEGIN IMMEDIATE
    already serialises writers.
    """
    ids = sorted(set(person_ids))
    q = sa.select(Fund).where(Fund.person_id.in_(ids)).order_by(Fund.person_id)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    funds = {f.person_id: f for f in session.scalars(q.execution_options(populate_existing=True))}
    for pid in ids:
        fund = funds.get(pid)
        if fund is None:
            raise LedgerBug(f"person {pid} has no fund")
        _refuse_if_closed(pid, fund.closed_on)
    return funds


def refuse_closed_fund(session, person_id: int) -> None:
    """Refuse any write for a person whose fund is closed (domain.md "Closing a fund"): 409
    `fund_closed`. For the writes that post no money and so never reach `lock_funds` (a receipt
    file, a statement correction, delivery preferences); writes that post lock the fund, which
    refuses the same way. Call it after the body is validated, before anything is written."""
    closed_on = session.scalar(sa.select(Fund.closed_on).where(Fund.person_id == person_id))
    _refuse_if_closed(person_id, closed_on)


def _refuse_if_closed(person_id: int, closed_on: date | None) -> None:
    if closed_on is not None:
        raise Conflict(f"the fund of person {person_id} is closed: it was closed on {closed_on.isoformat()} "
                       "and takes no further writes", {"closed_on": closed_on.isoformat()}, code="fund_closed")


def accounting_date(fund: Fund | None, day: date) -> date:
    """The date an item is posted on: its own, unless that month's statement is already issued,
    in which case the first day of the fund's earliest month without an issued statement."""
    if fund is not None and fund.issued_through is not None and day <= month_end(fund.issued_through):
        return next_month(fund.issued_through)
    return day


def _allocate_ids(session, n: int) -> list[int]:
    """Ids for n new transactions, recorded in `transaction_ids` in this database transaction:
    the database refuses postings for an id not allocated there, and never allocates one twice."""
    if session.get_bind().dialect.name == "postgresql":
        sql = ("INSERT INTO transaction_ids (id) SELECT nextval(pg_get_serial_sequence('transactions', 'id')) "
               "FROM generate_series(1, :n) RETURNING id")
    else:
        # AUTOINCREMENT: past every id ever allocated, also one planted by hand.
        sql = ("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < :n) "
               "INSERT INTO transaction_ids (id) SELECT NULL FROM k RETURNING id")
    return sorted(session.scalars(sa.text(sql), {"n": n}))


def _check(entry: Entry) -> None:
    """The engine's own guard: balanced, one fund, and only the accounts its kind may move."""
    if len(entry.legs) < 2 or sum(p for _, p in entry.legs) != 0:
        raise LedgerBug(f"unbalanced {entry.kind}: {[(a.code, p) for a, p in entry.legs]}")
    people = {a.person_id for a, _ in entry.legs if a.person_id is not None}
    if people - {entry.person_id}:
        raise LedgerBug(f"{entry.kind} would move money between funds {sorted(people)}")
    try:
        kind = kind_of(entry.kind)
    except KeyError:
        raise LedgerBug(f"unknown kind of transaction {entry.kind!r}") from None
    if kind is REVERSAL:
        return  # the negation of a transaction that passed these checks
    for account, pence in entry.legs:
        if account.person_id is None and account.kind not in kind.provider_accounts:
            raise LedgerBug(f"a {entry.kind} may not move money on {account.code}")
        if account.person_id is not None and pence < 0 and account.kind not in kind.takes_from:
            raise LedgerBug(f"a {entry.kind} may not take money out of {account.code}")


def _refuse_overdrawing(session, entries: list[Entry]) -> None:
    """Invariant 5: a payment out of a pot that is not a charge for support given must leave the
    pot at or above zero, on its own date and after everything already dated later. Every entry
    is already written, so each fund's balance is read once per date, however many entries."""
    read: dict[tuple[int, date | None], dict[str, int]] = {}
    for e in entries:
        kind = kind_of(e.kind)
        if kind.may_overdraw:
            continue
        debited = {a.kind for a, p in e.legs if a.person_id is not None and p < 0}
        if not debited:
            continue
        for as_of in (e.posted_date, None):
            if (e.person_id, as_of) not in read:
                read[(e.person_id, as_of)] = fund_balance(session, e.person_id, as_of)
            bal = read[(e.person_id, as_of)]
            short = {pot: bal.get(pot, 0) for pot in debited if bal.get(pot, 0) < 0}
            if short:
                pot, left = next(iter(short.items()))
                out = -sum(p for a, p in e.legs if a.kind == pot and a.person_id is not None)
                raise Conflict(f"not enough money in the fund's {pot}: this needs {format_pence(out)}, "
                               f"which would leave {format_pence(left)}"
                               + ("" if as_of is None else f" on {as_of.isoformat()}"),
                               {"amount": [f"more than the {pot} balance"], pot: format_pence(left + out)},
                               code="insufficient_funds")


def post(session, entries: list[Entry], funds: dict[int, Fund], user_id: int | None = None) -> list[Entry]:
    """Write balanced transactions. Funds must already be locked with `lock_funds`.

    Postings go in before their headers; a trigger on the header refuses it unless its
    postings balance, so the database holds a balanced transaction or none.
    """
    entries = list(entries)
    for e in entries:
        e.legs = [(a, p) for a, p in e.legs if p != 0]
        _check(e)
        if e.person_id is not None and e.person_id not in funds:
            raise LedgerBug(f"fund {e.person_id} was not locked before posting")
    ids = _allocate_ids(session, len(entries))
    slot = _checkpoint_slot(session, entries)
    postings, headers, months = [], [], {}
    for txn_id, e in zip(ids, entries):
        day = accounting_date(funds.get(e.person_id), e.date)
        e.posted_id, e.posted_date = txn_id, day
        if e.follows is not None:
            if e.follows.posted_id is None:
                raise LedgerBug("an entry must be posted after the one it follows")
            e.follows_id = e.follows.posted_id
        month = month_start(day)
        for account, pence in e.legs:
            postings.append({"transaction_id": txn_id, "account_id": account.id, "date": day, "amount_pence": pence})
            key = (account.id, month, 0 if account.person_id is not None else slot)
            months[key] = months.get(key, 0) + pence
        headers.append({"id": txn_id, "kind": e.kind, "date": day, "service_date": e.service_date or e.date,
                        "person_id": e.person_id, "description": e.description[:500],
                        "reverses_id": e.reverses_id, "follows_id": e.follows_id, "reason": e.reason,
                        "created_by": user_id})
    if session.get_bind().dialect.name == "postgresql":
        _write_postgresql(session, postings, headers, months, _kind_months(session, entries))
    else:
        # RETURNING makes SQLAlchemy send multi-row INSERTs, so the database checks each batch once;
        # on the tables, not the ORM classes, which would spend more time per row than the database.
        session.execute(sa.insert(Posting.__table__).returning(Posting.__table__.c.id), postings)
        session.execute(sa.insert(Transaction.__table__).returning(Transaction.__table__.c.id), headers)
        _add_to_checkpoints(session, months)
        kind_months = _kind_months(session, entries)
        if kind_months:
            _add_to_checkpoints(session, kind_months, AccountKindMonth, KIND_MONTH_KEYS)
    _refuse_overdrawing(session, entries)
    return entries


def _checkpoint_slot(session, entries: list[Entry]) -> int:
    """The slot of the provider accounts' checkpoints this database transaction writes: chosen
    by its first post (its first fund's person id), kept until it commits or rolls back."""
    if _SLOT not in session.info:
        person = next((e.person_id for e in entries if e.person_id is not None), None)
        session.info[_SLOT] = 0 if person is None else person % CHECKPOINT_SLOTS
    return session.info[_SLOT]


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_slot(session, transaction) -> None:
    if transaction.parent is None:  # the database transaction, not a savepoint
        session.info.pop(_SLOT, None)


MONTH_KEYS = ("account_id", "month", "slot")
KIND_MONTH_KEYS = ("account_id", "month", "kind", "reverses_kind")
# Each table's columns as the engine writes them, with their PostgreSQL types (for the arrays).
_POSTING_COLUMNS = {"transaction_id": "BIGINT", "account_id": "INTEGER", "date": "DATE", "amount_pence": "BIGINT"}
_HEADER_COLUMNS = {"id": "BIGINT", "kind": "VARCHAR(40)", "date": "DATE", "service_date": "DATE",
                   "person_id": "INTEGER", "description": "VARCHAR(500)", "reverses_id": "BIGINT",
                   "follows_id": "BIGINT", "reason": "VARCHAR(500)", "created_by": "INTEGER",
                   "created_at": "TIMESTAMP WITH TIME ZONE"}
_MONTH_COLUMNS = {"account_id": "INTEGER", "month": "DATE", "slot": "SMALLINT", "net_pence": "BIGINT"}
_KIND_MONTH_COLUMNS = {"account_id": "INTEGER", "month": "DATE", "kind": "VARCHAR(40)",
                       "reverses_kind": "VARCHAR(40)", "net_pence": "BIGINT"}


def _unnest_insert(table: str, columns: dict[str, str], name: str, keys=None) -> str:
    """PostgreSQL: INSERT of rows given as one array a column (parameters name0, name1...), so a
    batch of any size is one short statement (psycopg and the server parse four parameters, not
    four a row) and the statement-level triggers run once. With keys: add to net_pence on conflict."""
    arrays = ", ".join(f"CAST(:{name}{i} AS {t}[])" for i, t in enumerate(columns.values()))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
    if keys:
        sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET net_pence = {table}.net_pence + EXCLUDED.net_pence"
    return sql


def _arrays(name: str, rows: list[tuple]) -> dict[str, list]:
    width = len(rows[0]) if rows else 0
    return {f"{name}{i}": [r[i] for r in rows] for i in range(width)}


_PG_POSTINGS = _unnest_insert("postings", _POSTING_COLUMNS, "p")
# The headers and both checkpoints in one statement (three round trips in one): the header's
# balance trigger runs at its end, over the postings already written by the statement before.
_PG_HEADERS_AND_CHECKPOINTS = (
    f"WITH headers AS ({_unnest_insert('transactions', _HEADER_COLUMNS, 'h')}), "
    f"months AS ({_unnest_insert('account_months', _MONTH_COLUMNS, 'm', MONTH_KEYS)}) "
    + _unnest_insert("account_kind_months", _KIND_MONTH_COLUMNS, "k", KIND_MONTH_KEYS))


def _write_postgresql(session, postings: list[dict], headers: list[dict], months: dict, kind_months: dict) -> None:
    """The postings, then (one statement) the headers and the checkpoints: the checkpoint rows
    sorted, so two writers touching the same provider accounts take row locks in one order."""
    if not headers:
        return
    session.execute(sa.text(_PG_POSTINGS), _arrays("p", [tuple(r[c] for c in _POSTING_COLUMNS) for r in postings]))
    now = utcnow()
    params = _arrays("h", [tuple(now if c == "created_at" else h[c] for c in _HEADER_COLUMNS) for h in headers])
    params.update(_arrays("m", [(*k, p) for k, p in sorted(months.items())]))
    kinds = [(*k, p) for k, p in sorted(kind_months.items())]
    params.update(_arrays("k", kinds) if kinds else {f"k{i}": [] for i in range(len(_KIND_MONTH_COLUMNS))})
    session.execute(sa.text(_PG_HEADERS_AND_CHECKPOINTS), params)


def _add_to_checkpoints(session, months: dict[tuple, int], model=AccountMonth, keys=MONTH_KEYS) -> None:
    """SQLite: add to the checkpoints (PostgreSQL's are in _PG_HEADERS_AND_CHECKPOINTS)."""
    table = model.__table__
    stmt = sqlite.insert(table)
    # RETURNING, on the table: one multi-row upsert a batch (as the postings), where the ORM's
    # executemany sent a statement a row.
    stmt = stmt.on_conflict_do_update(index_elements=list(keys),
                                      set_={"net_pence": table.c.net_pence + stmt.excluded.net_pence}
                                      ).returning(table.c.net_pence)
    # Sorted, so two writers touching the same provider accounts take row locks in one order.
    rows = [{**dict(zip(keys, key)), "net_pence": p} for key, p in sorted(months.items())]
    session.execute(stmt, rows)


def _kind_months(session, entries: list[Entry]) -> dict[tuple, int]:
    """The people's pots' months by kind (AccountKindMonth), a reversal under the kind it reverses
    too (reversing_entry says which; else the batch itself, else it is read)."""
    in_batch = {e.posted_id: e.kind for e in entries}
    unknown = {e.reverses_id for e in entries if e.reverses_id is not None and e.kind_reversed is None
               and e.reverses_id not in in_batch}
    kinds = dict(session.execute(sa.select(Transaction.id, Transaction.kind)
                                 .where(Transaction.id.in_(unknown))).all()) if unknown else {}
    kinds.update(in_batch)
    months: dict[tuple, int] = {}
    for e in entries:
        reversed_kind = "" if e.reverses_id is None else e.kind_reversed or kinds[e.reverses_id]
        for account, pence in e.legs:
            if account.person_id is not None:
                key = (account.id, month_start(e.posted_date), e.kind, reversed_kind)
                months[key] = months.get(key, 0) + pence
    return months


def balances(session, account_ids=None, as_of: date | None = None) -> dict[int, int]:
    """Balances in pence of the given accounts (default: every account), counting everything
    dated on or before `as_of` (default: everything): whole months from the checkpoints, the
    last month from its postings, so no question re-reads all history."""
    ids = None if account_ids is None else list(account_ids)
    out = {a: 0 for a in ids or []}
    if ids == []:
        return out
    first = None if as_of is None else month_start(as_of)
    q1 = sa.select(AccountMonth.account_id, sa.func.sum(AccountMonth.net_pence)).group_by(AccountMonth.account_id)
    if ids is not None:
        q1 = q1.where(AccountMonth.account_id.in_(ids))
    queries = [q1]
    if first is not None:
        queries[0] = q1.where(AccountMonth.month < first)
        q2 = (sa.select(Posting.account_id, sa.func.sum(Posting.amount_pence))
              .where(Posting.date >= first, Posting.date <= as_of).group_by(Posting.account_id))
        queries.append(q2 if ids is None else q2.where(Posting.account_id.in_(ids)))
    for q in queries:
        for a, total in session.execute(q):
            out[a] = out.get(a, 0) + int(total)
    return out


def fund_balance_query(dated: bool):
    """Built once: a person's pots from the checkpoints of whole months, plus (when dated) the
    last month's postings up to the day."""
    months = sa.select(sa.func.sum(AccountMonth.net_pence)).where(AccountMonth.account_id == Account.id)
    if not dated:
        total = sa.func.coalesce(months.scalar_subquery(), 0)
    else:
        last = (sa.select(sa.func.sum(Posting.amount_pence))
                .where(Posting.account_id == Account.id, Posting.date >= sa.bindparam("first", type_=sa.Date),
                       Posting.date <= sa.bindparam("as_of", type_=sa.Date)))
        total = (sa.func.coalesce(months.where(AccountMonth.month < sa.bindparam("first", type_=sa.Date))
                                  .scalar_subquery(), 0) + sa.func.coalesce(last.scalar_subquery(), 0))
    return sa.select(Account.kind, total).where(Account.person_id == sa.bindparam("person_id"))


_FUND_BALANCE = {False: fund_balance_query(False), True: fund_balance_query(True)}


def fund_balance(session, person_id: int, as_of: date | None = None) -> dict[str, int]:
    """A person's pots in pence, in one query, however long their history."""
    params = {"person_id": person_id}
    if as_of is not None:
        params.update(first=month_start(as_of), as_of=as_of)
    rows = session.execute(_FUND_BALANCE[as_of is not None], params)
    return {kind: int(pence) for kind, pence in rows}


def reversal_of(session, txn: Transaction) -> Transaction | None:
    return session.scalar(sa.select(Transaction).where(Transaction.reverses_id == txn.id))


def reversing_entry(session, txn: Transaction, reason: str, day: date | None = None) -> Entry:
    """The entry that undoes `txn`: every leg negated, pointing back at it. Refused twice."""
    if txn.reverses_id is not None:
        raise Conflict(f"transaction {txn.id} is itself a reversal and cannot be reversed; "
                       "post the item again instead", code="cannot_reverse_reversal")
    done = reversal_of(session, txn)
    if done is not None:
        raise Conflict(f"transaction {txn.id} was already reversed by transaction {done.id}",
                       {"reversal_transaction_id": done.id}, code="already_reversed")
    accounts = {a.id: a for a in session.scalars(
        sa.select(Account).where(Account.id.in_([p.account_id for p in txn.postings])))}
    return Entry(kind="reversal", date=day or txn.date,
                 legs=[(accounts[p.account_id], -p.amount_pence) for p in txn.postings],
                 person_id=txn.person_id, description=f"Reversal of {txn.description}".strip(),
                 reverses_id=txn.id, reason=reason, service_date=txn.service_date, kind_reversed=txn.kind)
