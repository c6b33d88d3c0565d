"""The self-audit: re-derive what the ledger keeps and check every invariant, from the database.

Each check returns the problems it found as sentences naming the person whose fund they touch;
an empty list means the books hold. Every check is a set-based query (aggregates and joins in
the database): the audit reads a few rows per fault, never every receipt or posting as objects.
It reads in a read-only snapshot (see `begin_read_only`), so it never blocks a writer.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from .. import clock
from ..db import begin_read_only
from ..models import FundFigureRow
from ..models.figures import NO_WEEKS
from ..reports import current
from ..reports.dashboard import fund_figures
from ..money import apply_rate, format_pence
from ..ledger.kinds import outflows
from ..models import (Account, AccountKindMonth, AccountMonth, BankInterest, BankInterestShare, Clawback,
    ContingencyMovement, Delivery, FundClosing, Person, Posting, RateAdjustmentLine, Receipt, Spend, Transaction)
from ..accounts.hours import CHARGED, quantity
from ..accounts.reconciliation import reconcile
from ..models.shared_support import ChargeLine

# Invariant 4: the only kinds of transaction that may take money out of a person's fund (a
# debit of `available` or `contingency`), each with the provider accounts the money must reach.
# An empty set: a move between the person's own pots, so nothing may leave the fund. Reversals
# are checked against what they reverse instead. Money into a fund (receipt, fee_refund) is
# not listed: those kinds may not take money out.
OUTFLOWS = outflows()  # from the engine's own table of kinds (kinds.py)
REVERSAL = "reversal"


@dataclass
class Finding:
    person_id: int | None  # whose fund; None: the provider's own books
    message: str
    others: tuple[int, ...] = ()  # further people the message names, in place of "{others}"




def _month_of(session, column):
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.date_trunc("month", column), sa.Date)
    return sa.func.substr(column, 1, 8).concat("01")  # dates are 'YYYY-MM-DD' text


def _sum_if(condition, value=Posting.amount_pence):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, value), else_=0)), 0)


def per_transaction(session) -> dict[str, list[Finding]]:
    """One pass over all postings, grouped by transaction, for the checks a transaction's own
    legs decide: balance, header, dates, one fund, and where money leaving a fund goes. The legs
    are summed first (by fund and by destination account), then each transaction's header is
    joined once: per posting, only cheap sums."""
    t, a, p = Transaction, Account, Posting
    fund_leg = a.person_id.is_not(None)
    destinations = sorted(set().union(*OUTFLOWS.values()))
    legs = sa.select(
        p.transaction_id.label("txn"), sa.func.sum(p.amount_pence).label("total"), sa.func.count().label("n"),
        sa.func.min(p.date).label("first_date"), sa.func.max(p.date).label("last_date"),
        sa.func.min(a.person_id).label("lo"), sa.func.max(a.person_id).label("hi"),
        _sum_if(fund_leg).label("fund_net"), _sum_if(sa.and_(fund_leg, p.amount_pence < 0), 1).label("debits"),
        *[_sum_if(sa.and_(a.person_id.is_(None), a.kind == k)).label(f"to_{k}") for k in destinations],
    ).join(a, a.id == p.account_id).group_by(p.transaction_id).subquery()
    c = legs.c
    reached = sa.case(*[(t.kind == kind, sum((c[f"to_{k}"] for k in sorted(dests)), sa.literal(0)))
                        for kind, dests in OUTFLOWS.items() if dests], else_=0)
    misdated = sa.or_(c.first_date != t.date, c.last_date != t.date)
    outflow_wrong = sa.and_(c.debits > 0, t.kind.is_distinct_from(REVERSAL),
                            sa.or_(t.kind.is_(None), t.kind.not_in(list(OUTFLOWS)), reached != -c.fund_net))
    q = (sa.select(c.txn, t.id.is_(None), t.kind, t.person_id, c.total, c.n, misdated, c.lo, c.hi,
                   c.fund_net, reached, c.debits)
         .select_from(legs).outerjoin(t, t.id == c.txn)
         .where(sa.or_(c.total != 0, c.n < 2, t.id.is_(None), misdated, c.lo != c.hi,
                       sa.and_(c.lo.is_not(None), t.person_id.is_distinct_from(c.lo)), outflow_wrong)))
    out = {name: [] for name in ("balance", "headerless", "misdated", "one_fund", "outflow")}
    headerless: dict[int | None, list[tuple[int, int, int]]] = {}
    for txn, no_header, kind, owner, s, count, bad_dates, first, last, net, reached, debits in session.execute(q):
        who = owner if owner is not None else first
        if s != 0 or count < 2:
            out["balance"].append(Finding(who, f"transaction {txn}: {count} posting(s) summing to {s} pence"))
        if no_header:
            headerless.setdefault(first, []).append((txn, count, net))
            continue
        if bad_dates:
            out["misdated"].append(Finding(who, f"postings of transaction {txn} are dated apart from it"))
        if first is not None and (first != last or owner != first):
            others = tuple(x for x in {first, last} if x != owner)
            out["one_fund"].append(Finding(owner, f"transaction {txn} ({kind}) moves money in the fund of "
                                                  "{others}", others))
        elif debits and kind != REVERSAL:
            if kind not in OUTFLOWS:
                why = f"a {kind} may not take money from a fund"
            else:
                dests = ", ".join(sorted(OUTFLOWS[kind])) or "the person's own pots"
                why = f"{format_pence(-net)} left the fund, {format_pence(reached)} reached {dests}"
            out["outflow"].append(Finding(who, f"transaction {txn} ({kind}): {why}"))
    for pid, rows in headerless.items():
        ids = ", ".join(str(txn) for txn, _, _ in rows)
        legs = sum(c for _, c, _ in rows)
        net = sum(x for _, _, x in rows)
        out["headerless"].append(Finding(pid, f"{legs} posting(s) without a transaction header (transaction "
                                              f"id(s) {ids}), {format_pence(net)} to the fund"))
    return out


def checkpoint_drift(session) -> list[Finding]:
    """Monthly checkpoints against the postings, compared in the database: one pass over both."""
    month = _month_of(session, Posting.date)
    both = sa.union_all(  # postings summed first, along the (account, date) index
        sa.select(Posting.account_id.label("account_id"), month.label("month"),
                  sa.func.sum(Posting.amount_pence).label("derived"), sa.literal(0).label("kept"))
        .group_by(Posting.account_id, month),
        sa.select(AccountMonth.account_id, AccountMonth.month, sa.literal(0), AccountMonth.net_pence)).subquery()
    derived, kept = sa.func.sum(both.c.derived), sa.func.sum(both.c.kept)
    q = (sa.select(Account.person_id, Account.kind, both.c.month, derived, kept)
         .join(Account, Account.id == both.c.account_id)
         .group_by(both.c.account_id, Account.person_id, Account.kind, both.c.month).having(derived != kept))
    return [Finding(pid, f"{kind} in {str(month)[:7]}: checkpoint {format_pence(k)}, postings {format_pence(d)}")
            for pid, kind, month, d, k in session.execute(q)]


def kind_checkpoint_drift(session) -> list[Finding]:
    """The people's pots' monthly checkpoints by kind (a reversal also by the kind it reverses)
    against their postings, compared in the database."""
    month = _month_of(session, Posting.date)
    original = aliased(Transaction)
    reversed_kind = sa.func.coalesce(original.kind, "")
    k = AccountKindMonth
    both = sa.union_all(
        sa.select(Posting.account_id.label("account_id"), month.label("month"), Transaction.kind.label("kind"),
                  reversed_kind.label("reverses_kind"), sa.func.sum(Posting.amount_pence).label("derived"),
                  sa.literal(0).label("kept"))
        .join(Account, Account.id == Posting.account_id).join(Transaction, Transaction.id == Posting.transaction_id)
        .outerjoin(original, original.id == Transaction.reverses_id).where(Account.person_id.is_not(None))
        .group_by(Posting.account_id, month, Transaction.kind, reversed_kind),
        sa.select(k.account_id, k.month, k.kind, k.reverses_kind, sa.literal(0), k.net_pence)).subquery()
    derived, kept = sa.func.sum(both.c.derived), sa.func.sum(both.c.kept)
    q = (sa.select(Account.person_id, Account.kind, both.c.month, both.c.kind, both.c.reverses_kind, derived, kept)
         .join(Account, Account.id == both.c.account_id)
         .group_by(both.c.account_id, Account.person_id, Account.kind, both.c.month, both.c.kind,
                   both.c.reverses_kind).having(derived != kept))
    return [Finding(pid, f"{kind} in {str(month)[:7]}, {what}{' of ' + of if of else ''}: checkpoint "
                         f"{format_pence(kp)}, postings {format_pence(d)}")
            for pid, kind, month, what, of, d, kp in session.execute(q)]


def wrong_fees(session) -> list[Finding]:
    """The fee each receipt recorded is ROUND_HALF_UP(amount x rate) (none when exempt). Receipts
    are grouped by (amount, rate, exemption, fee) first: instalments repeat, so few groups."""
    r = Receipt
    groups = sa.select(r.amount_pence, r.fee_rate, r.fee_exempt, r.fee_pence).group_by(
        r.amount_pence, r.fee_rate, r.fee_exempt, r.fee_pence)
    out = []
    for amount, rate, exempt, fee in session.execute(groups.execution_options(yield_per=5000)):
        want = 0 if exempt else apply_rate(amount, rate)
        if fee == want:
            continue
        for rid, pid in session.execute(sa.select(r.id, r.person_id).where(
                r.amount_pence == amount, r.fee_rate == rate, r.fee_exempt == exempt, r.fee_pence == fee)):
            out.append(Finding(pid, f"receipt {rid} of {format_pence(amount)}: fee {format_pence(fee)}, "
                                    f"the rate {rate} gives {format_pence(want)}"))
    return out


def _moved(txn_id, person_id, kinds, provider_kind=None):
    """Pence a transaction moved on the person's pots of `kinds` (or, with provider_kind, on
    that provider account), as a correlated subquery."""
    a, p = aliased(Account), aliased(Posting)
    where = (a.person_id.is_(None), a.kind == provider_kind) if provider_kind else (
        a.person_id == person_id, a.kind.in_(kinds))
    return sa.func.coalesce(sa.select(sa.func.sum(p.amount_pence)).join(a, a.id == p.account_id)
                            .where(p.transaction_id == txn_id, *where).scalar_subquery(), 0)


def receipts_against_postings(session) -> list[Finding]:
    """Each receipt's transaction put its amount into `available`; its fee transaction (there
    exactly when the fee is not zero) is a fee that took exactly that fee to fee income."""
    r, t, f = Receipt, aliased(Transaction), aliased(Transaction)
    into = _moved(r.transaction_id, r.person_id, ["available"])
    fee_out = -_moved(r.fee_transaction_id, r.person_id, ["available", "contingency"])
    fee_in = _moved(r.fee_transaction_id, None, None, "fee_income")
    receipt_bad = sa.or_(t.id.is_(None), t.kind != "receipt", t.person_id.is_distinct_from(r.person_id),
                         into != r.amount_pence)
    fee_bad = sa.case(
        (r.fee_transaction_id.is_(None), r.fee_pence != 0),
        else_=sa.or_(r.fee_pence == 0, f.id.is_(None), f.kind != "fee", f.person_id.is_distinct_from(r.person_id),
                     fee_out != r.fee_pence, fee_in != r.fee_pence))
    q = (sa.select(r.id, r.person_id, r.amount_pence, r.fee_pence, r.transaction_id, r.fee_transaction_id,
                   t.kind, into, f.kind, fee_out, fee_in, receipt_bad, fee_bad)
         .outerjoin(t, t.id == r.transaction_id).outerjoin(f, f.id == r.fee_transaction_id)
         .where(sa.or_(receipt_bad, fee_bad)))
    out = []
    for rid, pid, amount, fee, txn, fee_txn, kind, got, fee_kind, took, earned, r_bad, f_bad in session.execute(q):
        if r_bad:
            out.append(Finding(pid, f"receipt {rid} of {format_pence(amount)}: its transaction {txn} is "
                                    f"{kind or 'missing'} and put {format_pence(got)} into available"))
        if f_bad:
            out.append(Finding(pid, f"receipt {rid}: fee {format_pence(fee)}, but fee transaction {fee_txn} is "
                                    f"{fee_kind or 'missing'}, took {format_pence(took)} from the fund and "
                                    f"paid {format_pence(earned)} to fee income"))
    return out


def _records():
    """Every record that says what a transaction moved, as rows (txn, kind, person, what, id,
    avail, cont, fund, arr): the pence it put on the person's `available` and `contingency`, on
    the fund as a whole, and on a shared arrangement's account (None: not said by the record)."""
    none = sa.cast(sa.null(), sa.BigInteger)

    def text(x):
        return sa.cast(sa.literal(x), sa.String(40)) if isinstance(x, str) else x

    def row(txn, kind, pid, what, rid, avail=none, cont=none, fund=none, arr=none):
        return sa.select(txn.label("txn"), text(kind).label("kind"), pid.label("pid"), text(what).label("what"),
                         rid.label("rid"), avail.label("avail"), cont.label("cont"), fund.label("fund"),
                         arr.label("arr"))

    r, d, s, m, c, fc = Receipt, Delivery, Spend, ContingencyMovement, Clawback, FundClosing
    ra, cl, sh, bi = RateAdjustmentLine, ChargeLine, BankInterestShare, BankInterest
    nobody = sa.cast(sa.null(), sa.Integer)  # the provider's own books
    zero = sa.cast(sa.literal(0), sa.BigInteger)
    set_aside = m.kind == "set_aside"
    signed = sa.case((set_aside, -m.amount_pence), else_=m.amount_pence)
    parts = [
        row(r.transaction_id, "receipt", r.person_id, "receipt", r.id, r.amount_pence, zero, r.amount_pence),
        row(r.fee_transaction_id, "fee", r.person_id, "receipt", r.id, -r.fee_pence, zero, -r.fee_pence)
        .where(r.fee_transaction_id.is_not(None)),
        row(d.transaction_id, "delivery", d.person_id, "delivery", d.id, -d.charge_pence, zero, -d.charge_pence)
        .where(d.transaction_id.is_not(None)),
        row(ra.transaction_id, "rate_adjustment", ra.person_id, "rate adjustment of delivery", sa.func.min(ra.delivery_id),
            -sa.func.sum(ra.difference_pence), zero, -sa.func.sum(ra.difference_pence))
        .where(ra.transaction_id.is_not(None)).group_by(ra.transaction_id, ra.person_id),
        row(s.transaction_id, "spend", s.person_id, "spend", s.id, -s.amount_pence, zero, -s.amount_pence),
        row(m.transaction_id, sa.case((set_aside, "contingency_set_aside"), else_="contingency_draw"), m.person_id,
            "contingency movement", m.id, signed, -signed, zero),
        row(c.transaction_id, "clawback", c.person_id, "clawback", c.id, -c.amount_pence, zero, -c.amount_pence),
        row(fc.transaction_id, "closing", fc.person_id, "closing", fc.id, fund=-fc.paid_out_pence)
        .where(fc.transaction_id.is_not(None)),
        row(cl.transaction_id, sa.case((cl.person_id.is_(None), "shared_void"), else_="shared_charge"),
            cl.person_id, "shared charge line", sa.func.min(cl.id),
            sa.case((cl.person_id.is_(None), zero), else_=-sa.func.sum(cl.amount_pence)), zero,
            sa.case((cl.person_id.is_(None), zero), else_=-sa.func.sum(cl.amount_pence)), sa.func.sum(cl.amount_pence))
        .where(cl.transaction_id.is_not(None)).group_by(cl.transaction_id, cl.person_id),
        row(sh.transaction_id, "interest", sh.person_id, "interest share", sh.id, sh.share_pence, zero, sh.share_pence)
        .where(sh.transaction_id.is_not(None)),
        row(bi.kept_transaction_id, "interest", nobody, "interest", bi.id, zero, zero, zero)
        .where(bi.kept_transaction_id.is_not(None)),
        row(bi.transfer_transaction_id, "interest_to_provider", nobody, "interest", bi.id, zero, zero, zero)
        .where(bi.transfer_transaction_id.is_not(None)),
    ]
    return sa.union_all(*parts).subquery()


