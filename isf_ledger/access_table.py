"""Print the README's role-by-endpoint table: `python -m isf_ledger.access_table`. It builds the
app to read its URL map, so it stands above everything (pyproject.toml's layers)."""
import re
import sys

from isf_ledger import create_app
from isf_ledger.auth.access import ACCESS, PUBLIC
from isf_ledger.auth.users import ROLES, endpoint_key


def readme_table() -> str:
    """The role-by-endpoint table as Markdown, from ACCESS and the app's URL map."""
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    lines = ["| method | path | " + " | ".join(ROLES) + " |", "|---|---|" + "---|" * len(ROLES)]
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.endpoint.split(".")[0] in PUBLIC:
            continue
        for m in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            roles = ACCESS.get(endpoint_key(rule.endpoint, m), ())
            found.append((rule.rule, m, roles))
    for path, m, roles in sorted(found):
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
        lines.append(f"| {m} | `{path}` | " + " | ".join("yes" if r in roles else "" for r in ROLES) + " |")
    return "\n".join(lines) + "\n"



if __name__ == "__main__":
    sys.stdout.write(readme_table())
