"""Shared arrangements, their members, and the month's charge run, through the posting engine.

Each member pays their share from their own fund in their own transaction (invariant 3): their
`available` down, the arrangement's account up, and, since the share is the provider's income
for support it gave, the money leaves client money for the provider's bank in the same
transaction (as the fee does). The empty places' share is a provider-only transaction from the
provider's void account, or from the council-funded voids account where the arrangement's
council funds voids. So the arrangement's account nets to the month's cost.

A review (a new member, a change of weight, a leaving, a new cost or capacity) dated into a
month already charged posts the difference at once, one line per party whose share changed,
dated on that month's last day: the engine moves it to the person's first open month when that
month's statement is issued. Nothing charged is ever rewritten.

Writers on one arrangement queue on a named lock (lock_key), arrangements in id order and then
funds in person order, so two charge runs of a month charge once and nobody deadlocks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from ..accounts.councils import rule_history, rule_on
from ..accounts.dates import refuse_before_opening
from ..ledger.post import Entry, lock_funds, post
from ..models import Account, Council, Person
from .. import clock
from ..db import utcnow
from ..errors import Conflict, Invalid, LedgerError
from ..locks import lock_key
from ..money import format_decimal, format_pence
from .apportion import Member, MonthShares, Share, Version, apportion, version_on
from ..models.shared_support import Arrangement, ArrangementVersion, ChargeLine, ChargeRun, Membership, MembershipTerm
from ..clock import month_end

METHODS = ("equal", "weighted")
ACCOUNT_KIND = "shared_arrangement"
COUNCIL_VOIDS = "council_voids"


def account_code(arrangement_id: int) -> str:
    return f"arrangement:{arrangement_id}"




def _lock(session, arrangement_ids) -> None:
    """Hold each arrangement's named lock (locks.lock_key's), in id order, in one round trip."""
    names = [f"shared-arrangement:{aid}" for aid in sorted(set(arrangement_ids))]
    if len(names) == 1 or session.get_bind().dialect.name != "postgresql":
        for name in names:
            lock_key(session, name)
        return
    session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(name, 0)) "
                            "FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS n(name, i) ORDER BY i"),
                    {"names": names})


# ---------------------------------------------------------------- history, as apportion reads it

def history(session, arrangement_ids: list[int]) -> dict[int, tuple[list[Version], list[Member]]]:
    """Each arrangement's versions and memberships, in three queries however many there are."""
    out = {aid: ([], []) for aid in arrangement_ids}
    for v in session.scalars(sa.select(ArrangementVersion).where(
            ArrangementVersion.arrangement_id.in_(arrangement_ids))):
        out[v.arrangement_id][0].append(Version(v.effective_from, v.capacity, v.per_night_pence, v.weekly_pence))
    terms: dict[int, list[MembershipTerm]] = {}
    for t in session.scalars(sa.select(MembershipTerm).join(Membership, Membership.id == MembershipTerm.membership_id)
                             .where(Membership.arrangement_id.in_(arrangement_ids))):
        terms.setdefault(t.membership_id, []).append(t)
    for m in session.scalars(sa.select(Membership).where(Membership.arrangement_id.in_(arrangement_ids))):
        out[m.arrangement_id][1].append(member_of(m, terms.get(m.id, [])))
    return out


def member_of(m: Membership, terms: list[MembershipTerm]) -> Member:
    latest = max(terms, key=lambda t: (t.effective_from, t.id))
    return Member(m.person_id, m.starts_on, latest.ends_on,
                  tuple(sorted((t.effective_from, t.weight) for t in terms)))


def ends_on(session, membership_id: int) -> date | None:
    return session.scalar(sa.select(MembershipTerm.ends_on).where(MembershipTerm.membership_id == membership_id)
                          .order_by(MembershipTerm.effective_from.desc(), MembershipTerm.id.desc()).limit(1))


# ---------------------------------------------------------------- arrangements and members

def _check_cost(per_night_pence, weekly_pence) -> None:
    if (per_night_pence is None) == (weekly_pence is None):
        raise Invalid("per_night", "give exactly one cost: per_night or weekly")


