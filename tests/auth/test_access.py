"""Who may do what: 401, then 403 (role or scope), then 404, then the body."""
import pytest
import sqlalchemy as sa

from isf_ledger.db import db

WRITES = [
    ("/api/v1/people", {"name": "X", "council": "Northshire"}),
    ("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"}),
    ("/api/v1/people/{pid}/plans", {"effective_from": "2026-04-01", "annual_budget": "100.00"}),
    ("/api/v1/people/{pid}/receipts", {"date": "2026-10-01", "amount": "10.00", "source": "council"}),
    ("/api/v1/transactions/{txn}/reverse", {"reason": "x"}),
]


@pytest.fixture
def world(api):
    ana = api.person("Ana", council="Northshire")
    bo = api.person("Bo", council="Southshire")
    txn = api.receipt(ana)["transaction_id"]
    tokens = {
        "admin": api.user("admin"),
        "finance": api.token,
        "broker": api.user("broker"),
        "person": api.user("person", "--person", str(ana)),
        "auditor": api.user("auditor", "--council", "Northshire"),
    }
    return {"ana": ana, "bo": bo, "txn": txn, "tokens": tokens}


def test_no_token_or_a_wrong_token_is_401(api):
    r = api.client.get("/api/v1/people")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorised"
    r = api.client.get("/api/v1/people", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    r = api.client.post("/api/v1/people", json={}, headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


def test_openapi_document_needs_no_token(api):
    r = api.client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    spec = r.get_json()
    for path in ("/api/v1/people", "/api/v1/people/{person_id}/receipts", "/api/v1/rates",
                 "/api/v1/transactions/{transaction_id}/reverse", "/api/v1/people/{person_id}/balance"):
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    # Every answer the contract gives is documented, not only each view's success and 422.
    receipts = spec["paths"]["/api/v1/people/{person_id}/receipts"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "409", "415", "422", "503"} <= set(receipts)
    assert receipts["415"] == {"$ref": "#/components/responses/ERROR_415"}
    people = spec["paths"]["/api/v1/people"]["get"]["responses"]
    assert {"200", "401", "403", "503"} <= set(people) and "409" not in people and "404" not in people


@pytest.mark.parametrize("role", ["person", "auditor"])
@pytest.mark.parametrize("index", range(len(WRITES)))
def test_person_and_auditor_can_never_write(api, world, role, index):
    path, body = WRITES[index]
    path = path.format(pid=world["ana"], txn=world["txn"])
    with api.app.app_context():
        before = db.session.scalar(sa.text("SELECT COUNT(*) FROM postings"))
    r = api.call("POST", path, body, token=world["tokens"][role])
    assert r.status_code == 403, r.get_json()
    with api.app.app_context():
        assert db.session.scalar(sa.text("SELECT COUNT(*) FROM postings")) == before


def test_broker_records_people_and_plans_but_not_money_in_or_reversals(api, world):
    broker = world["tokens"]["broker"]
    assert api.call("POST", "/api/v1/people", {"name": "C", "council": " northSHIRE "}, token=broker).status_code == 201
    assert api.call("POST", f"/api/v1/people/{world['ana']}/plans",
                    {"effective_from": "2026-04-01", "annual_budget": "100.00"}, token=broker).status_code == 201
    for path, body in WRITES[1:2] + WRITES[3:]:
        r = api.call("POST", path.format(pid=world["ana"], txn=world["txn"]), body, token=broker)
        assert r.status_code == 403


def test_a_person_sees_only_their_own_fund(api, world):
    me = world["tokens"]["person"]
    assert api.get(f"/api/v1/people/{world['ana']}/balance", token=me)["available"] == "1800.00"
    assert [p["id"] for p in api.get("/api/v1/people", token=me)] == [world["ana"]]
    assert api.call("GET", f"/api/v1/people/{world['bo']}/balance", token=me).status_code == 403
    # Scope comes before existence: an unknown id is 403 too, so ids cannot be probed.
    assert api.call("GET", "/api/v1/people/9999/balance", token=me).status_code == 403
    assert api.call("GET", f"/api/v1/transactions/{world['txn']}", token=me).status_code == 200
    assert api.call("GET", "/api/v1/reconciliation", token=me).status_code == 403


def test_an_auditor_sees_only_the_people_their_council_funds(api, world):
    auditor = world["tokens"]["auditor"]
    assert [p["id"] for p in api.get("/api/v1/people", token=auditor)] == [world["ana"]]
    assert api.call("GET", f"/api/v1/people/{world['ana']}/receipts", token=auditor).status_code == 200
    assert api.call("GET", f"/api/v1/people/{world['bo']}/receipts", token=auditor).status_code == 403
    assert api.call("GET", "/api/v1/people/9999", token=auditor).status_code == 403


def test_finance_gets_404_for_an_unknown_person_before_the_body_is_checked(api, world):
    r = api.call("POST", "/api/v1/people/9999/receipts", {"amount": "bad"})
    assert r.status_code == 404


def test_role_is_checked_before_the_body(api, world):
    r = api.call("POST", f"/api/v1/people/{world['ana']}/receipts", {"amount": "bad"},
                 token=world["tokens"]["auditor"])
    assert r.status_code == 403


def test_users_create_prints_the_token_last_and_stores_only_hashes(api):
    result = api.runner.invoke(args=["users", "create", "--name", "finance-lead", "--role", "finance",
                                     "--password", "correct horse battery staple"])
    assert result.exit_code == 0
    token = result.output.split()[-1]
    assert len(token) >= 40
    with api.app.app_context():
        row = db.session.execute(sa.text(
            "SELECT token_hash, password_hash FROM users WHERE name = 'finance-lead'")).one()
    assert token not in row[0] and row[0] != token
    assert row[1].startswith("$argon2") and "horse" not in row[1]
    assert api.call("GET", "/api/v1/people", token=token).status_code == 200


@pytest.mark.parametrize("args, message", [
    (["--role", "person"], "--person"),
    (["--role", "auditor"], "--council"),
    (["--role", "auditor", "--council", "Nowhere"], "Nowhere"),
    (["--role", "person", "--person", "9999"], "9999"),
    (["--role", "wizard"], "wizard"),
])
def test_users_create_refuses_bad_arguments(api, args, message):
    result = api.runner.invoke(args=["users", "create", "--name", "someone", *args])
    assert result.exit_code != 0
    assert message in result.output


def test_every_response_carries_security_headers(api):
    for r in (api.client.get("/api/v1/openapi.json"), api.client.get("/api/v1/people"),
              api.call("GET", "/api/v1/people")):
        assert "default-src" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_password_may_come_on_standard_input(api):
    result = api.runner.invoke(args=["users", "create", "--name", "lead", "--role", "finance", "--password"],
                               input="s3cret words\n")
    assert result.exit_code == 0, result.output
    assert len(result.output.split()[-1]) >= 40
    with api.app.app_context():
        assert db.session.scalar(sa.text("SELECT password_hash FROM users WHERE name = 'lead'")).startswith("$argon2")


def test_idempotency_keys_belong_to_their_user(api):
    other = api.user("finance", name="second-finance")
    body = {"name": "Ana", "council": "Northshire"}
    assert api.call("POST", "/api/v1/people", body, key="shared-key").status_code == 201
    r = api.call("POST", "/api/v1/people", {"name": "Bo", "council": "Northshire"}, key="shared-key", token=other)
    assert r.status_code == 201 and r.get_json()["name"] == "Bo"
