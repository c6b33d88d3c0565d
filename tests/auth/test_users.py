"""Managing users from the command line: list, disable, and a new token that retires the old."""


def run(api, *args):
    result = api.runner.invoke(args=["users", *args])
    return result.exit_code, result.output


def test_users_list_shows_role_link_and_state(api):
    pid = api.person("Ana", council="Northshire")
    api.user("person", "--person", str(pid), name="ana")
    api.user("auditor", "--council", "northshire", name="reviewer")
    code, out = run(api, "list")
    assert code == 0
    lines = {line.split()[1]: line for line in out.splitlines()}
    assert "finance" in lines["finance-1"] and "active" in lines["finance-1"]
    assert f"person {pid}" in lines["ana"]
    assert "council 'Northshire'" in lines["reviewer"]


def test_a_disabled_user_can_no_longer_use_their_token(api):
    token = api.user("broker", name="bo")
    assert api.call("GET", "/api/v1/people", token=token).status_code == 200
    code, out = run(api, "disable", "bo")
    assert code == 0 and "disabled" in out
    assert api.call("GET", "/api/v1/people", token=token).status_code == 401
    assert "DISABLED" in run(api, "list")[1]


def test_a_new_token_replaces_the_old_one(api):
    old = api.user("finance", name="lead")
    code, out = run(api, "token", "lead")
    assert code == 0
    new = out.split()[-1]
    assert new != old
    assert api.call("GET", "/api/v1/people", token=old).status_code == 401
    assert api.call("GET", "/api/v1/people", token=new).status_code == 200


def test_unknown_user_names_are_refused_clearly(api):
    for cmd in ("disable", "token"):
        code, out = run(api, cmd, "nobody")
        assert code == 2 and "no user named 'nobody'" in out
