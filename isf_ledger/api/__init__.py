"""The accounts API, one blueprint per resource: people and their funds, plans and instalments, the
rate card, receipts, deliveries and hours, contingency, spend, transactions (ledger lines and
reversals), and reconciliation.

Views only translate: they check who is asking (`guard` with the resource's `Scope`), parse the
body (schemas/), call an operation, and let `write` commit it once per Idempotency-Key.
"""
from . import (bank_statements, clawback, contingency, councils, deliveries, imports, instalments, people, plans,
    queries, rates, receipts, reconciliation, spend, transactions)

BLUEPRINTS = [m.blp for m in (councils, people, plans, instalments, rates, receipts, deliveries, contingency,
                                 spend, imports, transactions, reconciliation, clawback, queries, bank_statements)]
