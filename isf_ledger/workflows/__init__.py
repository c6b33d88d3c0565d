"""Work that spans the packages below it: closing a fund (closing.py), the self-audit (self_audit.py), month end (month_end.py)."""