def create_arrangement(session, *, name: str, capacity: int, method: str, effective_from: date,
                       per_night_pence: int | None = None, weekly_pence: int | None = None,
                       domain: str = "staying_safe", council: str | None = None,
                       user_id: int | None = None) -> Arrangement:
    _check_cost(per_night_pence, weekly_pence)
    council_id = None
    if council:
        from ..accounts.councils import find_council

        found = find_council(session, council)
        if found is None:
            raise Invalid("council", f"no council named {council!r}")
        council_id = found.id
    arrangement = Arrangement(name=name, method=method, domain=domain, council_id=council_id, created_by=user_id)
    session.add(arrangement)
    session.flush()
    session.add(Account(code=account_code(arrangement.id), kind=ACCOUNT_KIND, person_id=None,
                        name=f"Shared arrangement {arrangement.id}: {name}"[:200]))
    session.add(ArrangementVersion(arrangement_id=arrangement.id, effective_from=effective_from, capacity=capacity,
                                   per_night_pence=per_night_pence, weekly_pence=weekly_pence, created_by=user_id))
    session.flush()
    return arrangement


def add_version(session, arrangement: Arrangement, *, effective_from: date, capacity: int,
                per_night_pence: int | None = None, weekly_pence: int | None = None,
                user_id: int | None = None) -> tuple[ArrangementVersion, list[dict]]:
    """A reviewed cost or capacity from a date; months already charged get the difference."""
    _check_cost(per_night_pence, weekly_pence)
    _lock(session, [arrangement.id])
    versions, members = history(session, [arrangement.id])[arrangement.id]
    if effective_from <= min(v.effective_from for v in versions):
        raise Invalid("effective_from", f"must be after the arrangement began on "
                                        f"{min(v.effective_from for v in versions).isoformat()}")
    if any(v.effective_from == effective_from for v in versions):
        raise Conflict(f"a version already starts on {effective_from.isoformat()}; versions are never replaced",
                       {"effective_from": ["a version already starts on this day"]}, code="duplicate_version")
    later = [v.effective_from for v in versions if v.effective_from > effective_from]
    _check_places(members, [Version(effective_from, capacity)], effective_from,
                  min(later) - timedelta(days=1) if later else None)
    version = ArrangementVersion(arrangement_id=arrangement.id, effective_from=effective_from, capacity=capacity,
                                 per_night_pence=per_night_pence, weekly_pence=weekly_pence, created_by=user_id)
    session.add(version)
    session.flush()
    what = (f"cost reviewed from {effective_from.isoformat()}: "
            + (f"{format_pence(per_night_pence)} a night" if per_night_pence is not None
               else f"{format_pence(weekly_pence)} a week") + f", {capacity} places")
    return version, recharge(session, arrangement, effective_from, what, user_id)


