"""Who may do what: users, tokens, roles and the guard (users.py), passwords (passwords.py), who may see a person (scopes.py), the access table (access.py), the audit log (audit_log.py)."""
