"""More than one app server (issue 26 item 6): two gunicorn instances on two ports against one
PostgreSQL database, as behind a load balancer. Clients spread writes, balances, sign-ins and
receipt-file uploads and downloads across both; month end is started on both at once; two
schedulers are started and one runs. Then the checks of proof/load.py (nothing lost, nothing
doubled, balances, reconciliation, audit) and these:

- every receipt file uploaded through one server downloads, byte for byte, from both;
- a session signed in on one server is honoured on the other (the sign-in form fetched from one,
  posted to the other, the pages read from both);
- month end started on both servers at once issues each person's statement once, numbered 1..N
  without a gap, and both answer with the same statements;
- of two `isf-ledger scheduler` processes, one runs and one stands by; killed (SIGKILL), the first
  is replaced by the second.

    PROOF_SERVERS_SECONDS=30 .venv/bin/python -m proof.servers
"""
from __future__ import annotations

import hashlib
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import date, timedelta

import httpx

from .load import BIN, KINDS, WEIGHTS, Books, Database, Server, check, cli, load_avg, pct, pounds

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR"
PASSWORD = "proof-person-password"


def last_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def setup(db: Database, base: str, token: str, n: int, books: Books, opened: date) -> list[int]:
    """n people open since `opened` (the month before this one), each with a plan and £1,000 in.
    The API opens a fund today; the proof dates it back in the database, as an import would."""
    h = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=h, timeout=30) as c:
        def post(path, body):
            r = c.post(path, json=body, headers={"Idempotency-Key": f"setup-{uuid.uuid4().hex}"})
            assert r.status_code in (200, 201), (path, r.status_code, r.text)
            return r.json()
        post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50",
                               "effective_from": opened.isoformat()})
        people = []
        for i in range(n):
            pid = post("/api/v1/people", {"name": f"Proof Person {i} Łukasz", "council": "Northshire",
                                          "council_reference": f"PROOF-{i}"})["id"]
            db.execute("UPDATE funds SET opened_on = %s WHERE person_id = %s", opened, pid)
            post(f"/api/v1/people/{pid}/plans", {"effective_from": opened.isoformat(), "annual_budget": "26000.00",
                                                 "management_fee_rate": "0.10", "payment_cycle": "four_weekly"})
            path = f"/api/v1/people/{pid}/receipts"
            body = {"date": opened.isoformat(), "amount": "100000.00", "source": "council"}
            books.add("receipt", None, path, body, post(path, body), pid)
            people.append(pid)
    return people


class Cookies:
    """The session cookie carried by hand: it is Secure (outside development), and httpx keeps a
    Secure cookie from plain http on 127.0.0.1; a load balancer in front would terminate TLS."""

    def __init__(self):
        self.jar: dict[str, str] = {}

    def take(self, r: httpx.Response) -> None:
        for header in r.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            self.jar[name.strip()] = rest.split(";", 1)[0]

    def header(self) -> dict:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.jar.items())} if self.jar else {}


def sign_in_across(bases: list[str], name: str, rng: random.Random) -> str | None:
    """Fetch the sign-in form from one server, post it to the other, read a page from both: None
    when each step did what it should, else what went wrong."""
    first, second = rng.sample(bases, 2)
    jar = Cookies()
    with httpx.Client(timeout=60, follow_redirects=False) as c:
        form = c.get(first + "/login")
        jar.take(form)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        if form.status_code != 200 or token is None:
            return f"GET /login on {first}: {form.status_code}"
        r = c.post(second + "/login", data={"name": name, "password": PASSWORD, "csrf_token": token.group(1)},
                   headers=jar.header())
        jar.take(r)
        if r.status_code != 302 or "/login" in r.headers.get("location", ""):
            return f"POST /login on {second} with the form from {first}: {r.status_code} {r.text[:200]}"
        for base in bases:
            page = c.get(base + "/", headers=jar.header())
            if page.status_code != 200:
                return f"GET / on {base} signed in on {second}: {page.status_code} {page.headers.get('location')}"
    return None