# Kinds whose every transaction has a record beside it (RECORDED_BY); a fee refund has none: its
# reason is on the transaction, it moves from fee income what it gives the fund, and the fund's
# net fee paid may never go below zero.
RECORDED_BY = {"receipt": "receipt", "fee": "receipt", "delivery": "delivery",
               "rate_adjustment": "rate adjustment line", "spend": "spend", "contingency_set_aside":
               "contingency movement", "contingency_draw": "contingency movement", "clawback": "clawback",
               "closing": "fund closing", "shared_charge": "shared charge line", "shared_void": "shared charge line",
               "interest": "interest share", "interest_to_provider": "interest"}
NO_RECORD = {"fee_refund", REVERSAL}


def records_against_postings(session) -> list[Finding]:
    """Every transaction has the record of its kind (a delivery, a spend, a charge line...) and
    moved exactly what that record says on the fund's pots and the arrangement's account; every
    record's transaction exists, is of its kind and in its person's fund; a closed fund holds
    nothing (its closing paid out both pots: the record says only the total); a fee refund, which
    has no record, gave the fund exactly the fee income it gave back. Four queries: the records
    against their transactions' legs, the transactions without their record, the fee refunds' legs
    and the closed funds' pots."""
    t, p, a = Transaction, Posting, Account
    rec = _records()
    legs = (sa.select(p.transaction_id.label("txn"),
                      _sum_if(sa.and_(a.person_id.is_not(None), a.kind == "available")).label("avail"),
                      _sum_if(sa.and_(a.person_id.is_not(None), a.kind == "contingency")).label("cont"),
                      _sum_if(a.person_id.is_not(None)).label("fund"),
                      _sum_if(a.kind == "shared_arrangement").label("arr"))
            .join(a, a.id == p.account_id).where(p.transaction_id.in_(sa.select(rec.c.txn)))
            .group_by(p.transaction_id).subquery())
    mismatch = sa.or_(*[sa.and_(getattr(rec.c, x).is_not(None), sa.func.coalesce(getattr(legs.c, x), 0) != getattr(rec.c, x))
                        for x in ("avail", "cont", "fund", "arr")])
    cols = list(rec.c)
    q = (sa.select(*cols, t.id.is_(None), t.kind, t.person_id, legs.c.avail, legs.c.cont, legs.c.fund, legs.c.arr)
         .select_from(rec).outerjoin(t, t.id == rec.c.txn).outerjoin(legs, legs.c.txn == rec.c.txn)
         .where(sa.or_(t.id.is_(None), t.kind != cols[1], t.person_id.is_distinct_from(cols[2]), mismatch)))
    out = []
    for txn, kind, pid, what, rid, *want, missing, got_kind, owner, g_av, g_co, g_fu, g_ar in session.execute(q):
        head = f"{what} {rid}: its transaction {txn}"
        if missing:
            out.append(Finding(pid, f"{head} is missing"))
        elif got_kind != kind or owner != pid:
            out.append(Finding(pid, f"{head} is a {got_kind} of "
                                    + ("the provider's books" if owner is None else "{others}"),
                               () if owner is None else (owner,)))
        else:
            got = dict(zip(("available", "contingency", "the fund", "the arrangement"), (g_av, g_co, g_fu, g_ar)))
            said = [f"{format_pence(g or 0)} on {name}, the record says {format_pence(w)}"
                    for (name, g), w in zip(got.items(), want) if w is not None and (g or 0) != w]
            out.append(Finding(pid, f"{head} ({kind}) moved " + "; ".join(said)))
    lone = (sa.select(t.id, t.kind, t.person_id, sa.func.coalesce(sa.select(sa.func.sum(p.amount_pence))
                      .join(a, a.id == p.account_id)
                      .where(p.transaction_id == t.id, a.person_id.is_not(None)).scalar_subquery(), 0))
            .outerjoin(rec, rec.c.txn == t.id)
            .where(rec.c.txn.is_(None), t.kind.not_in(list(NO_RECORD))))
    for txn, kind, pid, net in session.execute(lone):
        why = (f"with no {RECORDED_BY[kind]} recorded" if kind in RECORDED_BY
               else "(a kind the engine does not know)")
        out.append(Finding(pid, f"transaction {txn} is a {kind} {why}, {format_pence(net)} to the fund"))
    # A fee refund has no record of its own: what it records is the fee it gives back, so it puts
    # into `available` exactly what it takes from fee income (the fund's net fee paid, never below
    # zero, is `negative_fee`'s), and nothing else of the fund moves.
    fund_leg = a.person_id.is_not(None)
    r_av, r_co = _sum_if(sa.and_(fund_leg, a.kind == "available")), _sum_if(sa.and_(fund_leg, a.kind == "contingency"))
    r_fee = _sum_if(sa.and_(a.person_id.is_(None), a.kind == "fee_income"))
    refunds = (sa.select(t.id, t.person_id, r_av, r_co, r_fee).join(p, p.transaction_id == t.id)
               .join(a, a.id == p.account_id).where(t.kind == "fee_refund").group_by(t.id, t.person_id)
               .having(sa.or_(r_av != -r_fee, r_co != 0)))
    for txn, pid, av, co, fee in session.execute(refunds):
        out.append(Finding(pid, f"transaction {txn} is a fee refund of {format_pence(av)} to available"
                                + (f" and {format_pence(co)} to contingency" if co else "")
                                + f" that gave back {format_pence(-fee)} of fee income"))
    # A closing pays out all of both pots and the fund takes no writes after it: a closing that
    # paid the right total from the wrong pots (or a closed fund with money left) leaves money in one.
    fc = FundClosing
    held_av, held_co = _sum_if(a.kind == "available"), _sum_if(a.kind == "contingency")
    still = (sa.select(fc.id, fc.person_id, fc.date, fc.paid_out_pence, held_av, held_co)
             .join(a, a.person_id == fc.person_id).join(p, p.account_id == a.id)
             .group_by(fc.id, fc.person_id, fc.date, fc.paid_out_pence)
             .having(sa.or_(held_av != 0, held_co != 0)))
    for cid, pid, day, paid, av, co in session.execute(still):
        out.append(Finding(pid, f"fund closing {cid}: the fund closed on {day} (paying out {format_pence(paid)}) "
                                f"still holds {format_pence(av)} in available and {format_pence(co)} in contingency"))
    return out


