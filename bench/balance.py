"""The measurements: the product's answer and the bare-SQL answer to the same question, timed in
the same run on the same books, and checked to agree to the penny before any figure is kept."""
from __future__ import annotations

import gc
import random
import statistics
import time
from dataclasses import dataclass

from isf_ledger.ledger.post import balances
from isf_ledger.db import db
from isf_ledger.money import format_pence

from .books import Books


class WrongAnswer(AssertionError):
    """The product and bare SQL disagree: a bug, not a slow answer."""


@dataclass
class Timing:
    samples: list[float]  # seconds

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        s = sorted(self.samples)
        return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def make_token(app) -> str:
    """A finance user's API token, made the way an administrator makes one."""
    name = f"bench-{time.time_ns()}"
    result = app.test_cli_runner().invoke(args=["users", "create", "--name", name, "--role", "finance"])
    if result.exit_code != 0:
        raise RuntimeError(f"users create failed: {result.output}")
    return result.output.split()[-1]


def available_account(raw, ph: str, person_id: int) -> int:
    cur = raw.cursor()
    cur.execute(f"SELECT id FROM accounts WHERE person_id = {ph} AND kind = 'available'", (person_id,))
    return cur.fetchone()[0]


BARE_ONE = "SELECT SUM(amount_pence) FROM postings WHERE account_id = {ph} AND date <= {ph}"
BARE_ALL = "SELECT account_id, SUM(amount_pence) FROM postings WHERE date <= {ph} GROUP BY account_id"


def time_calls(fns: dict, calls: int, warmup: int = 30) -> dict[str, Timing]:
    """Time each function `calls` times, round-robin, so drift in the machine hits them alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out = {k: [] for k in fns}
    gc.collect()
    clock = time.perf_counter
    order = list(fns.items())
    shuffle = random.Random(0).shuffle
    for _ in range(calls):
        shuffle(order)  # no measure always runs right after the same other one
        for k, fn in order:
            t = clock()
            fn()
            out[k].append(clock() - t)
    return {k: Timing(v) for k, v in out.items()}


class PersonBalance:
    """GET /api/v1/people/{id}/balance?as_of=... through the Flask test client (no app context
    held around it, so every request opens and closes its own session as in production), and
    the bare indexed sum of the same person's available postings on a raw DBAPI connection."""

    def __init__(self, app, raw, ph: str, books: Books):
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {make_token(app)}"}
        self.raw, self.ph, self.as_of = raw, ph, books.as_of
        self.bare_sql = BARE_ONE.format(ph=ph)
        self.accounts: dict[int, int] = {}

    def api(self, person_id: int) -> dict:
        r = self.client.get(f"/api/v1/people/{person_id}/balance?as_of={self.as_of.isoformat()}",
                            headers=self.headers)
        if r.status_code != 200:
            raise WrongAnswer(f"balance of person {person_id}: HTTP {r.status_code} {r.get_data(as_text=True)[:300]}")
        return r.get_json()

    def bare(self, person_id: int) -> int:
        account = self.accounts.get(person_id)
        if account is None:
            account = self.accounts[person_id] = available_account(self.raw, self.ph, person_id)
        cur = self.raw.cursor()
        cur.execute(self.bare_sql, (account, self.as_of))
        return cur.fetchone()[0] or 0

    def check(self, person_id: int) -> str:
        got, want = self.api(person_id)["available"], format_pence(self.bare(person_id))
        if got != want:
            raise WrongAnswer(f"person {person_id}: the API says {got}, bare SQL {want}")
        return got

    def time_calls(self, fns: dict, calls: int, warmup: int = 30) -> dict[str, Timing]:
        return time_calls(fns, calls, warmup)


def alternately(app, ours, bare, runs: int) -> dict[str, Timing]:
    """Time `ours(session)` against `bare()`, alternately, `runs` times each (the caller has
    already run both once and checked they agree); the product's session starts a fresh
    transaction for every run."""
    out = {"ours": [], "bare": []}
    with app.app_context():
        session = db.session
        gc.collect()
        for _ in range(runs):
            t = time.perf_counter()
            ours(session)
            out["ours"].append(time.perf_counter() - t)
            session.rollback()
            t = time.perf_counter()
            bare()
            out["bare"].append(time.perf_counter() - t)
        db.session.remove()
    return {k: Timing(v) for k, v in out.items()}


def every_balance(app, raw, ph: str, as_of, runs: int) -> dict[str, Timing]:
    """ledger.balances(session, None, as_of) against the bare GROUP BY, after one checked run."""
    sql = BARE_ALL.format(ph=ph)

    def bare():
        cur = raw.cursor()
        cur.execute(sql, (as_of,))
        return {a: int(s) for a, s in cur.fetchall()}

    with app.app_context():
        ours = balances(db.session, None, as_of)
        db.session.remove()
    want = bare()
    got = {a: s for a, s in ours.items() if s != 0 or a in want}
    if got != {a: s for a, s in want.items()}:
        diff = sorted(set(got.items()) ^ set(want.items()))[:5]
        raise WrongAnswer(f"every balance: ledger.balances and bare SQL differ, e.g. {diff}")
    return alternately(app, lambda session: balances(session, None, as_of), bare, runs)