def client_loop(bases, token, people, books, stop, seed, today, latencies, statuses, uploads, sign_ins, problems,
                signers):
    rng = random.Random(seed)
    h = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=h, timeout=60) as c:
        while not stop.is_set():
            base = rng.choice(bases)
            kind = rng.choices(KINDS + ("upload", "sign_in"), WEIGHTS + (10, 2))[0]
            pid = rng.choice(people)
            key = f"servers-{seed}-{uuid.uuid4().hex}"
            t0 = time.perf_counter()
            if kind == "sign_in":
                pid = rng.choice(signers)
                problem = sign_in_across(bases, f"proof-person-{pid}", rng)
                status = 200 if problem is None else "refused"
                if problem:
                    problems.append(problem)
                else:
                    sign_ins.append(pid)
            elif kind == "upload":
                # A spend and its receipt file, each through either server.
                body = {"date": today, "amount": pounds(rng.randint(1, 500)), "payee": "Castle Cabs",
                        "category": "transport", "domain": "work_leisure_learning", "description": "Taxi"}
                path = f"/api/v1/people/{pid}/spend"
                r = c.post(base + path, json=body, headers={"Idempotency-Key": key})
                status = r.status_code
                if status == 201:
                    books.add("spend", key, path, body, r.json(), pid)
                    content = PNG + secrets.token_bytes(rng.randint(100, 200_000))
                    other = rng.choice(bases)
                    up = c.post(f"{other}/api/v1/spend/{r.json()['id']}/receipt-file",
                                files={"file": ("till receipt.png", content, "image/png")},
                                headers={"Idempotency-Key": key + "-file"})
                    status = up.status_code
                    if status == 201:
                        uploads.append((r.json()["id"], hashlib.sha256(content).hexdigest(), content))
            else:
                if kind == "balance":
                    path, body = f"/api/v1/people/{pid}/balance", None
                elif kind == "delivery":
                    path = f"/api/v1/people/{pid}/deliveries"
                    body = {"date": today, "start_time": f"{rng.randint(6, 21):02d}:{rng.choice(['00', '30'])}",
                            "service": "day_support", "quantity": f"{rng.randint(0, 7)}.{rng.choice(['25', '50'])}",
                            "status": rng.choice(["delivered", "delivered", "refused", "unplanned"]),
                            "domain": "health"}
                elif kind == "receipt":
                    path = f"/api/v1/people/{pid}/receipts"
                    body = {"date": today, "amount": pounds(rng.randint(1, 500_000)), "source": "council"}
                else:
                    path = f"/api/v1/people/{pid}/spend"
                    body = {"date": today, "amount": pounds(rng.randint(1, 5_000)), "payee": "Castle Cabs",
                            "category": "transport", "domain": "work_leisure_learning", "description": "Taxi – café"}
                try:
                    r = c.get(base + path) if body is None else c.post(base + path, json=body,
                                                                      headers={"Idempotency-Key": key})
                    status = r.status_code
                except httpx.TransportError as e:
                    status = type(e).__name__
                if isinstance(status, int) and 200 <= status < 300 and body is not None:
                    books.add(kind, key, path, body, r.json(), pid)
            statuses[kind][status] += 1
            if isinstance(status, int) and 200 <= status < 300:
                latencies[kind].append((time.perf_counter() - t0) * 1000)