def negative_fee(session) -> list[Finding]:
    """A fund never gets back more fee than it paid: each fund's net fee (fee income from it, net
    of refunds and reversals) is never below zero."""
    t, p, a = Transaction, Posting, Account
    net = sa.func.sum(p.amount_pence)
    q = (sa.select(t.person_id, net).join(p, p.transaction_id == t.id).join(a, a.id == p.account_id)
         .where(a.kind == "fee_income", t.person_id.is_not(None)).group_by(t.person_id).having(net < 0))
    return [Finding(pid, f"the fund has been refunded {format_pence(-n)} more fee than it paid")
            for pid, n in session.execute(q)]


def wrong_charges(session) -> list[Finding]:
    """Each delivery's charge is ROUND_HALF_UP(quantity x rate) when its status is charged, else
    none, and it has a transaction exactly when the charge is not zero. Grouped by (quantity,
    rate, status, charge) first, as the fees are: sessions repeat, so few groups."""
    d = Delivery
    key = (d.quantity_hundredths, d.rate, d.status, d.charge_pence)
    posted = d.transaction_id.is_not(None)
    out = []
    for qty, rate, status, charge, n_posted, n in session.execute(
            sa.select(*key, _sum_if(posted, 1), sa.func.count()).group_by(*key).execution_options(yield_per=5000)):
        want = apply_rate(qty, rate) if status in CHARGED else 0
        if charge == want and n_posted == (n if want else 0):
            continue
        for did, pid, txn in session.execute(sa.select(d.id, d.person_id, d.transaction_id).where(
                *(col == v for col, v in zip(key, (qty, rate, status, charge))))):
            if charge != want:
                out.append(Finding(pid, f"delivery {did} ({status}, {quantity(qty)} at {rate}): charge "
                                        f"{format_pence(charge)}, the rate gives {format_pence(want)}"))
            elif (txn is not None) != bool(want):
                out.append(Finding(pid, f"delivery {did}: charge {format_pence(charge)} but "
                                        + ("no transaction" if txn is None else f"transaction {txn}")))
    return out


