"""Print the README's role-by-endpoint table: `python -m isf_ledger.access_table`."""
import sys

from isf_ledger.auth.access import readme_table

if __name__ == "__main__":
    sys.stdout.write(readme_table())
