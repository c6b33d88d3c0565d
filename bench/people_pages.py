"""The person's home page and the council reviewer's person page against the API reads that give
the same figures, in the same run (issue 24's benchmark; target: each page within 2x).

`python -m bench.people_pages [--people N] [--months 11] [--engine sqlite|postgresql|both]
[--keep-books [--copy-from-sqlite]] [--repeat 5]`

Books: the demo provider (`isf-ledger demo --people N --months M`: councils, plans, receipts,
hours of every status, banked hours, contingency, spend, shared support, clawbacks, closed funds),
written through the posting engine as `make run` writes it, ending today. A year: the demo's
plans start on its first day (the first of the month `--months` months before this one), so with
12 the plan year in force, which is the review's period and the home page's year, would have
begun a month ago; the default 11 gives a plan year of 11 whole months and this one so far, each
with its receipts, hours and spend. The issue asks for 10,000 people x 1 year: building
them through the engine took 236 ms a person on this machine's 2 shared cores at load 8-12 (12
minutes for 3,000, so about 40 at 10,000), so the size is an argument (default 10,000) and
`--keep-books` keeps the books for the next run of the same size and day (in `$ISF_BENCH_CACHE`);
`--copy-from-sqlite` gives PostgreSQL a COPY of them.

Measured (median of `--repeat`, after one warm request each), for the person in the middle of
the books signed in as themselves (the home page) and as their council's reviewer (the review
page), through the test client as a browser's request (the session cookie, the whole page):
- the person's home, `GET /` as the person, against the API reads of its figures by the same
  person's token: `GET /api/v1/people/{id}/balance` (what is left), `/forecast` (the plan year's
  money used and its pace) and `/hours?from=<first of the month>&to=<its last day>` (this month's
  hours: the plan's for the month, those used so far);
- the reviewer's person page, `GET /people/{id}` as the council's auditor, against the auditor's
  API reads of its figures: `/review-pack?from=<the plan year's start>&to=<today>` (the review
  pack: plan against actual, hours per week, contingency, spend, the provider's share, shared
  support, the position; the API has it as XLSX only, so its baseline includes writing the
  workbook, which the page does not do), `/forecast` (the year ahead), `/queries` and `/balance`;
  and, for information, a stricter baseline: the same less the workbook (the pack's figures read
  in-process as the endpoint reads them, then the other three API reads).
Each page's figures are checked against the API's first (the home: what is left, the plan
year's money used and budget, this month's planned hours; the review: the balance, the plan
year's money used and budget), so both sides say the same.
Benchmarks report, they do not gate: a missed target still exits 0.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time

from isf_ledger import clock
from isf_ledger.db import db
from isf_ledger.reports import statements as st

from . import books as b
from .engines import make, postgres_problem
from .report import Row, table, timed


def say(text: str = "") -> None:
    print(text, flush=True)


def build(app, people: int, months: int, seed: int) -> None:
    """The demo provider, as `make run` loads it (isf-ledger demo)."""
    result = app.test_cli_runner().invoke(args=["demo", "--people", str(people), "--months", str(months),
                                                "--seed", str(seed)])
    if result.exit_code != 0:
        raise RuntimeError(f"demo failed: {result.output[-2000:]}")
    say("  " + next((line for line in result.output.splitlines() if line.startswith("demo:")), result.output[-300:]))


def _pick(app, people: int) -> tuple[int, str]:
    """The person in the middle of the books whose fund is open with a plan in force today, and
    their council's name."""
    import sqlalchemy as sa

    from isf_ledger.models import Council, Person
    from isf_ledger.accounts.plans import plans_of
    from isf_ledger.reports.forecast import plan_year
    with app.app_context():
        ids = list(db.session.scalars(sa.select(Person.id).order_by(Person.id)))
        today = clock.today()
        for pid in ids[len(ids) // 2:] + ids[:len(ids) // 2]:
            person = db.session.get(Person, pid)
            if getattr(person, "closed_on", None) is None and plan_year(plans_of(db.session, pid), today):
                council = db.session.get(Council, person.council_id).name
                db.session.remove()
                return pid, council
    raise RuntimeError("no open fund with a plan in force")


def _users(app, pid: int, council: str) -> dict:
    """A person user for `pid` and an auditor of their council: each a session and an API token."""
    from isf_ledger.accounts.people import DIRECTORY
    from isf_ledger.auth.users import create_user
    out = {}
    stamp = f"{os.getpid()}-{time.time_ns()}"
    with app.app_context():
        for role, kw in (("person", {"person_id": pid}), ("auditor", {"council": council})):
            user, token = create_user(db.session, DIRECTORY, name=f"bench-{role}-{stamp}", role=role, **kw)
            db.session.commit()
            out[role] = (user.id, user.session_epoch, token)
        db.session.remove()
    return out


def _client(app, user_id: int, epoch: int):
    """A browser's session for the user, as signing in leaves it."""
    client = app.test_client()
    with client.session_transaction() as s:
        s["user_id"], s["signed_in_at"], s["epoch"] = user_id, int(time.time()), epoch
    return client


def _text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    return " ".join(found.group(1).split()) if found else ""


def _pounds(text: str) -> str:
    from isf_ledger.pages.people import pounds_text
    return pounds_text(text)


def run(name: str, people: int, months: int, seed: int, repeat: int, keep: bool, copy: bool = False) -> list[Row]:
    key = f"people_pages_{people}_{months}_{seed}_{clock.today():%Y%m%d}" if keep else None
    engine = b.kept_engine(name, key)
    try:
        engine.upgrade()
        app = engine.app()
        began = time.perf_counter()
        source = make("sqlite", key) if (copy and key and name == "postgresql") else None
        if key and os.path.exists(b.kept_marker(engine)):
            say(f"[{name}] reusing the demo books kept as {key!r}")
        elif source is not None and os.path.exists(b.kept_marker(source)):
            say(f"[{name}] copying the demo books built through the posting engine on SQLite ({source.path})")
            source.upgrade()
            b.copy_books(source.path, engine, say)
            engine.after_build()
            open(b.kept_marker(engine), "w").write("{}")
        else:
            say(f"[{name}] building the demo provider: {people:,} people x {months} months through the posting engine")
            build(app, people, months, seed)
            engine.after_build()
            if key:
                os.makedirs(b.CACHE_DIR, exist_ok=True)
                open(b.kept_marker(engine), "w").write("{}")
            say(f"[{name}] built in {time.perf_counter() - began:.1f} s; {engine.size()}")
        counted = b.counts(app)
        pid, council = _pick(app, people)
        users = _users(app, pid, council)
        with app.app_context():
            db.engine.dispose()
        person = _client(app, *users["person"][:2])
        auditor = _client(app, *users["auditor"][:2])
        api = app.test_client()
        today = clock.today()
        first_of_month = today.replace(day=1)
        month_end = clock.month_end(today)

        def get(client, path, token=None, want="json"):
            r = client.get(path, headers={"Authorization": f"Bearer {token}"} if token else {})
            assert r.status_code == 200, (path, r.status_code, r.data[:300])
            return r.get_json() if want == "json" else r.data

        def home_page():
            return get(person, "/", want="html").decode()

        ptoken = users["person"][2]

        def home_api():
            return (get(api, f"/api/v1/people/{pid}/balance", ptoken),
                    get(api, f"/api/v1/people/{pid}/forecast", ptoken),
                    get(api, f"/api/v1/people/{pid}/hours?from={first_of_month}&to={month_end}", ptoken))

        def review_page():
            return get(auditor, f"/people/{pid}", want="html").decode()

        atoken = users["auditor"][2]
        year_start = None

        def review_api():
            return (get(api, f"/api/v1/people/{pid}/review-pack?from={year_start}&to={today}", atoken, want="xlsx"),
                    get(api, f"/api/v1/people/{pid}/forecast", atoken),
                    get(api, f"/api/v1/people/{pid}/queries", atoken),
                    get(api, f"/api/v1/people/{pid}/balance", atoken))

        # Warm each (the first request builds the app's caches), then check the figures agree.
        html = home_page()
        balance, year, hours = home_api()
        year_start = year["plan_year"]["start"]
        review = review_page()
        review_api()
        left = _text(html, "left-now")
        assert left == _pounds(balance["available"]), f"what is left: page {left!r}, API {balance['available']}"
        assert f'{_pounds(year["used"])} has been used so far' in _text(html, "year-words"), \
            (_text(html, "year-words"), year["used"])
        assert _pounds(year["budget"]) in _text(html, "year-words")
        from isf_ledger.reports.render_pdf import hours as hours_words
        this_month = hours["months"][-1]
        assert f"gives you {hours_words(this_month['planned'])} of help" in _text(html, "hours-words"), \
            (_text(html, "hours-words"), this_month)
        say(f"[{name}] person {pid} ({council}); {counted['people']:,} people, {counted['postings']:,} postings; "
            f"what is left {left} (page) = {balance['available']} (API); plan year used {year['used']} of "
            f"{year['budget']}, pace {year.get('pace')}; this month's hours from the API: "
            f"{', '.join(f'{k} {v}' for k, v in (hours['months'][-1] if hours['months'] else {}).items() if k != 'month')}")
        review_words = " ".join(re.sub(r"<[^>]+>", " ", review).split())
        ayear, abalance = review_api()[1], review_api()[3]
        assert f"Balance (available) {_pounds(abalance['available'])}" in review_words, abalance
        assert f"Used in this plan year so far {_pounds(ayear['used'])} of {_pounds(ayear['budget'])}" in review_words, ayear

        t_home, _ = timed(home_page, repeat)
        t_home_api, _ = timed(home_api, repeat)
        t_review, _ = timed(review_page, repeat)
        t_review_api, _ = timed(review_api, repeat)

        def review_figures():
            """The API's reads without writing the workbook: the pack's figures in-process (what
            the review-pack endpoint computes before rendering), then the other reads."""
            from datetime import date as day

            from isf_ledger.reports.review_pack import review_pack as pack_of
            with app.app_context():
                pack_of(db.session, pid, day.fromisoformat(year_start), today)
                db.session.remove()
            return review_api_json()

        def review_api_json():
            return (get(api, f"/api/v1/people/{pid}/forecast", atoken), get(api, f"/api/v1/people/{pid}/queries", atoken),
                    get(api, f"/api/v1/people/{pid}/balance", atoken))

        review_figures()
        t_review_figures, _ = timed(review_figures, repeat)
        rows = [Row(f"person's home page (GET /), median of {repeat}", t_home, t_home_api, 2),
                Row(f"reviewer's person page (GET /people/{{id}}), median of {repeat}", t_review, t_review_api, 2),
                Row("   (the same page against those reads less the workbook's writing)", t_review, t_review_figures, None)]
        say()
        say(table(f"{name}: {counted['people']:,} people x {months} months (demo), as at {today}; baselines: "
                  "the API reads of the same figures", rows))
        say("  load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
        with app.app_context():
            db.engine.dispose()
        return rows
    finally:
        engine.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.people_pages", description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=10_000, help="people in the demo books (default 10,000)")
    p.add_argument("--months", type=int, default=11,
                   help="months of history before this one (default 11: see the module's docstring)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5, help="timed requests of each, the median kept (default 5)")
    p.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="sqlite")
    p.add_argument("--keep-books", action="store_true",
                   help="keep the books for the next run of the same size, seed and day ($ISF_BENCH_CACHE)")
    p.add_argument("--copy-from-sqlite", action="store_true",
                   help="with --keep-books: PostgreSQL gets a COPY of SQLite's kept books of the same size "
                        "(the same rows, built through the posting engine) rather than building them again")
    args = p.parse_args(argv)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if "postgresql" in engines and (problem := postgres_problem()):
        say(f"PostgreSQL not reachable ({problem}): skipped")
        engines.remove("postgresql")
    say(f"python -m bench.people_pages: {args.people:,} people x {args.months} months; {os.cpu_count()} cores, "
        "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    for name in engines:
        run(name, args.people, args.months, args.seed, args.repeat, args.keep_books, args.copy_from_sqlite)
    return 0


if __name__ == "__main__":
    sys.exit(main())