def statements_against_ledger(session) -> list[Finding]:
    """Each issued statement's stored money figures against the ledger's month for that person
    (nothing can be dated into an issued month, so it never changes): its opening and closing
    `available`, the contingency left, and each heading's total. Read from the monthly
    checkpoints (themselves checked against the postings) in two grouped passes, one over the
    months up to each statement's and one over its month by kind, compared in the database: one
    query."""
    from ..reports.figures import HEADINGS, OUTGOING
    from ..models.statements import Statement

    s, am, km, a = Statement, AccountMonth, AccountKindMonth, Account
    available = a.kind == "available"
    pots = (sa.select(s.id.label("sid"),
                      _sum_if(sa.and_(available, am.month < s.month), am.net_pence).label("opening_balance"),
                      _sum_if(available, am.net_pence).label("closing_balance"),
                      _sum_if(a.kind == "contingency", am.net_pence).label("remaining"))
            .join(a, a.person_id == s.person_id).join(am, sa.and_(am.account_id == a.id, am.month <= s.month))
            .group_by(s.id).subquery())
    names = sorted(set(HEADINGS.values()))
    of = sa.case((km.kind == REVERSAL, km.reverses_kind), else_=km.kind)
    heads = (sa.select(s.id.label("sid"), *[
                 ((-1 if h in OUTGOING else 1) * _sum_if(of.in_([k for k, x in HEADINGS.items() if x == h]),
                                                         km.net_pence)).label(h) for h in names])
             .join(a, sa.and_(a.person_id == s.person_id, available))
             .join(km, sa.and_(km.account_id == a.id, km.month == s.month))
             .group_by(s.id).subquery())
    paths = {"contingency_set_aside": ("contingency", "set_aside"), "contingency_drawn": ("contingency", "drawn")}
    derived = {"opening_balance": pots.c.opening_balance, "closing_balance": pots.c.closing_balance,
               ("contingency", "remaining"): pots.c.remaining, **{paths.get(h, h): heads.c[h] for h in names}}
    figures = {k: _pounds(sa.func.coalesce(v, 0)) for k, v in derived.items()}
    stored = {k: s.figures[k].as_string() for k in figures}
    # domain.md's statement fields must be there; a heading added since may be missing from
    # statements issued before it was.
    bad = sa.or_(*[stored[k].is_distinct_from(v) if k in STATEMENT_FIELDS or isinstance(k, tuple)
                   else sa.and_(stored[k].is_not(None), stored[k] != v) for k, v in figures.items()])
    q = (sa.select(s.person_id, s.month, s.number, *stored.values(), *figures.values())
         .outerjoin(pots, pots.c.sid == s.id).outerjoin(heads, heads.c.sid == s.id).where(bad))
    out = []
    for pid, month, number, *values in session.execute(q):
        kept, ledger = values[:len(figures)], values[len(figures):]
        diffs = [f"{k if isinstance(k, str) else '.'.join(k)} {x} (the ledger: {y})"
                 for k, x, y in zip(figures, kept, ledger) if x != y]
        out.append(Finding(pid, f"statement {number} for {str(month)[:7]} says " + ", ".join(diffs)))
    return out


