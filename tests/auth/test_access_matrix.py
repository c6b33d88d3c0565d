"""The role-by-endpoint table (access.ACCESS) against the app's own URL map: every endpoint has
a rule, every view reads it, and each role gets 403 exactly where the table says."""
import re
from pathlib import Path


from isf_ledger import create_app
from isf_ledger.auth.access import ACCESS, PUBLIC, RESTRICTED_WRITES
from isf_ledger.access_table import readme_table
from isf_ledger.auth.users import RESTRICTED, ROLES, endpoint_key


def _endpoints(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.endpoint.split(".")[0] in PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _view(app, rule, method):
    view = app.view_functions[rule.endpoint]
    cls = getattr(view, "view_class", None)
    return getattr(cls, method.lower()) if cls else view


def test_every_endpoint_has_a_rule_and_every_rule_an_endpoint():
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    keys = {endpoint_key(rule.endpoint, m) for rule, m in _endpoints(app)}
    missing = sorted(keys - set(ACCESS))
    assert not missing, f"endpoints without a rule in access.ACCESS: {missing}"
    assert not sorted(set(ACCESS) - keys), "rules for endpoints that do not exist"
    for rule, method in _endpoints(app):
        view = _view(app, rule, method)
        assert getattr(view, "guarded", False), f"{method} {rule.rule} does not go through guard"
        key = endpoint_key(rule.endpoint, method)
        assert set(ACCESS[key]) <= set(ROLES)


# Writes that change no fund, only the caller's own choice of how pages look.
OWN_SETTINGS = {"pages.text_size.post"}


def test_nobody_restricted_writes_and_only_admin_reads_the_audit_log():
    for key, roles in ACCESS.items():
        if not key.endswith(".get") and key not in OWN_SETTINGS:
            assert not (set(roles) & set(RESTRICTED)) - RESTRICTED_WRITES.get(key, set()), key
    assert "auditor" not in ACCESS["queries.raise_one.post"]
    assert ACCESS["audit_log.audit_log.get"] == ("admin",)


def test_the_readme_prints_the_table():
    readme = Path(__file__).resolve().parents[2].joinpath("README.md").read_text()
    block = re.search(r"<!-- access-table -->\n(.*?)<!-- /access-table -->", readme, re.S)
    assert block, "README.md lacks the access table markers"
    assert block.group(1) == readme_table(), "regenerate it: python -m isf_ledger.access_table"


def _path(rule, ids):
    def sub(m):
        name = m.group(2)
        return str(ids.get(name, 999_999)) if m.group(1) == "int:" else "2026-10"
    return re.sub(r"<(int:)?(\w+)>", sub, rule.rule)


def test_each_role_is_refused_exactly_where_the_table_says(api):
    ana = api.person("Ana", council="Northshire")
    with api.app.app_context():
        from isf_ledger.db import db
        import sqlalchemy as sa
        council = db.session.scalar(sa.text("SELECT council_id FROM people WHERE id = :p"), {"p": ana})
    tokens = {"admin": api.user("admin"), "finance": api.token, "broker": api.user("broker"),
              "person": api.user("person", "--person", str(ana)),
              "auditor": api.user("auditor", "--council", "Northshire")}
    ids = {"person_id": ana, "council_id": council}
    checked = 0
    for rule, method in _endpoints(api.app):
        key = endpoint_key(rule.endpoint, method)
        path = _path(rule, ids)
        for role in ROLES:
            r = api.call(method, path, {}, token=tokens[role])
            if not path.startswith("/api/"):
                # A page reads no Bearer token: without a session a GET sends the caller to sign
                # in, and a form (a POST) without a CSRF token is refused first, before the
                # session is read (tests/pages/test_review_pages.py checks pages' roles signed in).
                assert r.status_code == (302 if method == "GET" else 400), (role, method, path, r.status_code)
            elif role not in ACCESS[key]:
                assert r.status_code == 403, (role, method, path, r.status_code)
            elif role not in RESTRICTED or set(re.findall(r"<int:(\w+)>", rule.rule)) <= set(ids):
                assert r.status_code != 403, (role, method, path, r.get_json())
            checked += 1
    assert checked == 5 * len(ACCESS)
