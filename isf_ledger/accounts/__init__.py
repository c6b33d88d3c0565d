"""The restricted-fund ledger: people, funds, plans, the posting engine, fees and receipts."""