STATEMENT_FIELDS = ("opening_balance", "closing_balance", "receipts_total", "management_fee_total",
                    "support_charged_total", "shared_support_total", "spend_total", "clawback_total")


def _pounds(pence):
    """Pence as the statements write money ("-12.50"), in SQL on both engines."""
    whole, part = sa.func.abs(pence) // 100, sa.func.abs(pence) % 100
    return (sa.case((pence < 0, "-"), else_="") + sa.cast(whole, sa.String) + "."
            + sa.case((part < 10, "0"), else_="") + sa.cast(part, sa.String))


def reversals_against_originals(session) -> list[Finding]:
    """A reversal is the exact negation of what it reverses: the same accounts, negated amounts,
    the same fund; only reversals point at a transaction; a receipt and its fee go back together."""
    t, o, p = Transaction, aliased(Transaction), Posting
    legs = sa.union_all(*[
        sa.select(t.id.label("rid"), t.person_id.label("pid"), p.account_id, p.amount_pence)
        .join(p, p.transaction_id == side).where(t.reverses_id.is_not(None))
        for side in (t.id, t.reverses_id)]).subquery()
    net = (sa.select(legs.c.rid, legs.c.pid, legs.c.account_id).group_by(legs.c.rid, legs.c.pid, legs.c.account_id)
           .having(sa.func.sum(legs.c.amount_pence) != 0).subquery())
    out = [Finding(pid, f"reversal {rid} does not negate what it reverses on {n} account(s)")
           for rid, pid, n in session.execute(
               sa.select(net.c.rid, net.c.pid, sa.func.count()).group_by(net.c.rid, net.c.pid))]
    odd = (sa.select(t.id, t.person_id, t.kind, t.reverses_id, o.person_id, o.reverses_id)
           .outerjoin(o, o.id == t.reverses_id)
           .where(sa.or_(sa.and_(t.kind == REVERSAL, t.reverses_id.is_(None)),
                         sa.and_(t.kind != REVERSAL, t.reverses_id.is_not(None)),
                         o.person_id.is_distinct_from(t.person_id) & t.reverses_id.is_not(None),
                         o.reverses_id.is_not(None))))
    for txn, pid, kind, target, target_pid, target_reverses in session.execute(odd):
        if target is None:
            why = "is a reversal pointing at nothing"
        elif kind != REVERSAL:
            why = f"is a {kind} but points at transaction {target} as a reversal does"
        elif target_reverses is not None:
            why = f"reverses transaction {target}, itself a reversal"
        else:
            why = f"reverses transaction {target} of another fund"
        out.append(Finding(pid, f"transaction {txn} {why}"))
    r, rr, fr = Receipt, aliased(Transaction), aliased(Transaction)
    half = (sa.select(r.id, r.person_id, rr.id).outerjoin(rr, rr.reverses_id == r.transaction_id)
            .outerjoin(fr, fr.reverses_id == r.fee_transaction_id)
            .where(r.fee_transaction_id.is_not(None), rr.id.is_(None) != fr.id.is_(None)))
    out += [Finding(pid, f"receipt {rid}: " + ("reversed without its fee" if rev else "its fee reversed alone"))
            for rid, pid, rev in session.execute(half)]
    return out


