"""Load, repeatable (issue 26 item 3): the app under gunicorn on a fresh PostgreSQL database, 16 then
64 concurrent clients posting deliveries, receipts and spend and reading balances for a bounded
time, then the checks: every 2xx write is in the database exactly once, replaying every
idempotency key doubles nothing, each person's balance is exactly what the writes say, the
reconciliation holds and `isf-ledger audit` finds nothing. Prints p50/p95/p99 per request kind
and the target (a delivery's p95 under 50 ms at 16 clients) with PASS or MISS.

    PROOF_SECONDS=60 PROOF_CLIENTS=16,64 .venv/bin/python -m proof.load

Then (PROOF_SERVERS=0 to leave it out) the two-server step, proof/servers.py.
"""
from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

import httpx
import psycopg

PG_BASE = os.environ.get("ISF_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BIN = os.path.dirname(sys.executable)
TARGET_P95_MS = 50.0
KINDS = ("delivery", "receipt", "spend", "balance")
WEIGHTS = (40, 15, 15, 30)


def pence(text: str) -> int:
    return int((Decimal(text) * 100).to_integral_value())


def pounds(p: int) -> str:
    return f"{'-' if p < 0 else ''}{abs(p) // 100}.{abs(p) % 100:02d}"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def load_avg() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


class Database:
    """A fresh PostgreSQL database made for this run and dropped after it (never the server)."""

    def __init__(self):
        self.name = f"isf_proof_{uuid.uuid4().hex[:8]}"
        self.url = PG_BASE.rsplit("/", 1)[0] + "/" + self.name

    def __enter__(self):
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.name}")
        return self

    def __exit__(self, *exc):
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")

    def query(self, sql: str, *params):
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str, *params) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute(sql, params)

    def terminate_app_backends(self) -> int:
        """Cut the app's connections to this run's database only (pg_terminate_backend)."""
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = %s AND pid <> pg_backend_pid()", (self.name,)).fetchall()
        return len(rows)


