"""The benchmark behind `make bench` (`python -m bench`): the product against bare SQL, same run.

It builds realistic books through the real posting engine on SQLite (a file in a temporary
directory) and on PostgreSQL (a fresh database, when 127.0.0.1:5432 answers), checks them with
the self-audit, then measures, each against a baseline taken in the same run on the same books:

1. one person's balance through the API in-process (token, query, JSON) against the bare
   indexed SQL sum of that person's available postings (target: within 30x);
2. that API balance for a person with 1 month of history against one with 5 years of history
   in the same books (target: within 1.2x);
3. every fund's balance, `ledger.balances(session, None, as_of)`, against the bare
   `GROUP BY account_id` over all postings (target: within 2x).

`python -m bench audit [--quick]` (bench/audit.py) measures the self-audit on 1,000,000+ postings:
seconds and peak Python memory against the bare `GROUP BY transaction_id` over all postings.

Benchmarks report, they do not gate: a missed target still exits 0. A failed audit, a wrong
figure or a crash exits non-zero.
"""

import os

# Every benchmark works on throwaway databases of its own: there is no secret key to keep, so
# the app may start as in development (create_app refuses to start without ISF_SECRET_KEY otherwise).
os.environ.setdefault("ISF_ENV", "development")