def unreconciled(session) -> list[Finding]:
    r = reconcile(session)
    if r["reconciles"]:
        return []
    return [Finding(None, f"client money held {format_pence(r['client_money_held'])}, "
                          f"funds total {format_pence(r['funds_total'])}")]


FIGURE_WORDS = {"balance": "balance", "contingency": "contingency", "bank_liability": "bank of hours",
                "annual_budget": "annual budget", "weeks_held": "weeks held",
                "surplus_above_threshold": "surplus above threshold", "arrears": "arrears", "overdrawn": "overdrawn",
                "plan_year_used": "used this plan year", "plan_year_pace": "budget pace", "alerts": "alerts",
                "recent_hours": "recent hours", "queries_overdue": "queries overdue"}


def kept_figures_drift(session) -> list[Finding]:
    """Each fund's kept dashboard figures (models/figures.py) against the slow path's as at
    today, figure by figure, and every fund has its row. A row not worked out for today is worked
    out again before it is read, so it is not compared. `isf-ledger audit --rebuild-figures`
    works every row out again."""
    today = clock.today()
    rows = {k.person_id: k for k in session.scalars(sa.select(FundFigureRow))}
    try:
        funds = fund_figures(session, today)
    except (TypeError, ValueError, KeyError, ArithmeticError) as e:  # books another check finds broken
        return [Finding(None, f"the dashboard's figures cannot be worked out from the books ({e!r})")]
    out = []
    for f in funds:
        k = rows.get(f.person_id)
        if k is None:
            out.append(Finding(f.person_id, "has no kept dashboard figures: run `isf-ledger audit --rebuild-figures`"))
            continue
        if k.figures_on != today:
            continue
        mine, theirs = current.figures_of(k), f
        wrong = [f"{FIGURE_WORDS.get(n, n)} kept as {a}, the ledger's {b}"
                 for n, a, b in ((n, mine.as_json()[n], theirs.as_json()[n]) for n in theirs.as_json()) if a != b]
        # What only sorts (not shown): the casefolded name and council, the weeks in hundredths.
        if (k.name_key, k.council_key) != (f.name.casefold(), f.council.casefold()):
            wrong.append("name or council as sorted differs from the person's")
        if k.weeks_held != (NO_WEEKS if f.weeks_held is None else int(f.weeks_held * 100)):
            wrong.append(f"weeks held as sorted kept as {k.weeks_held}")
        if wrong:
            out.append(Finding(f.person_id, "; ".join(wrong) + " (`isf-ledger audit --rebuild-figures` works them "
                                                             "out again)"))
    return out