def month_end_on_both(bases: list[str], token: str, month: str) -> list:
    """POST the month's issue to both servers at the same moment."""
    answers = [None] * len(bases)
    go = threading.Barrier(len(bases))

    def issue(i):
        with httpx.Client(timeout=300, headers={"Authorization": f"Bearer {token}"}) as c:
            go.wait()
            r = c.post(f"{bases[i]}/api/v1/statements/{month}/issue",
                       headers={"Idempotency-Key": f"month-end-{i}-{uuid.uuid4().hex}"})
            answers[i] = (r.status_code, r.json())
    threads = [threading.Thread(target=issue, args=(i,)) for i in range(len(bases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def schedulers(env: dict) -> list[str]:
    """Two `isf-ledger scheduler` processes against the database: one runs, one stands by; the
    first killed with SIGKILL, the second takes over. The failures (empty: it held)."""
    failures = []
    cmd = [os.path.join(BIN, "isf-ledger"), "scheduler", "--standby-seconds", "1"]
    env = {**env, "PYTHONUNBUFFERED": "1"}
    procs = []
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
            first_line = procs[-1].stdout.readline()
            procs[-1].first_line = first_line
        started = [p for p in procs if p.first_line.startswith("Scheduler started")]
        standing = [p for p in procs if "standing by" in p.first_line]
        print(f"  schedulers: {len(started)} started, {len(standing)} standing by")
        if len(started) != 1 or len(standing) != 1:
            failures.append(f"two schedulers: {[p.first_line.strip() for p in procs]}")
            return failures
        started[0].send_signal(signal.SIGKILL)
        started[0].wait(10)
        t0 = time.perf_counter()
        line = standing[0].stdout.readline()
        took = time.perf_counter() - t0
        print(f"  the running scheduler killed (SIGKILL): the other took over after {took:.1f} s")
        if not line.startswith("Scheduler started"):
            failures.append(f"the standing-by scheduler did not take over: {line!r}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    return failures


def run(clients: int, seconds: float, people_n: int) -> list[str]:
    today = date.today()
    month = last_month(today)
    with Database() as db:
        env = {**os.environ, "ISF_DATABASE_URL": db.url,
               "ISF_SECRET_KEY": os.environ.get("ISF_SECRET_KEY") or secrets.token_urlsafe(48)}
        env.pop("ISF_ENV", None)
        cli(env, "db", "upgrade")
        token = cli(env, "users", "create", "--name", "proof-finance", "--role", "finance").split()[-1]
        # Two servers, each its own gunicorn (2 workers x 4 threads), sharing only the database and the secret.
        with Server(env, workers=2) as a, Server(env, workers=2) as b:
            bases = [a.base, b.base]
            books = Books()
            people = setup(db, a.base, token, people_n, books, month)
            signers = people[:4]  # people who sign in to the pages (each user made costs a password hash)
            for pid in signers:
                cli(env, "users", "create", "--name", f"proof-person-{pid}", "--role", "person",
                    "--person", str(pid), "--password", PASSWORD)
            stop = threading.Event()
            latencies, statuses = defaultdict(list), defaultdict(Counter)
            uploads, sign_ins, problems = [], [], []
            threads = [threading.Thread(target=client_loop, args=(bases, token, people, books, stop, i,
                                                                  today.isoformat(), latencies, statuses,
                                                                  uploads, sign_ins, problems, signers))
                       for i in range(clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            time.sleep(seconds / 2)
            answers = month_end_on_both(bases, token, f"{month:%Y-%m}")  # under load, on both at once
            time.sleep(seconds / 2)
            stop.set()
            for t in threads:
                t.join(120)
            elapsed = time.perf_counter() - t0
            load = load_avg()
            failures = [f"{k}: {dict(v)}" for k, v in statuses.items() if set(v) - {200, 201}]
            failures += problems[:5]
            failures += check(db, a.base, token, env, books, people)
            # Every file, from both servers, byte for byte; one stored copy per content.
            with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {token}"}) as c:
                for spend_id, sha, content in uploads:
                    for base in bases:
                        r = c.get(f"{base}/api/v1/spend/{spend_id}/receipt-file")
                        if r.status_code != 200 or r.content != content:
                            failures.append(f"receipt file of spend {spend_id} from {base}: {r.status_code}")
            rows = db.query("SELECT COUNT(*), COUNT(DISTINCT sha256) FROM spend_receipt_files")[0]
            stored = db.query("SELECT COUNT(*) FROM receipt_file_contents")[0][0]
            if rows[0] != len(uploads) or stored != len({sha for _, sha, _ in uploads}):
                failures.append(f"receipt files: {len(uploads)} uploaded, {rows[0]} rows, {stored} stored")
            # Month end on both at once: each statement once, numbered 1..N.
            statements = db.query("SELECT person_id, number FROM statements WHERE month = %s ORDER BY number", month)
            numbers = [n for _, n in statements]
            issued = sorted(p for p, _ in statements)
            told = sum(ans["issued"] for status, ans in answers if status == 200)
            if ([s for s, _ in answers] != [200, 200] or issued != sorted(people)
                    or numbers != list(range(1, len(people) + 1)) or told != len(people)):
                failures.append(f"month end on both: answers {[(s, a.get('issued')) for s, a in answers]}, "
                                f"{len(statements)} statements, numbers {numbers[:5]}...{numbers[-3:]}")
            print(f"\nTwo app servers ({a.base}, {b.base}), one PostgreSQL, {clients} clients, {elapsed:.0f} s, "
                  f"{people_n} people ({load})")
            print(f"  {'kind':<9} {'count':>6} {'p50 ms':>8} {'p95 ms':>8}  statuses")
            for kind in KINDS + ("upload", "sign_in"):
                v = latencies[kind]
                print(f"  {kind:<9} {len(v):>6} {pct(v, .5):>8.1f} {pct(v, .95):>8.1f}  {dict(statuses[kind])}")
            print(f"  receipt files: {len(uploads)} uploaded across both, each downloaded from both: "
                  f"{rows[0]} rows, {stored} stored")
            print(f"  sign-ins: {len(sign_ins)} signed in on one server, honoured on both")
            print(f"  month end on both at once: {[a.get('issued') for _, a in answers]} issued by each, "
                  f"{len(statements)} statements numbered {numbers[0] if numbers else '-'}..{numbers[-1] if numbers else '-'}")
            failures += schedulers(env)
    return failures


def main() -> int:
    failures = run(int(os.environ.get("PROOF_SERVERS_CLIENTS", "16")),
                   float(os.environ.get("PROOF_SERVERS_SECONDS", "30")),
                   int(os.environ.get("PROOF_PEOPLE", "40")))
    for f in failures:
        print("  FAIL", f)
    print("  two servers: nothing lost or doubled, files and sessions on both, month end once, one scheduler:",
          "FAIL" if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
