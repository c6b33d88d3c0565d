"""The JSON shapes of the accounts API (domain.md's contract), one module per resource."""