def _label(names: dict[int, str], pid: int | None) -> str:
    return "the provider's books" if pid is None else f"{names.get(pid, 'unknown person')} (person {pid})"


def audit(session) -> dict[str, list[str]]:
    """Every check, by name, each with its findings as sentences that start with the person."""
    begin_read_only(session)
    txn = per_transaction(session)
    found = {
        "every transaction balances": txn["balance"],
        "every posting has its transaction": txn["headerless"],
        "postings carry their transaction's date": txn["misdated"],
        "no transaction moves money between funds": txn["one_fund"],
        "money leaves a fund only as invariant 4 allows, to the right account": txn["outflow"],
        "monthly checkpoints equal the postings": checkpoint_drift(session),
        "monthly checkpoints by kind equal the postings": kind_checkpoint_drift(session),
        "every receipt bore the right fee": wrong_fees(session),
        "every receipt and its fee are posted as recorded": receipts_against_postings(session),
        "every reversal negates what it reverses": reversals_against_originals(session),
        "every transaction has the record of its kind and moved what it records": records_against_postings(session),
        "every delivery's charge is its quantity at its rate": wrong_charges(session),
        "no fund got back more fee than it paid": negative_fee(session),
        "every issued statement agrees with the ledger": statements_against_ledger(session),
        "client money equals the sum of funds": unreconciled(session),
        "each fund's kept dashboard figures equal the ledger's": kept_figures_drift(session),
    }
    ids = {x for fs in found.values() for f in fs for x in (f.person_id, *f.others) if x is not None}
    names = {i: n for i, n in session.execute(sa.select(Person.id, Person.name).where(Person.id.in_(ids)))}
    # Each check's findings by person (the provider's books last), so a report reads the same
    # however the database happened to return its rows.
    return {name: [f"{_label(names, f.person_id)}: "
                   + f.message.replace("{others}", ", ".join(_label(names, x) for x in f.others))
                   for f in sorted(fs, key=lambda f: (f.person_id is None, f.person_id or 0, f.message))]
            for name, fs in found.items()}
