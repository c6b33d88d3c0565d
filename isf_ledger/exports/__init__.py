"""The books for accountants' tools (Beancount, Ledger) and journals for the provider's finance
system (Xero, Sage 50, Sage Accounting)."""