def _spans_overlap(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    return (b_end is None or a_start <= b_end) and (a_end is None or b_start <= a_end)


def _check_places(members: list[Member], versions: list[Version], start: date, end: date | None) -> None:
    """Nobody joins a full arrangement and no review cuts places below the members: on every day
    from start to end (checked where membership or capacity changes), members <= capacity."""
    days = {start} | {m.starts_on for m in members} | {m.ends_on + timedelta(days=1) for m in members if m.ends_on}
    days |= {v.effective_from for v in versions}
    for day in sorted(d for d in days if d >= start and (end is None or d <= end)):
        v = version_on(versions, day)
        present = sum(1 for m in members if m.weight_on(day) is not None)
        if v is not None and present > v.capacity:
            raise Conflict(f"on {day.isoformat()} the arrangement would have {present} members for "
                           f"{v.capacity} places", {"capacity": v.capacity, "members": present, "date": day.isoformat()},
                           code="arrangement_full")


def _weight(arrangement: Arrangement, weight: Decimal | None) -> Decimal:
    if arrangement.method == "equal":
        if weight is not None and weight != 1:
            raise Invalid("weight", "every weight is 1 under the equal method")
        return Decimal(1)
    if weight is None:
        raise Invalid("weight", "a weighted arrangement needs the agreed weight")
    return weight


def add_member(session, arrangement: Arrangement, *, person_id: int, starts_on: date, agreed_on: date,
               recorded_by: str, weight: Decimal | None = None, ends_on: date | None = None,
               user_id: int | None = None) -> tuple[Membership, list[dict]]:
    """A person joins, with their consent, from a date; months already charged get the difference."""
    weight = _weight(arrangement, weight)
    if session.get(Person, person_id) is None:
        raise Invalid("person_id", f"no person with id {person_id}")
    if ends_on is not None and ends_on < starts_on:
        raise Invalid("to", "must be on or after `from`")
    _lock(session, [arrangement.id])
    fund = lock_funds(session, [person_id])[person_id]  # a closed fund cannot join (409 fund_closed)
    # domain.md "Dates that may be entered": a membership may start in the future, never before
    # the member's fund opened (it would charge a fund for days it did not exist).
    refuse_before_opening(starts_on, fund.opened_on, "from")
    versions, members = history(session, [arrangement.id])[arrangement.id]
    _refuse_overlap(members, person_id, starts_on, ends_on)
    new = Member(person_id, starts_on, ends_on, ((starts_on, weight),))
    _check_places(members + [new], versions, starts_on, ends_on)
    membership = Membership(arrangement_id=arrangement.id, person_id=person_id, starts_on=starts_on,
                            created_by=user_id)
    session.add(membership)
    session.flush()
    session.add(MembershipTerm(membership_id=membership.id, effective_from=starts_on, weight=weight, ends_on=ends_on,
                               agreed_on=agreed_on, recorded_by=recorded_by, created_by=user_id))
    session.flush()
    what = f"person {person_id} joined from {starts_on.isoformat()} (weight {format_decimal(weight)})"
    return membership, recharge(session, arrangement, starts_on, what, user_id)


def _refuse_overlap(members: list[Member], person_id: int, start: date, end: date | None,
                    leave_out: Member | None = None) -> None:
    for m in members:
        if m.person_id == person_id and m is not leave_out and _spans_overlap(start, end, m.starts_on, m.ends_on):
            raise Conflict(f"person {person_id} is already a member from {m.starts_on.isoformat()}"
                           + (f" to {m.ends_on.isoformat()}" if m.ends_on else "")
                           + "; review that membership instead", {"person_id": person_id},
                           code="overlapping_membership")


def review_member(session, arrangement: Arrangement, membership: Membership, *, effective_from: date,
                  agreed_on: date, recorded_by: str, weight: Decimal | None = None,
                  ends_on: date | None = None, user_id: int | None = None) -> tuple[MembershipTerm, list[dict]]:
    """A reviewed weight from a date, or a new end (a leaving), agreed with the person."""
    if weight is None and ends_on is None:
        raise Invalid("weight", "give the new weight, or `to` (the last day of the membership), or both")
    if weight is not None:
        _weight(arrangement, weight)
    if effective_from < membership.starts_on:
        raise Invalid("effective_from", f"before the membership began on {membership.starts_on.isoformat()}")
    if ends_on is not None and ends_on < membership.starts_on:
        raise Invalid("to", f"before the membership began on {membership.starts_on.isoformat()}")
    _lock(session, [arrangement.id])
    versions, members = history(session, [arrangement.id])[arrangement.id]
    mine = session.scalars(sa.select(MembershipTerm).where(MembershipTerm.membership_id == membership.id)).all()
    if any(t.effective_from == effective_from for t in mine):
        raise Conflict(f"this membership was already reviewed from {effective_from.isoformat()}",
                       {"effective_from": ["a review already takes effect on this day"]}, code="duplicate_review")
    current = member_of(membership, mine)
    latest = max(mine, key=lambda t: (t.effective_from, t.id))
    new_end = ends_on if ends_on is not None else latest.ends_on
    new_weight = weight if weight is not None else current.weight_on(effective_from) or latest.weight
    term = MembershipTerm(membership_id=membership.id, effective_from=effective_from, weight=new_weight,
                          ends_on=new_end, agreed_on=agreed_on, recorded_by=recorded_by, created_by=user_id)
    reviewed = member_of(membership, [*mine, term])
    others = [m for m in members if m != current]
    _refuse_overlap(others, membership.person_id, reviewed.starts_on, reviewed.ends_on)
    if current.ends_on is not None and (new_end is None or new_end > current.ends_on):
        _check_places(others + [reviewed], versions, current.ends_on + timedelta(days=1), new_end)
    lock_funds(session, [membership.person_id])
    session.add(term)
    session.flush()
    since = min(d for d in (effective_from, current.ends_on and current.ends_on + timedelta(days=1),
                            new_end and new_end + timedelta(days=1)) if d is not None)
    what = (f"person {membership.person_id}'s membership reviewed from {effective_from.isoformat()}: "
            + ", ".join(p for p in (weight is not None and f"weight {format_decimal(new_weight)}",
                                    ends_on is not None and f"ends {ends_on.isoformat()}") if p))
    return term, recharge(session, arrangement, since, what, user_id)


# ---------------------------------------------------------------- the month's charge run

def refuse_unended(month: date) -> None:
    if month_end(month) >= clock.today():
        raise Conflict(f"{month:%Y-%m} has not ended yet: a month is charged once it is over",
                       {"month": f"{month:%Y-%m}"}, code="month_not_ended")


def charge_month(session, arrangement_ids: list[int], month: date,
                 user_id: int | None = None) -> tuple[dict[int, ChargeRun], set[int]]:
    """Charge a month for each arrangement not yet charged for it. Returns every arrangement's run
    (the first one where it was already charged) and the ids charged now. A month not yet ended
    is refused; so is, for one arrangement, a month it did not run (a batch skips those)."""
    month = month.replace(day=1)
    refuse_unended(month)
    ids = sorted(set(arrangement_ids))
    _lock(session, ids)
    runs = {r.arrangement_id: r for r in session.scalars(
        sa.select(ChargeRun).where(ChargeRun.arrangement_id.in_(ids), ChargeRun.month == month))}
    todo = [aid for aid in ids if aid not in runs]
    if not todo:
        return runs, set()
    arrangements = {a.id: a for a in session.scalars(sa.select(Arrangement).where(Arrangement.id.in_(todo)))}
    worked = {aid: apportion(month, *h) for aid, h in history(session, todo).items()}
    not_running = [aid for aid in todo if worked[aid].nights == 0]
    if not_running and len(ids) == 1:
        raise Conflict(f"arrangement {ids[0]} did not run in {month:%Y-%m}: nothing to charge",
                       code="arrangement_not_running")
    todo = [aid for aid in todo if worked[aid].nights]
    ctx = _Postings(session, todo, {p for aid in todo for p in worked[aid].by_party() if p is not None})
    new_runs = [ChargeRun(arrangement_id=aid, month=month, created_by=user_id) for aid in todo]
    session.add_all(new_runs)
    session.flush()
    for run in new_runs:
        runs[run.arrangement_id] = run
        shares = worked[run.arrangement_id]
        for s in shares.shares:
            ctx.add(arrangements[run.arrangement_id], run, shares, s, s.share_pence, None)
    ctx.post(user_id)
    return runs, set(todo)


@dataclass
class NotCharged:
    """An arrangement whose month could not be charged, why, and the members it leaves uncharged
    (their statement for the month waits until it is charged)."""
    arrangement_id: int
    reason: str
    person_ids: list[int] = field(default_factory=list)

    def line(self) -> str:
        return f"arrangement {self.arrangement_id}: {self.reason}"


@dataclass
class ChargeRunResult:
    charged: int = 0
    already: int = 0
    not_charged: list[NotCharged] = field(default_factory=list)


RUN_BATCH = 250  # arrangements per savepoint: a refused one costs its batch a second try, one by one


def charge_run(session, month: date, user_id: int | None = None) -> ChargeRunResult:
    """The month's charge run: every arrangement that ran in the month and is not yet charged for
    it, in the caller's transaction (never committed here). Each batch, and on a refusal each
    arrangement, is charged under a savepoint, so one refused arrangement (a member's fund
    closed) leaves the rest charged and is named with the members it leaves uncharged."""
    month = month.replace(day=1)
    refuse_unended(month)
    began = sa.func.min(ArrangementVersion.effective_from)
    ids = session.scalars(sa.select(ArrangementVersion.arrangement_id).group_by(ArrangementVersion.arrangement_id)
                          .having(began <= month_end(month)).order_by(ArrangementVersion.arrangement_id)).all()
    done_before = set(session.scalars(sa.select(ChargeRun.arrangement_id).where(ChargeRun.month == month)))
    todo = [aid for aid in ids if aid not in done_before]
    result = ChargeRunResult(already=len(done_before))
    for i in range(0, len(todo), RUN_BATCH):
        batch = todo[i:i + RUN_BATCH]
        try:
            with session.begin_nested():
                result.charged += len(charge_month(session, batch, month, user_id)[1])
        except LedgerError:
            for aid in batch:  # one by one, so one closed fund does not hold up the rest
                try:
                    with session.begin_nested():
                        result.charged += len(charge_month(session, [aid], month, user_id)[1])
                except LedgerError as e:
                    result.not_charged.append(NotCharged(aid, e.message, members_in(session, aid, month)))
    return result


def members_in(session, arrangement_id: int, month: date) -> list[int]:
    """The people with a share of the arrangement's cost for the month."""
    shares = apportion(month, *history(session, [arrangement_id])[arrangement_id])
    return sorted(pid for pid in shares.by_party() if pid is not None)


def recharge(session, arrangement: Arrangement, since: date, reason: str,
             user_id: int | None = None) -> list[dict]:
    """After a review dated `since`: every month already charged from then on is worked out again
    and each party whose share changed is charged (or refunded) the difference."""
    runs = session.scalars(sa.select(ChargeRun).where(ChargeRun.arrangement_id == arrangement.id,
                                                      ChargeRun.month >= since.replace(day=1))
                           .order_by(ChargeRun.month)).all()
    if not runs:
        return []
    versions, members = history(session, [arrangement.id])[arrangement.id]
    charged: dict[tuple[int, int | None], int] = {}
    for run_id, pid, pence in session.execute(
            sa.select(ChargeLine.run_id, ChargeLine.person_id, sa.func.sum(ChargeLine.amount_pence))
            .where(ChargeLine.run_id.in_([r.id for r in runs])).group_by(ChargeLine.run_id, ChargeLine.person_id)):
        charged[(run_id, pid)] = int(pence)
    todo = []
    for run in runs:
        shares = apportion(run.month, versions, members)
        now = shares.by_party()
        parties = {pid for (rid, pid) in charged if rid == run.id} | set(now)
        for pid in sorted(parties, key=lambda p: (p is None, p or 0)):
            s = now.get(pid) or _gone(pid)
            difference = s.share_pence - charged.get((run.id, pid), 0)
            if difference:
                todo.append((run, shares, s, difference))
    if not todo:
        return []
    ctx = _Postings(session, [arrangement.id], {s.person_id for _, _, s, _ in todo if s.person_id is not None})
    for run, shares, s, difference in todo:
        ctx.add(arrangement, run, shares, s, difference, reason)
    return ctx.post(user_id)


def _gone(person_id) -> Share:
    """A party with a share before the review and none after it (a membership that no longer
    reaches the month, or a place now filled): its share is nil."""
    return Share(person_id)


class _Postings:
    """Collects the entries and charge lines of one charge run (or one review's corrections) and
    posts them together: one transaction per member's share, one per empty places' share."""

    def __init__(self, session, arrangement_ids, person_ids):
        self.session = session
        self.funds = lock_funds(session, person_ids)
        # Plain rows, not ORM objects: the engine reads only an account's id, code, kind and person.
        columns = (Account.id, Account.code, Account.kind, Account.person_id)
        self.accounts = {r.code: r for r in session.execute(sa.select(*columns).where(
            Account.code.in_([account_code(a) for a in arrangement_ids])))}
        self.pots = {(r.person_id, r.kind): r for r in session.execute(sa.select(*columns).where(
            Account.person_id.in_(person_ids), Account.kind == "available"))}
        self.provider = {r.kind: r for r in session.execute(sa.select(*columns).where(
            Account.code.like("provider:%")))}
        self.councils: dict[int, Council] = {}
        self.history = None  # the councils' rule changes, read once when a void first needs them
        self.pending: list[tuple[Entry, dict]] = []

    def _council_funds_voids(self, arrangement: Arrangement, day: date) -> int | None:
        """The council that funds the empty places on `day` (the month's last day, the void
        charge's date), by its profile as it stood then."""
        if arrangement.council_id is None:
            return None
        if arrangement.council_id not in self.councils:
            self.councils[arrangement.council_id] = self.session.get(Council, arrangement.council_id)
            self.history = rule_history(self.session, list(self.councils))
        council = self.councils[arrangement.council_id]
        return council.id if rule_on(self.session, "voids_funded_by_council", council, None, day, self.history) else None

    def add(self, arrangement, run, shares: MonthShares, s, amount: int, reason: str | None) -> None:
        last = month_end(run.month)
        to_arrangement = self.accounts[account_code(arrangement.id)]
        council_id = None
        if s.person_id is not None:
            legs = [(self.pots[(s.person_id, "available")], -amount), (to_arrangement, amount),
                    (self.provider["client_money"], amount), (self.provider["provider_bank"], -amount)]
            kind = "shared_charge"
        else:
            council_id = self._council_funds_voids(arrangement, last)
            legs = [(self.provider[COUNCIL_VOIDS if council_id else "void"], -amount), (to_arrangement, amount)]
            kind = "shared_void"
        entry = Entry(kind=kind, date=last, service_date=last, person_id=s.person_id, legs=legs,
                      description=describe(arrangement, shares, s, amount, reason))
        line = {"run_id": run.id, "person_id": s.person_id, "council_id": council_id, "days": s.days,
                "weight": s.weight, "weight_days": s.weight_days, "total_weight_days": shares.total_weight_days,
                "capacity": shares.capacity, "cost_pence": shares.cost_pence, "share_pence": s.share_pence,
                "amount_pence": amount, "reason": reason[:500] if reason else None}
        self.pending.append((entry, line))

    def post(self, user_id) -> list[dict]:
        """Post the entries and write their charge lines; returns the lines as written."""
        now = utcnow()
        # Members' entries first, then the empty places': headers alike in shape go in one INSERT
        # (the engine's ORM insert starts a new statement whenever a row's shape changes).
        self.pending.sort(key=lambda pair: pair[0].person_id is None)
        posted = [e for e, _ in self.pending if e.legs and any(p for _, p in e.legs)]
        post(self.session, posted, self.funds, user_id)
        rows = [{**line, "transaction_id": e.posted_id, "created_at": now} for e, line in self.pending]
        if rows:
            # RETURNING makes SQLAlchemy send multi-row INSERTs rather than one per line.
            self.session.execute(sa.insert(ChargeLine.__table__).returning(ChargeLine.id), rows)
        return rows


def describe(arrangement: Arrangement, shares: MonthShares, s, amount: int, reason: str | None) -> str:
    """How a share was worked out, in words, for the member's ledger line."""
    if s.person_id is None:
        who = f"{format_decimal(s.weight_days)} empty place-days"
    elif s.weight is None:  # charged before, no day in the month since the review
        who = "no days in the month after review"
    elif s.weight * s.days == s.weight_days:
        who = f"{s.days} days x weight {format_decimal(s.weight)}"
    else:  # the weight was reviewed within the month
        who = f"{s.days} days at weights reviewed in the month (weight {format_decimal(s.weight)} at its end)"
    text = (f"Shared support: {arrangement.name} (arrangement {arrangement.id}), {shares.month:%Y-%m}: "
            f"{who} = {format_decimal(s.weight_days)} of {format_decimal(shares.total_weight_days)} shares of the "
            f"month's cost {format_pence(shares.cost_pence)} ({shares.cost_working}), {shares.capacity} places; "
            f"share {format_pence(s.share_pence)}")
    if reason:
        text = f"{text}; difference {format_pence(amount)} after review: {reason}"
    return text
