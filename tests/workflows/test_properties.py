"""Property tests: random sequences of valid operations against the public API, checked after
every step against an independent reference model (plain dicts of integer pence, fees computed
here with Decimal and ROUND_HALF_UP) and against the database itself (raw SQL).

Operations: people (2-4), plan versions with various fee rates and dates, receipts of random
amounts on random dates in 2026 from every source (some fee-exempt), reversals of receipts (and
the refused attempts: a second reversal, reversing a fee directly, reversing a reversal, a
reversal dated before its item), idempotent replays of earlier writes, and the same key with
another body. Every hypothesis example runs on its own fresh, migrated database.

A second machine (Provider) drives the rest of a provider's month against its own model:
deliveries of every status and the hours bank (banking with and without notice, drawing within
and beyond it), contingency set aside and drawn, spend, clawback within and beyond the surplus,
a sleep-in's shared charges (month end charges them: each member's exact share, the empty place
the provider's), month end in order and closing a fund (refused for a member of the sleep-in),
with the fund-closed refusals after it; every balance, reconciliation, the statements' numbering
and the self-audit are checked after every step.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

from isf_ledger import clock, create_app
from isf_ledger.db import db

SOURCES = ("council", "health", "client_contribution", "other")
DEFAULT_RATE = Decimal("0.10")
YEAR_START, YEAR_END = date(2026, 1, 1), date(2026, 12, 31)
# Balances are checked as at these dates (one in rotation each step, all at the end), and around
# the last item touched.
CHECK_DATES = ([date(2025, 12, 31)] + [date(2026, m + 1, 1) - timedelta(days=1) for m in range(1, 12)]
               + [date(2026, 12, 31), date(2027, 3, 31), date(2027, 12, 31)])
COUNTED_TABLES = ("transactions", "postings", "receipts", "people", "funds", "accounts",
                  "plan_versions", "idempotency_keys", "account_months")

EXAMPLES = {"sqlite": 25, "postgresql": 12}
STEPS = 20


# ---------------------------------------------------------------- the reference model


def fee_pence(amount_pence: int, rate: Decimal) -> int:
    return int((Decimal(amount_pence) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"


def pence(text: str) -> int:
    return int(Decimal(text) * 100)


@dataclass
class PlanModel:
    version: int
    start: date
    end: date | None
    rate: Decimal


@dataclass
class ReceiptModel:
    person: int
    date: date
    amount: int
    fee: int
    transaction_id: int
    fee_transaction_id: int | None
    reversal_id: int | None = None
    fee_reversal_id: int | None = None
    reversed_on: date | None = None

    @property
    def net(self) -> int:
        return self.amount - self.fee


def model_rate(plans: list[PlanModel], day: date) -> Decimal:
    """The plan in force on a day: versions ordered by start (then version); each runs from its
    start to its own end or the day before the next start; a later version with the same start
    replaces it from its first day. No plan in force: the provider's default rate."""
    ordered = sorted(plans, key=lambda p: (p.start, p.version))
    for plan, following in zip(ordered, ordered[1:] + [None]):
        end = plan.end
        if following is not None:
            if following.start <= plan.start:
                continue
            cap = following.start - timedelta(days=1)
            end = cap if end is None else min(end, cap)
        if plan.start <= day and (end is None or day <= end):
            return plan.rate
    return DEFAULT_RATE


# ---------------------------------------------------------------- strategies

dates_2026 = st.integers(0, (YEAR_END - YEAR_START).days).map(lambda n: YEAR_START + timedelta(days=n))
plan_starts = st.integers(-120, 400).map(lambda n: YEAR_START + timedelta(days=n))
# 1p to £100,000, with small amounts and amounts on which half-up rounding bites over-weighted.
amounts = st.one_of(
    st.integers(1, 10_000_000),
    st.integers(1, 500),
    st.integers(1, 100_000).map(lambda n: n * 10 + 5),
    st.sampled_from([1, 5, 25, 45, 10_000_000, 9_999_999, 123_445, 3_333]),
)
references = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)
rates = st.one_of(st.integers(0, 2000), st.sampled_from([0, 500, 1000, 1250, 1500, 2000, 1, 1999]))
plan_args = st.fixed_dictionaries({
    "who": st.integers(0, 3), "start": plan_starts, "length": st.one_of(st.none(), st.integers(0, 300)),
    "rate": rates, "short": st.booleans()})
receipt_args = st.fixed_dictionaries({
    "who": st.integers(0, 3), "day": dates_2026, "amount": amounts, "style": st.integers(0, 2),
    "source": st.sampled_from(SOURCES), "exempt": st.booleans(),
    "reference": st.one_of(st.none(), st.just("ref"), references)})


def rate_text(ten_thousandths: int, short: bool) -> str:
    """A rate as the API takes it: "0.1250", or the shortest form with two places ("0.125")."""
    d = Decimal(ten_thousandths).scaleb(-4)
    text = f"{d:.4f}"
    if short:
        text = text.rstrip("0")
        if len(text.split(".")[1]) < 2:
            text = f"{d:.2f}"
    return text


def amount_text(pence: int, style: int) -> str:
    """Pounds as a string: canonical "12.50", or without needless zeros ("12.5", "12")."""
    text = pounds(pence)
    if style == 1 and pence % 100 == 0:
        return text[:-3]
    if style == 2 and pence % 10 == 0:
        return text[:-1]
    return text