def cli(env: dict, *args: str) -> str:
    out = subprocess.run([os.path.join(BIN, "isf-ledger"), *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"isf-ledger {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving the app on 127.0.0.1 (gthread workers: two processes per core)."""

    def __init__(self, env: dict, workers: int = 4, threads: int = 4):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.cmd = [os.path.join(BIN, "gunicorn"), "-k", "gthread", "-w", str(workers), "--threads", str(threads),
                    "-b", f"127.0.0.1:{self.port}", "--log-level", "warning",
                    # Idle connections kept longer than a client (or a load balancer) keeps them:
                    # else a request sent as the server closes one is lost in transit.
                    "--keep-alive", "30", "isf_ledger:create_app()"]
        self.env = env

    def __enter__(self):
        # The app logs every lost connection as a warning: kept out of the report, in a file.
        self.log = tempfile.NamedTemporaryFile("w", prefix="isf-proof-gunicorn-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(self.cmd, env=self.env, stderr=self.log)
        for _ in range(300):
            try:
                httpx.get(self.base + "/api/v1/openapi.json", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit("gunicorn did not answer")

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


class Books:
    """What the clients were told was written: the truth the database is checked against."""

    def __init__(self):
        self.lock = threading.Lock()
        self.writes: dict[str, list] = defaultdict(list)  # kind -> [(key, path, body, response json)]
        self.available: Counter = Counter()  # person -> pence

    def add(self, kind, key, path, body, got, pid):
        with self.lock:
            self.writes[kind].append((key, path, body, got))
            if kind == "receipt":
                self.available[pid] += pence(got["amount"]) - pence(got["fee"])
            elif kind == "delivery":
                self.available[pid] -= pence(got["charge"] or "0")
            elif kind == "spend":
                self.available[pid] -= pence(got["amount"])


def setup_people(base: str, token: str, n: int, books: Books, today: str) -> list[int]:
    h = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=h, timeout=30) as c:
        def post(path, body):
            r = c.post(path, json=body, headers={"Idempotency-Key": f"setup-{uuid.uuid4().hex}"})
            assert r.status_code in (200, 201), (path, r.status_code, r.text)
            return r.json()
        post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": today})
        people = []
        for i in range(n):
            pid = post("/api/v1/people", {"name": f"Proof Person {i} Łukasz", "council": "Northshire",
                                          "council_reference": f"PROOF-{i}"})["id"]
            post(f"/api/v1/people/{pid}/plans", {"effective_from": today, "annual_budget": "26000.00",
                                                 "management_fee_rate": "0.10", "payment_cycle": "four_weekly"})
            path = f"/api/v1/people/{pid}/receipts"
            body = {"date": today, "amount": "100000.00", "source": "council"}
            got = post(path, body)
            books.add("receipt", None, path, body, got, pid)
            people.append(pid)
    return people


def client_loop(base, token, people, books, stop, seed, today, latencies, statuses):
    rng = random.Random(seed)
    h = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=h, timeout=60) as c:
        while not stop.is_set():
            kind = rng.choices(KINDS, WEIGHTS)[0]
            pid = rng.choice(people)
            key = f"load-{seed}-{uuid.uuid4().hex}"
            if kind == "balance":
                path, body = f"/api/v1/people/{pid}/balance", None
            elif kind == "delivery":
                path = f"/api/v1/people/{pid}/deliveries"
                body = {"date": today, "start_time": f"{rng.randint(6, 21):02d}:{rng.choice(['00', '30'])}",
                        "service": "day_support", "quantity": f"{rng.randint(0, 7)}.{rng.choice(['25', '50', '75'])}",
                        "status": rng.choice(["delivered", "delivered", "refused", "unplanned"]), "domain": "health"}
            elif kind == "receipt":
                path = f"/api/v1/people/{pid}/receipts"
                body = {"date": today, "amount": pounds(rng.randint(1, 500_000)),
                        "source": rng.choice(["council", "health", "client_contribution", "other"])}
            else:
                path = f"/api/v1/people/{pid}/spend"
                body = {"date": today, "amount": pounds(rng.randint(1, 5_000)), "payee": "Castle Cabs",
                        "category": "transport", "domain": "work_leisure_learning", "description": "Taxi – café"}
            t0 = time.perf_counter()
            try:
                if body is None:
                    r = c.get(path)
                else:
                    r = c.post(path, json=body, headers={"Idempotency-Key": key})
                status = r.status_code
            except httpx.TransportError as e:
                status = type(e).__name__
            ms = (time.perf_counter() - t0) * 1000
            statuses[kind][status] += 1
            if isinstance(status, int) and 200 <= status < 300:
                latencies[kind].append(ms)
                if body is not None:
                    books.add(kind, key, path, body, r.json(), pid)


TABLES = {"delivery": "deliveries", "receipt": "receipts", "spend": "spend"}


def check(db: Database, base: str, token: str, env: dict, books: Books, people: list[int]) -> list[str]:
    """Every check; the list of failures (empty: all held)."""
    failures = []
    for kind, table in TABLES.items():
        told = Counter(got["id"] for _, _, _, got in books.writes[kind])
        rows = Counter(r[0] for r in db.query(f"SELECT id FROM {table}"))
        if told != rows:
            failures.append(f"{kind}: {sum(told.values())} written by 2xx, {sum(rows.values())} rows; "
                            f"missing {sorted(set(told) - set(rows))[:5]}, extra {sorted(set(rows) - set(told))[:5]}")
    # Replay every key once: the first answer again, nothing new written.
    before = {t: db.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in (*TABLES.values(), "transactions", "postings")}
    h = {"Authorization": f"Bearer {token}"}
    replayed = 0
    with httpx.Client(base_url=base, headers=h, timeout=60) as c:
        for kind in TABLES:
            for key, path, body, got in books.writes[kind]:
                if key is None:
                    continue
                r = c.post(path, json=body, headers={"Idempotency-Key": key})
                replayed += 1
                if r.status_code >= 300 or r.json().get("id") != got["id"]:
                    failures.append(f"replay of {key} answered {r.status_code} {r.text[:120]}")
                    break
        after = {t: db.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in before}
        if after != before:
            failures.append(f"replaying {replayed} keys wrote rows: {before} -> {after}")
        for pid in people:
            got = c.get(f"/api/v1/people/{pid}/balance").json()["available"]
            if got != pounds(books.available[pid]):
                failures.append(f"person {pid}: balance {got}, the writes say {pounds(books.available[pid])}")
        rec = c.get("/api/v1/reconciliation").json()
        if not rec.get("reconciles") or rec.get("funds_total") != pounds(sum(books.available.values())):
            failures.append(f"reconciliation: {rec}")
    audit = subprocess.run([os.path.join(BIN, "isf-ledger"), "audit"], env=env, capture_output=True, text=True)
    if audit.returncode != 0:
        failures.append(f"isf-ledger audit: {audit.stdout[-500:]} {audit.stderr[-500:]}")
    print(f"  checked: {replayed} keys replayed, {sum(len(v) for v in books.writes.values())} writes, "
          f"{len(people)} balances, reconciliation, audit")
    return failures


def run_level(clients: int, seconds: float, people_n: int, cut: bool = False) -> tuple[dict, list[str]]:
    """One level of load; with `cut`, the app's database connections are terminated twice part-way
    (pg_terminate_backend on this run's database only): 503s are allowed then, and every request
    after the last cut must succeed again."""
    today = date.today().isoformat()
    with Database() as db:
        env = {**os.environ, "ISF_DATABASE_URL": db.url,
               "ISF_SECRET_KEY": os.environ.get("ISF_SECRET_KEY") or secrets.token_urlsafe(48)}
        env.pop("ISF_ENV", None)
        cli(env, "db", "upgrade")
        token = cli(env, "users", "create", "--name", "proof-finance", "--role", "finance").split()[-1]
        with Server(env) as server:
            books = Books()
            people = setup_people(server.base, token, people_n, books, today)
            stop = threading.Event()
            latencies = defaultdict(list)
            statuses = defaultdict(Counter)
            threads = [threading.Thread(target=client_loop, args=(server.base, token, people, books, stop, i, today,
                                                                  latencies, statuses)) for i in range(clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            cuts = 0
            if cut:
                for _ in range(2):
                    time.sleep(seconds / 3)
                    cuts += db.terminate_app_backends()
                time.sleep(min(3.0, seconds / 6))  # requests in flight at the cut answer 503 meanwhile
                mark = {k: Counter(v) for k, v in statuses.items()}
                time.sleep(seconds / 3)
            else:
                time.sleep(seconds)
            stop.set()
            for t in threads:
                t.join(120)
            elapsed = time.perf_counter() - t0
            load = load_avg()
            allowed = {200, 201, 503} if cut else {200, 201}
            failures = [f"{k}: {dict(v)}" for k, v in statuses.items() if set(v) - allowed]
            if cut:
                after = {k: v - mark.get(k, Counter()) for k, v in statuses.items()}
                print(f"  cut {cuts} app connections twice; after the last cut: "
                      f"{ {k: dict(v) for k, v in after.items()} }")
                if any(set(v) - {200, 201} for v in after.values()) or not any(after.values()):
                    failures.append(f"the app did not recover after the cut: {after} (log: {server.log.name})")
            failures += check(db, server.base, token, env, books, people)
    print(f"\n{clients} clients, {elapsed:.0f} s, {people_n} people, PostgreSQL, gunicorn gthread 4x4 ({load})")
    print(f"  {'kind':<9} {'count':>6} {'per s':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  statuses")
    for kind in KINDS:
        v = latencies[kind]
        print(f"  {kind:<9} {len(v):>6} {len(v) / elapsed:>6.1f} {pct(v, .5):>8.1f} {pct(v, .95):>8.1f} "
              f"{pct(v, .99):>8.1f}  {dict(statuses[kind])}")
    return latencies, failures


def main() -> int:
    seconds = float(os.environ.get("PROOF_SECONDS", "60"))
    levels = [int(x) for x in os.environ.get("PROOF_CLIENTS", "16,64").split(",")]
    people_n = int(os.environ.get("PROOF_PEOPLE", "40"))
    failed = False
    runs = [(c, seconds, False) for c in levels]
    if os.environ.get("PROOF_FAULTS", "1") != "0":
        runs.append((16, float(os.environ.get("PROOF_FAULT_SECONDS", "15")), True))
    for clients, secs, cut in runs:
        if cut:
            print("\nFault: PostgreSQL connection loss under load (pg_terminate_backend, this database only)")
        latencies, failures = run_level(clients, secs, people_n, cut)
        for f in failures:
            print("  FAIL", f)
        print("  nothing lost, nothing doubled, balances, reconciliation and audit:", "FAIL" if failures else "PASS")
        failed |= bool(failures)
        if clients == 16 and not cut:
            p95 = pct(latencies["delivery"], .95)
            ok = p95 < TARGET_P95_MS
            print(f"  target: a delivery's p95 under {TARGET_P95_MS:.0f} ms at 16 clients: {p95:.1f} ms, "
                  f"{p95 / TARGET_P95_MS:.2f}x the bound: {'PASS' if ok else 'MISS'}")
    if os.environ.get("PROOF_SERVERS", "1") != "0":
        from . import servers

        print("\nMore than one app server: two gunicorn instances, one PostgreSQL")
        failed |= bool(servers.main())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
