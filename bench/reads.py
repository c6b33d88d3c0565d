"""Reads of many funds or many lines, against bare SQL answering the same question on the same
books in the same run, checked to agree before any figure is kept:

- a page of `GET /api/v1/people` (50 people with their balances) against a bare query of the same
  50 people's names and summed postings;
- every fund's position (`positions.positions`) against a bare GROUP BY over all history;
- one person's ledger lines for a year, through `GET .../transactions` and through
  `lines.ledger_lines`, against a bare join of transactions, postings and accounts.
"""
from __future__ import annotations


from isf_ledger.ledger.lines import ledger_lines
from isf_ledger.accounts.positions import positions
from isf_ledger.db import db
from isf_ledger.money import format_pence

from .balance import Timing, WrongAnswer, alternately, make_token, time_calls
from .books import Books
from .report import Row

PER_PAGE = 50
BARE_PAGE = """SELECT p.id, p.name, a.kind, SUM(x.amount_pence)
                 FROM people p JOIN accounts a ON a.person_id = p.id JOIN postings x ON x.account_id = a.id
                WHERE x.date <= {ph} AND p.id IN (SELECT id FROM people ORDER BY id LIMIT {per} OFFSET {ph})
                GROUP BY p.id, p.name, a.kind"""
BARE_EVERY = """SELECT a.person_id, a.kind, SUM(x.amount_pence) FROM postings x JOIN accounts a ON a.id = x.account_id
                 WHERE a.person_id IS NOT NULL AND x.date <= {ph} GROUP BY a.person_id, a.kind"""
BARE_LINES = """SELECT t.id, t.kind, t.date, t.description, a.code, x.amount_pence
                  FROM transactions t JOIN postings x ON x.transaction_id = t.id JOIN accounts a ON a.id = x.account_id
                 WHERE t.person_id = {ph} AND t.date >= {ph} AND t.date <= {ph} ORDER BY t.date, t.id, x.id"""


def measure_reads(app, raw, ph: str, books: Books, calls: int, runs: int) -> list[Row]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app)}"}
    as_of = books.as_of
    page = 2  # not the first: OFFSET has to skip a page

    def api_page():
        r = client.get(f"/api/v1/people?page={page}&per_page={PER_PAGE}&as_of={as_of.isoformat()}", headers=headers)
        if r.status_code != 200:
            raise WrongAnswer(f"GET /people: HTTP {r.status_code} {r.get_data(as_text=True)[:200]}")
        return r.get_json()

    def bare_page():
        cur = raw.cursor()
        cur.execute(BARE_PAGE.format(ph=ph, per=PER_PAGE), (as_of, (page - 1) * PER_PAGE))
        return cur.fetchall()

    got = {p["id"]: p["fund"]["available"] for p in api_page()}
    want = {pid: format_pence(int(s)) for pid, _, kind, s in bare_page() if kind == "available"}
    if {k: v for k, v in got.items() if k in want} != want:
        raise WrongAnswer(f"GET /people disagrees with bare SQL: {sorted(set(got.items()) ^ set(want.items()))[:3]}")

    start = as_of.replace(year=as_of.year - 1)

    def api_lines():
        r = client.get(f"/api/v1/people/{books.typical}/transactions?from={start}&to={as_of}", headers=headers)
        if r.status_code != 200:
            raise WrongAnswer(f"GET .../transactions: HTTP {r.status_code}")
        return r.get_json()

    def bare_lines():
        cur = raw.cursor()
        cur.execute(BARE_LINES.format(ph=ph), (books.typical, start, as_of))
        return cur.fetchall()

    def ours_lines():
        with app.app_context():
            out = ledger_lines(db.session, books.typical, start=start, end=as_of)
            db.session.remove()
        return out

    n_lines = len(api_lines())
    if sum(len(t["postings"]) for t in api_lines()) != len(bare_lines()):
        raise WrongAnswer("ledger lines: the API and bare SQL count different postings")
    t = time_calls({"api_page": api_page, "bare_page": bare_page, "api_lines": api_lines,
                    "ours_lines": ours_lines, "bare_lines": bare_lines}, calls // 3 or 1, warmup=5)
    every = every_position(app, raw, ph, as_of, runs)
    return [
        Row(f"4. GET /people, a page of {PER_PAGE} with balances, median", t["api_page"].median,
            t["bare_page"].median, 2),
        Row(f"5. every fund's position, positions(), median of {runs}", every["ours"].median,
            every["bare"].median, 2),
        Row(f"6. one person's ledger lines for a year ({n_lines} lines), API, median", t["api_lines"].median,
            t["bare_lines"].median, None),
        Row("6. the same through lines.ledger_lines, median", t["ours_lines"].median, t["bare_lines"].median, None),
    ]


def every_position(app, raw, ph: str, as_of, runs: int) -> dict[str, Timing]:
    sql = BARE_EVERY.format(ph=ph)

    def bare():
        cur = raw.cursor()
        cur.execute(sql, (as_of,))
        return cur.fetchall()

    with app.app_context():
        ours = positions(db.session, None, as_of)
        db.session.remove()
    want = {pid: int(s) for pid, kind, s in bare() if kind == "available"}
    if {pid: p.available for pid, p in ours.items() if pid in want} != want:
        raise WrongAnswer("every position: positions() and bare SQL differ")
    return alternately(app, lambda session: positions(session, None, as_of), bare, runs)