# ---------------------------------------------------------------- the state machine


class Ledger(RuleBasedStateMachine):
    """One example: a fresh database, a finance user, and the model beside it."""

    databases = None  # set per test run (see make_machine)
    backend = None

    def __init__(self):
        super().__init__()
        self.url = self.databases.fresh(self.backend)
        self.app = create_app({"TESTING": True, "DATABASE_URL": self.url})
        self.client = self.app.test_client()
        result = self.app.test_cli_runner().invoke(args=["users", "create", "--name", "fin", "--role", "finance"])
        assert result.exit_code == 0, result.output
        self.token = result.output.split()[-1]
        self.keys = itertools.count(1)
        self.people: list[int] = []
        self.plans: dict[int, list[PlanModel]] = {}
        self.opened: dict[int, date] = {}  # each fund's opened_on: moves back to its earliest plan
        self.receipts: list[ReceiptModel] = []
        self.reversal_ids: list[int] = []
        self.writes: list[dict] = []  # earlier successful writes, for replays
        self.touched: set[date] = set()
        self.touched_last: date | None = None
        self.step = 0

    def teardown(self):
        try:
            if hasattr(self, "app"):
                self.check_balances(CHECK_DATES)
                result = self.app.test_cli_runner().invoke(args=["audit"])
                assert result.exit_code == 0, result.output
        finally:
            if hasattr(self, "app"):
                with self.app.app_context():
                    db.session.remove()
                    db.engine.dispose()
            self.databases.drop(self.url)

    # -- talking to the API

    def call(self, method, path, body=None, key=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        if method == "POST":
            headers["Idempotency-Key"] = key or f"k-{next(self.keys)}"
        resp = self.client.open(path, method=method, json=body, headers=headers)
        assert resp.status_code < 500, (method, path, body, resp.status_code, resp.get_data(as_text=True))
        return resp

    def write(self, path, body, expect=201):
        key = f"k-{next(self.keys)}"
        resp = self.call("POST", path, body, key=key)
        assert resp.status_code == expect, (path, body, resp.status_code, resp.get_json())
        if resp.status_code < 400:
            self.writes.append({"path": path, "body": body, "key": key, "status": resp.status_code,
                                "raw": resp.get_data()})
        return resp.get_json()

    def sql(self, text, **params):
        with self.app.app_context():
            try:
                return db.session.execute(sa.text(text), params).all()
            finally:
                db.session.remove()

    def counts(self) -> dict[str, int]:
        with self.app.app_context():
            try:
                out = {t: db.session.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                       for t in COUNTED_TABLES}
                out["sum(account_months)"] = db.session.execute(
                    sa.text("SELECT COALESCE(SUM(ABS(net_pence)), 0) FROM account_months")).scalar_one()
                return out
            finally:
                db.session.remove()

    def refused(self, path, body, status, code=None, key=None):
        """A write the ledger must refuse, leaving nothing behind."""
        before = self.counts()
        resp = self.call("POST", path, body, key=key)
        assert resp.status_code == status, (path, body, resp.status_code, resp.get_json())
        err = resp.get_json()["error"]
        assert set(err) >= {"code", "message", "details"}
        if code is not None:
            assert err["code"] == code, err
        assert self.counts() == before, "a refused write left something behind"
        return err

    # -- the model's answers

    def available(self, person: int, as_of: date) -> int:
        total = 0
        for r in self.receipts:
            if r.person != person:
                continue
            if r.date <= as_of:
                total += r.net
            if r.reversed_on is not None and r.reversed_on <= as_of:
                total -= r.net
        return total

    # -- operations

    @initialize(n=st.integers(2, 4), councils=st.lists(st.sampled_from(["Northshire", "Southvale"]),
                                                       min_size=4, max_size=4),
                plans=st.lists(plan_args, max_size=3), batch=st.lists(receipt_args, min_size=1, max_size=6))
    def start(self, n, councils, plans, batch):
        """People (2-4), a few plan versions and receipts to start with (one initialize rule, so
        their order is fixed)."""
        for i in range(n):
            body = {"name": f"Person {i}", "council": councils[i], "council_reference": f"REF-{i}"}
            out = self.write("/api/v1/people", body)
            assert out["fund"]["available"] == "0.00"
            self.people.append(out["id"])
            self.plans[out["id"]] = []
            self.opened[out["id"]] = date.fromisoformat(out["fund"]["opened_on"])
        assert len(set(self.people)) == n
        for args in plans:
            self.add_plan(**args)
        for args in batch:
            self.receipt(**args)

    @rule(args=plan_args)
    def plan_version(self, args):
        self.add_plan(**args)

    def add_plan(self, who, start, length, rate, short):
        pid = self.people[who % len(self.people)]
        end = None if length is None else start + timedelta(days=length)
        body = {"effective_from": start.isoformat(), "annual_budget": "26000.00",
                "management_fee_rate": rate_text(rate, short), "payment_cycle": "four_weekly",
                "planned_weekly_hours": {"day_support": "7.00"}}
        if end is not None:
            body["effective_to"] = end.isoformat()
        if any(p.start == start for p in self.plans[pid]):
            self.refused(f"/api/v1/people/{pid}/plans", body, 409, "duplicate_plan_version")
            return
        out = self.write(f"/api/v1/people/{pid}/plans", body)
        self.opened[pid] = min(self.opened[pid], start)
        version = len(self.plans[pid]) + 1
        assert out["version"] == version
        assert Decimal(out["management_fee_rate"]) == Decimal(rate).scaleb(-4)
        self.plans[pid].append(PlanModel(version, start, end, Decimal(rate).scaleb(-4)))

    @rule(batch=st.lists(receipt_args, min_size=1, max_size=3))
    def receipts(self, batch):
        for args in batch:
            self.receipt(**args)

    def receipt(self, who, day, amount, style, source, exempt, reference):
        pid = self.people[who % len(self.people)]
        body = {"date": day.isoformat(), "amount": amount_text(amount, style), "source": source}
        if exempt or amount % 3 == 0:  # sometimes say "false" explicitly
            body["fee_exempt"] = exempt
        if reference is not None:
            body["reference"] = reference
        if day < self.opened[pid] or day > clock.today():
            err = self.refused(f"/api/v1/people/{pid}/receipts", body, 422)
            assert list(err["details"]) == ["date"], err
            return
        rate = model_rate(self.plans[pid], day)
        fee = 0 if exempt else fee_pence(amount, rate)
        out = self.write(f"/api/v1/people/{pid}/receipts", body)
        assert (out["amount"], out["fee"], out["date"], out["source"]) == (pounds(amount), pounds(fee),
                                                                            day.isoformat(), source)
        assert out["fee_exempt"] is exempt
        if not exempt:
            assert Decimal(out["fee_rate"]) == rate, (out["fee_rate"], rate)
        assert (out["fee_transaction_id"] is None) == (fee == 0), out
        assert out["reversed_by_transaction_id"] is None
        self.receipts.append(ReceiptModel(pid, day, amount, fee, out["transaction_id"], out["fee_transaction_id"]))
        self.touched.add(day)
        self.touched_last = day

    def unreversed(self):
        return [r for r in self.receipts if r.reversal_id is None]

    def reversed_(self):
        return [r for r in self.receipts if r.reversal_id is not None]

    @precondition(lambda self: any(r.reversal_id is None for r in self.receipts))
    @rule(data=st.data(), later=st.one_of(st.none(), st.integers(0, 400)))
    def reverse_receipt(self, data, later):
        r = data.draw(st.sampled_from(self.unreversed()))
        body = {"reason": "entered twice"}
        on = r.date if later is None else r.date + timedelta(days=later)
        if later is not None:
            body["date"] = on.isoformat()
        out = self.write(f"/api/v1/transactions/{r.transaction_id}/reverse", body)
        assert out["reverses_transaction_id"] == r.transaction_id
        assert out["person_id"] == r.person
        assert out["date"] == on.isoformat()
        assert (out["fee_reversal_transaction_id"] is None) == (r.fee_transaction_id is None)
        r.reversal_id, r.fee_reversal_id, r.reversed_on = (out["transaction_id"],
                                                            out["fee_reversal_transaction_id"], on)
        self.reversal_ids.append(out["transaction_id"])
        if out["fee_reversal_transaction_id"] is not None:
            self.reversal_ids.append(out["fee_reversal_transaction_id"])
        self.touched.add(on)
        self.touched_last = on
        receipts = self.call("GET", f"/api/v1/people/{r.person}/receipts").get_json()
        mine = [x for x in receipts if x["transaction_id"] == r.transaction_id]
        assert len(mine) == 1 and mine[0]["reversed_by_transaction_id"] == r.reversal_id

    @precondition(lambda self: bool(self.receipts))
    @rule(data=st.data(), attempt=st.sampled_from(["again", "fee", "reversal", "too_early"]))
    def refused_reversal(self, data, attempt):
        """Reversals the ledger refuses, writing nothing: a second reversal (409), a fee on its own
        (409: reverse the receipt), a reversal of a reversal (409), one dated before its item (422)."""
        reversed_ = self.reversed_()
        with_fee = [r for r in self.receipts if r.fee_transaction_id is not None]
        if attempt == "again" and reversed_:
            r = data.draw(st.sampled_from(reversed_))
            err = self.refused(f"/api/v1/transactions/{r.transaction_id}/reverse", {"reason": "again"}, 409,
                               "already_reversed")
            assert err["details"].get("reversal_transaction_id") == r.reversal_id, err
        elif attempt == "fee" and with_fee:
            r = data.draw(st.sampled_from(with_fee))
            self.refused(f"/api/v1/transactions/{r.fee_transaction_id}/reverse", {"reason": "fee only"}, 409,
                         "reverse_the_receipt")
        elif attempt == "reversal" and self.reversal_ids:
            tid = data.draw(st.sampled_from(self.reversal_ids))
            self.refused(f"/api/v1/transactions/{tid}/reverse", {"reason": "undo the undo"}, 409,
                         "cannot_reverse_reversal")
        elif self.unreversed():
            r = data.draw(st.sampled_from(self.unreversed()))
            early = data.draw(st.integers(1, 60))
            body = {"reason": "too early", "date": (r.date - timedelta(days=early)).isoformat()}
            self.refused(f"/api/v1/transactions/{r.transaction_id}/reverse", body, 422)

    @precondition(lambda self: bool(self.writes))
    @rule(data=st.data(), how=st.sampled_from(["replay", "other_body", "other_path"]))
    def reuse_a_key(self, data, how):
        """An earlier write's Idempotency-Key again: with the same request, the first answer byte
        for byte and nothing written; with another body or on another path, 409 and nothing written."""
        w = data.draw(st.sampled_from(self.writes))
        if how == "replay":
            before = self.counts()
            resp = self.call("POST", w["path"], w["body"], key=w["key"])
            assert resp.status_code == w["status"], (resp.status_code, resp.get_json())
            assert resp.get_data() == w["raw"], "a replay must return the first answer, byte for byte"
            assert self.counts() == before, "a replay wrote something"
            return
        path, body = w["path"], dict(w["body"])
        if how == "other_path":
            # another path with a body valid there (an invalid one is a 422 first, as the contract orders)
            path = "/api/v1/rates"
            body = {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"}
        else:
            # the same kind of body with one field's value changed (still a valid body)
            for field, new in (("amount", "0.01"), ("reason", "another reason"),
                               ("management_fee_rate", "0.01"), ("name", "Someone else")):
                if field in body:
                    body[field] = new if body[field] != new else {"amount": "0.02", "management_fee_rate": "0.02"}.get(
                        field, new + " again")
                    break
            assert body != w["body"]
        err = self.refused(path, body, 409, key=w["key"])
        assert err["code"] == "idempotency_key_reused", err

    # -- checks after every step

    @invariant()
    def balances_match_the_model(self):
        # Every step: the last day touched, the day before it, the year end, and one more date
        # in rotation; at the end (teardown) every month end.
        self.step += 1
        days = {YEAR_END, CHECK_DATES[self.step % len(CHECK_DATES)]}
        if self.touched_last is not None:
            days |= {self.touched_last, self.touched_last - timedelta(days=1)}
        self.check_balances(days)

    def check_balances(self, days):
        for pid in self.people:
            for d in sorted(days):
                got = self.call("GET", f"/api/v1/people/{pid}/balance?as_of={d.isoformat()}").get_json()
                assert got["available"] == pounds(self.available(pid, d)), (pid, d, got)
                assert got["contingency"] == "0.00", got

    @invariant()
    def reconciliation_holds(self):
        for d in (None, date(2026, 6, 30), max(self.touched, default=YEAR_END)):
            path = "/api/v1/reconciliation" + (f"?as_of={d.isoformat()}" if d else "")
            got = self.call("GET", path).get_json()
            want = sum(self.available(p, d or clock.today()) for p in self.people)  # no as_of: today
            assert got["reconciles"] is True, got
            assert got["funds_total"] == pounds(want), (d, got)
            assert got["client_money_held"] == pounds(want), (d, got)
            assert got["difference"] == "0.00", got

    @invariant()
    def database_holds_the_invariants(self):
        unbalanced = self.sql(
            "SELECT t.id, COALESCE(SUM(p.amount_pence), 0), COUNT(p.id) FROM transactions t "
            "LEFT JOIN postings p ON p.transaction_id = t.id GROUP BY t.id "
            "HAVING COALESCE(SUM(p.amount_pence), 0) <> 0 OR COUNT(p.id) < 2")
        assert unbalanced == [], unbalanced
        orphans = self.sql("SELECT p.id FROM postings p LEFT JOIN transactions t ON t.id = p.transaction_id "
                           "WHERE t.id IS NULL")
        assert orphans == [], orphans
        cross = self.sql(
            "SELECT p.transaction_id FROM postings p JOIN accounts a ON a.id = p.account_id "
            "WHERE a.person_id IS NOT NULL GROUP BY p.transaction_id "
            "HAVING COUNT(DISTINCT a.person_id) > 1")
        assert cross == [], cross
        # A posting on a person's account belongs to a transaction of that person.
        foreign = self.sql(
            "SELECT p.id FROM postings p JOIN accounts a ON a.id = p.account_id "
            "JOIN transactions t ON t.id = p.transaction_id "
            "WHERE a.person_id IS NOT NULL AND (t.person_id IS NULL OR t.person_id <> a.person_id)")
        assert foreign == [], foreign
        # Client money held (minus the bank account's sum) equals the model's funds, to the penny.
        held = self.sql("SELECT COALESCE(SUM(p.amount_pence), 0) FROM postings p JOIN accounts a "
                        "ON a.id = p.account_id WHERE a.code = 'provider:client_money'")[0][0]
        assert -int(held) == sum(self.available(p, date.max) for p in self.people)
        per_person = dict(self.sql(
            "SELECT a.person_id, COALESCE(SUM(p.amount_pence), 0) FROM postings p JOIN accounts a "
            "ON a.id = p.account_id WHERE a.kind = 'available' GROUP BY a.person_id"))
        for pid in self.people:
            assert int(per_person.get(pid, 0)) == self.available(pid, date.max), pid
        # One receipt row per receipt, one reversal per reversed receipt (and per reversed fee).
        n_receipts = self.sql("SELECT COUNT(*) FROM receipts")[0][0]
        assert n_receipts == len(self.receipts)
        reversals = dict(self.sql("SELECT reverses_id, COUNT(*) FROM transactions "
                                  "WHERE reverses_id IS NOT NULL GROUP BY reverses_id"))
        want = {}
        for r in self.reversed_():
            want[r.transaction_id] = 1
            if r.fee_transaction_id is not None:
                want[r.fee_transaction_id] = 1
        assert reversals == want


def make_machine(databases, backend):
    return type("LedgerOn" + backend.capitalize(), (Ledger,), {"databases": databases, "backend": backend})


def test_random_operations_keep_the_books(databases, backend, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: YEAR_END)  # every receipt's day has come (none is after today)
    if backend == "postgresql":
        databases.drop(databases.fresh(backend))  # skips here when PostgreSQL is not reachable
    run_state_machine_as_test(
        make_machine(databases, backend),
        settings=settings(max_examples=EXAMPLES[backend], stateful_step_count=STEPS, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                          database=None),
    )


# ------------------------------------------------ the model itself (no database needed)


def test_model_rate_follows_plan_windows():
    plans = [PlanModel(1, date(2026, 4, 1), None, Decimal("0.08")),
             PlanModel(2, date(2026, 10, 1), date(2026, 10, 31), Decimal("0.05")),
             PlanModel(3, date(2026, 4, 1), None, Decimal("0.12"))]
    assert model_rate(plans, date(2026, 3, 31)) == DEFAULT_RATE
    assert model_rate(plans, date(2026, 4, 1)) == Decimal("0.12")  # v3 replaces v1 from its first day
    assert model_rate(plans, date(2026, 10, 15)) == Decimal("0.05")
    assert model_rate(plans, date(2026, 11, 1)) == DEFAULT_RATE


@pytest.mark.parametrize("amount, rate, fee", [(5, "0.10", 1), (25, "0.10", 3), (12344, "0.125", 1543),
                                               (1, "0.0001", 0), (5000, "0.0001", 1), (10_000_000, "0.2", 2_000_000)])
def test_model_fee_rounds_half_up(amount, rate, fee):
    assert fee_pence(amount, Decimal(rate)) == fee


# ------------------------------------------------ free text in, never a server error

TEXT_FIELDS = {
    "receipt reference": ("/api/v1/people/{pid}/receipts",
                          lambda t: {"date": "2026-10-01", "amount": "10.00", "source": "council", "reference": t},
                          "reference"),
    "person name": ("/api/v1/people", lambda t: {"name": t, "council": "Northshire"}, "name"),
}


@pytest.mark.parametrize("field", sorted(TEXT_FIELDS))
@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(text="a\x00b")  # NUL: PostgreSQL text cannot hold it
@example(text="\ud800")  # a lone surrogate, as JSON's "\ud800" escape: not encodable as UTF-8
@given(text=st.text(min_size=1, max_size=60))
def test_any_text_is_stored_or_refused_never_a_server_error(app, field, text):
    """Any string a client can send in a free-text field is either kept exactly (201) or refused
    as invalid (422), on both engines alike, and a refusal writes nothing: never a 500 for bad
    input (domain.md, "API contract")."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does, not raise into the test
    client = app.test_client()
    if not hasattr(app, "_prop_token"):
        out = app.test_cli_runner().invoke(args=["users", "create", "--name", "fin", "--role", "finance"])
        app._prop_token = out.output.split()[-1]
        app._prop_keys = itertools.count(1)
    headers = {"Authorization": f"Bearer {app._prop_token}"}
    if not hasattr(app, "_prop_person"):
        r = client.post("/api/v1/people", json={"name": "Ana", "council": "Northshire"},
                        headers={**headers, "Idempotency-Key": "setup-person"})
        app._prop_person = r.get_json()["id"]
    path, body, key = TEXT_FIELDS[field]
    with app.app_context():
        before = {t: db.session.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                  for t in ("transactions", "postings", "receipts", "people", "idempotency_keys")}
        db.session.remove()
    r = client.post(path.format(pid=app._prop_person), json=body(text),
                    headers={**headers, "Idempotency-Key": f"text-{next(app._prop_keys)}"})
    assert r.status_code in (201, 422), (r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code == 201:
        assert r.get_json()[key] == text
    else:
        with app.app_context():
            after = {t: db.session.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in before}
            db.session.remove()
        assert after == before


# ------------------------------------------------ the provider's whole month: hours, the bank,
# contingency, spend, clawback, month end and closing, against a model of domain.md's rules

RATE = 1850  # day_support, pence an hour, from 2025-01-01
BUDGET = 2_600_000  # £26,000 a year: the clawback threshold (4 weeks) is £2,000
CONTINGENCY = 100_000  # £1,000 in the plan year 2026
THRESHOLD = 4 * BUDGET // 52
CHARGED = ("delivered", "refused", "unplanned", "bank_used")
FUND_EXAMPLES = {"sqlite": 6, "postgresql": 4}  # about 30 s together on the shared 2-core machine
FUND_STEPS = 30


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass
class FundModel:
    available: int = 0
    contingency: int = 0
    set_aside_2026: int = 0
    bank_quarters: int = 0  # banked day_support hours not yet used, in quarter hours
    closed: bool = False


class Provider(RuleBasedStateMachine):
    """People with plans and money in, all but the first sharing a sleep-in; deliveries of every
    status (banked with and without the notice, drawn from the bank within and beyond it),
    contingency set aside and drawn, spend, clawbacks within and beyond the surplus, month end in
    order (with the sleep-in's shared charges), the bank's interest each month (shared by
    balance-days or kept by the provider) and closing a fund. Every write is
    dated on one day that only moves forward (so the model never has to move a late item into the
    open month), and the model says what each write does to `available`, `contingency` and the
    bank, or that it is refused with nothing written. After every step: each balance is the
    model's, reconciliation holds, every statement is numbered 1..N without a gap and each
    person's months run without one, and `isf-ledger audit` finds nothing."""

    databases = None
    backend = None

    def __init__(self):
        super().__init__()
        self.url = self.databases.fresh(self.backend)
        self.app = create_app({"TESTING": True, "DATABASE_URL": self.url})
        self.client = self.app.test_client()
        out = self.app.test_cli_runner().invoke(args=["users", "create", "--name", "fin", "--role", "finance"])
        assert out.exit_code == 0, out.output
        self.token = out.output.split()[-1]
        self.keys = itertools.count(1)
        self.day = date(2026, 1, 5)
        self.funds: dict[int, FundModel] = {}
        self.issued_through: date | None = None  # the last month month end issued (every open fund)

    def teardown(self):
        try:
            if hasattr(self, "app"):
                out = self.app.test_cli_runner().invoke(args=["audit"])
                assert out.exit_code == 0, out.output
        finally:
            if hasattr(self, "app"):
                with self.app.app_context():
                    db.session.remove()
                    db.engine.dispose()
            self.databases.drop(self.url)

    call = Ledger.call
    sql = Ledger.sql

    def counts(self):
        with self.app.app_context():
            try:
                return {t: db.session.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                        for t in ("transactions", "postings", "deliveries", "spend", "contingency_movements",
                                  "statements", "idempotency_keys")}
            finally:
                db.session.remove()

    def post(self, path, body, *, refused=False, code=None):
        """A write: 2xx and its answer, or (refused) a 409/422 that leaves nothing behind."""
        before = self.counts() if refused else None
        resp = self.call("POST", path, body)
        if refused:
            assert resp.status_code in (409, 422), (path, body, resp.status_code, resp.get_json())
            if code is not None:
                assert resp.get_json()["error"]["code"] == code, resp.get_json()
            assert self.counts() == before, f"a refused write left something behind: {path} {body}"
            return resp.get_json()
        assert resp.status_code in (200, 201), (path, body, resp.status_code, resp.get_json())
        return resp.get_json()

    def open_people(self):
        return [p for p, f in self.funds.items() if not f.closed]

    def person(self, who):
        people = sorted(self.funds)
        return people[who % len(people)]

    def closed_refusal(self, pid, path, body):
        self.post(path, body, refused=True, code="fund_closed")

    # -- operations

    @initialize(n=st.integers(2, 3), per_place_night=st.integers(500, 3000))
    def start(self, n, per_place_night):
        self.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": pounds(RATE),
                                    "effective_from": "2025-01-01"})
        for i in range(n):
            pid = self.post("/api/v1/people", {"name": f"Person {i}", "council": "Northshire",
                                               "council_reference": f"F-{i}"})["id"]
            with self.app.app_context():
                db.session.execute(sa.text("UPDATE funds SET opened_on = '2026-01-01' WHERE person_id = :p"), {"p": pid})
                db.session.commit()
            self.post(f"/api/v1/people/{pid}/plans", {
                "effective_from": "2026-01-01", "annual_budget": pounds(BUDGET), "management_fee_rate": "0.10",
                "payment_cycle": "four_weekly", "contingency_amount": pounds(CONTINGENCY),
                "planned_weekly_hours": {"day_support": "10.00"}})
            self.funds[pid] = FundModel()
            self.receive(pid, 500_000)
        # A sleep-in shared by everyone but the first person, with one place empty (the provider's
        # void): a price a night that splits into whole pence per place, so each share is exact.
        self.members = sorted(self.funds)[1:]
        self.places = len(self.members) + 1
        self.per_night = per_place_night * self.places
        aid = self.post("/api/v1/shared-arrangements", {
            "name": "Sleep-in", "capacity": self.places, "method": "equal", "per_night": pounds(self.per_night),
            "effective_from": "2026-01-01"})["id"]
        for pid in self.members:
            self.post(f"/api/v1/shared-arrangements/{aid}/members", {
                "person_id": pid, "weight": "1", "from": "2026-01-01", "agreed_on": "2025-12-15",
                "recorded_by": "Sam Broker"})

    def receive(self, pid, amount):
        out = self.post(f"/api/v1/people/{pid}/receipts", {"date": self.day.isoformat(), "amount": pounds(amount),
                                                           "source": "council"})
        fee = half_up(Decimal(amount) * Decimal("0.10"))
        assert out["fee"] == pounds(fee)
        self.funds[pid].available += amount - fee

    @rule(days=st.integers(0, 40))
    def time_passes(self, days):
        self.day = min(self.day + timedelta(days=days), YEAR_END)

    @rule(who=st.integers(0, 2), amount=st.integers(1, 400_000))
    def receipt(self, who, amount):
        pid = self.person(who)
        body = {"date": self.day.isoformat(), "amount": pounds(amount), "source": "council"}
        if self.funds[pid].closed:
            self.closed_refusal(pid, f"/api/v1/people/{pid}/receipts", body)
            return
        self.receive(pid, amount)

    @rule(who=st.integers(0, 2), quarters=st.integers(1, 32),
          status=st.sampled_from(CHARGED + ("banked", "banked_late", "provider_cancelled", "bank_used")))
    def delivery(self, who, quarters, status):
        pid, f = self.person(who), self.funds[self.person(who)]
        body = {"date": self.day.isoformat(), "start_time": "10:00", "service": "day_support",
                "quantity": str(Decimal(quarters) / 4), "status": status.replace("_late", ""), "domain": "health"}
        path = f"/api/v1/people/{pid}/deliveries"
        if status.startswith("banked"):
            notice = self.day - timedelta(days=3 if status == "banked" else 1)
            body["notice_given_at"] = f"{notice.isoformat()}T{'09:00' if status == 'banked' else '11:00'}:00"
        if f.closed:  # a body the rules refuse anyway is a 422 first (the contract checks input first)
            self.post(path, body, refused=True, code=None if status == "banked_late" else "fund_closed")
            return
        if status == "banked_late" or (status == "bank_used" and quarters > f.bank_quarters):
            self.post(path, body, refused=True)  # too little notice to bank; beyond the bank
            return
        out = self.post(path, body)
        charge = half_up(Decimal(quarters) / 4 * RATE) if status in CHARGED else 0
        assert out["charge"] in (pounds(charge), None if charge == 0 else "x"), (status, out, charge)
        f.available -= charge
        f.bank_quarters += quarters if status == "banked" else -quarters if status == "bank_used" else 0

    @rule(who=st.integers(0, 2), amount=st.integers(1, 150_000))
    def set_aside(self, who, amount):
        pid, f = self.person(who), self.funds[self.person(who)]
        path, body = f"/api/v1/people/{pid}/contingency/set-aside", {"date": self.day.isoformat(),
                                                                     "amount": pounds(amount)}
        if f.closed:
            self.closed_refusal(pid, path, body)
            return
        if amount > f.available or f.set_aside_2026 + amount > CONTINGENCY:
            self.post(path, body, refused=True)
            return
        self.post(path, body)
        f.available, f.contingency, f.set_aside_2026 = f.available - amount, f.contingency + amount, \
            f.set_aside_2026 + amount

    @rule(who=st.integers(0, 2), amount=st.integers(1, 120_000))
    def draw(self, who, amount):
        pid, f = self.person(who), self.funds[self.person(who)]
        path = f"/api/v1/people/{pid}/contingency/draws"
        body = {"date": self.day.isoformat(), "amount": pounds(amount), "reason": "extra support",
                "authorised_by": "Finance lead"}
        if f.closed:
            self.closed_refusal(pid, path, body)
            return
        if amount > f.contingency:
            self.post(path, body, refused=True)
            return
        self.post(path, body)
        f.available, f.contingency = f.available + amount, f.contingency - amount

    @rule(who=st.integers(0, 2), amount=st.integers(1, 300_000))
    def spend(self, who, amount):
        pid, f = self.person(who), self.funds[self.person(who)]
        path = f"/api/v1/people/{pid}/spend"
        body = {"date": self.day.isoformat(), "amount": pounds(amount), "payee": "Castle Cabs",
                "category": "transport", "domain": "work_leisure_learning", "description": "Taxi"}
        if f.closed:
            self.closed_refusal(pid, path, body)
            return
        if amount > f.available:
            self.post(path, body, refused=True)
            return
        self.post(path, body)
        f.available -= amount

    @rule(who=st.integers(0, 2), part=st.integers(-50_000, 300_000))
    def clawback(self, who, part):
        """An amount `part` pence from the model's surplus (negative: within it); within £5 of the
        edge the bank's value rounding is not the model's business, so nothing is sent."""
        pid, f = self.person(who), self.funds[self.person(who)]
        bank_value = half_up(Decimal(f.bank_quarters) / 4 * RATE)
        surplus = max(0, f.available - bank_value - THRESHOLD)
        amount = surplus + part
        if amount < 1 or abs(part) < 500:
            return
        path = f"/api/v1/people/{pid}/clawbacks"
        body = {"date": self.day.isoformat(), "amount": pounds(amount), "reference": "CB",
                "notice_given_on": (self.day - timedelta(days=60)).isoformat(), "method": "repayment"}
        if f.closed:
            self.closed_refusal(pid, path, body)
            return
        if amount > surplus:
            self.post(path, body, refused=True, code="beyond_surplus")
            return
        self.post(path, body)
        f.available -= amount

    @precondition(lambda self: self.interest_month() is not None)
    @rule(amount=st.integers(1, 5_000), keep=st.booleans())
    def bank_interest(self, amount, keep):
        """The bank's interest for the last whole month, once: shared by the funds' balance-days
        (a closed fund's share held by the provider, never posted to it) or kept by the provider."""
        month = self.interest_month()
        self.call("PATCH", "/api/v1/provider", {"bank_interest": "provider" if keep else "shared"})
        last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        body = {"date": self.day.isoformat(), "period_from": month.isoformat(), "period_to": last.isoformat(),
                "amount": pounds(amount)}
        self.interest_through = month
        if not keep and all(f.closed for f in self.funds.values()):  # whether any held money then: ask the API
            r = self.call("POST", "/api/v1/bank-interest", body)
            if r.status_code == 409:
                assert r.get_json()["error"]["code"] == "no_money_held", r.get_json()
                return
            assert r.status_code == 201, r.get_json()
            out = r.get_json()
        else:
            out = self.post("/api/v1/bank-interest", body)
        shares = {s["person_id"]: (pence(s["share"]), s["posted"]) for s in out["shares"]}
        if keep:
            assert shares == {} and out["kept_by_provider"] == pounds(amount), out
            return
        # Shares add up to the interest exactly; a fund closed by the payment's day is never paid.
        assert sum(p for p, _ in shares.values()) == amount or not shares, out
        for pid, (share, posted) in shares.items():
            assert share >= 0 and posted is not self.funds[pid].closed, (pid, out)
            if posted:
                self.funds[pid].available += share
        held_for_closed = sum(p for p, posted in shares.values() if not posted)
        assert out["closed_fund_shares"] == pounds(held_for_closed), out
        self.post("/api/v1/bank-interest", body, refused=True, code="interest_already_recorded")

    def interest_month(self) -> date | None:
        month = date(2026, 1, 1) if getattr(self, "interest_through", None) is None else \
            (self.interest_through + timedelta(days=32)).replace(day=1)
        return month if (month + timedelta(days=32)).replace(day=1) <= self.day else None

    @precondition(lambda self: self.next_month_end() is not None)
    @rule()
    def month_end(self):
        month = self.next_month_end()
        before = self.sql("SELECT COUNT(*) FROM statements")[0][0]
        out = self.post(f"/api/v1/statements/{month:%Y-%m}/issue", None)
        assert out["not_issued"] == [], out
        after = self.sql("SELECT COUNT(*) FROM statements")[0][0]
        assert after - before == len(self.open_people()) == out["issued"], (out, before, after)
        self.issued_through = month
        nights = ((month + timedelta(days=32)).replace(day=1) - month).days  # the members are never closed
        for pid in self.members:
            self.funds[pid].available -= self.per_night * nights // self.places

    def next_month_end(self) -> date | None:
        month = date(2026, 1, 1) if self.issued_through is None else \
            (self.issued_through + timedelta(days=32)).replace(day=1)
        ends = (month + timedelta(days=32)).replace(day=1)
        return month if ends <= self.day.replace(day=1) and ends <= YEAR_END else None

    @rule(who=st.integers(0, 2))
    def close(self, who):
        pid, f = self.person(who), self.funds[self.person(who)]
        if f.closed:
            return
        path, body = f"/api/v1/people/{pid}/close", {"date": self.day.isoformat(), "destination": "council",
                                                       "reference": "moved"}
        if pid in self.members:  # a membership of the sleep-in runs past the close date
            self.post(path, body, refused=True)
            return
        if f.available < 0:
            self.post(path, body, refused=True, code="fund_overdrawn")
            return
        out = self.post(path, body)
        assert out["paid_out"] == pounds(f.available + f.contingency), (out, f)
        f.available = f.contingency = 0
        f.closed = True

    # -- after every step

    @invariant()
    def every_balance_is_the_model_s(self):
        for pid, f in self.funds.items():
            got = self.call("GET", f"/api/v1/people/{pid}/balance?as_of={YEAR_END.isoformat()}").get_json()
            assert (got["available"], got["contingency"]) == (pounds(f.available), pounds(f.contingency)), (pid, got, f)
        got = self.call("GET", f"/api/v1/reconciliation?as_of={YEAR_END.isoformat()}").get_json()
        held = sum(f.available + f.contingency for f in self.funds.values())
        assert got["reconciles"] is True and got["difference"] == "0.00", got

    @invariant()
    def statements_are_numbered_without_a_gap(self):
        rows = self.sql("SELECT number, person_id, month FROM statements WHERE version = 1 ORDER BY number")
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1)), rows
        months: dict[int, list] = {}
        for _, pid, month in rows:
            months.setdefault(pid, []).append(date.fromisoformat(str(month)[:10]))
        for pid, ms in months.items():
            ms.sort()
            for a, b in zip(ms, ms[1:]):
                assert (a + timedelta(days=32)).replace(day=1) == b, (pid, ms)

    @invariant()
    def the_audit_finds_nothing(self):
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps % 4 == 0:  # the whole self-audit every fourth step (and at the end, teardown)
            out = self.app.test_cli_runner().invoke(args=["audit"])
            assert out.exit_code == 0, out.output


def test_the_provider_s_month_keeps_the_books(databases, backend, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: YEAR_END)
    if backend == "postgresql":
        databases.drop(databases.fresh(backend))
    machine = type("ProviderOn" + backend.capitalize(), (Provider,), {"databases": databases, "backend": backend})
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=FUND_EXAMPLES[backend], stateful_step_count=FUND_STEPS, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                          database=None),
    )
