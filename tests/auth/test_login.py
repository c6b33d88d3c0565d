"""Signing in to the web pages: the form, CSRF on every form, the session cookie, the lock after
repeated failures, signing out, `next` kept on this site, and a person's own balance at home."""
import re
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from isf_ledger import create_app
from isf_ledger.db import db
from isf_ledger.pages import views
from isf_ledger.web import SECURITY_HEADERS

WRONG = "The name or password is not right."
PASSWORD = "correct horse battery staple"


def _token(html: str) -> str:
    found = re.findall(r'<input type="hidden" name="csrf_token" value="([^"]+)">', html)
    assert len(found) >= 1, html
    return found[0]


def form_token(client, path="/login") -> str:
    return _token(client.get(path).get_data(as_text=True))


def create(api, name, role="finance", *extra, password=PASSWORD):
    args = ["users", "create", "--name", name, "--role", role, *extra]
    if password is not None:
        args += ["--password", password]
    result = api.runner.invoke(args=args)
    assert result.exit_code == 0, result.output


def sign_in(client, name, password=PASSWORD, **fields):
    return client.post("/login", data={"csrf_token": form_token(client), "name": name, "password": password,
                                       **fields})


def signed_in_as(client) -> str | None:
    r = client.get("/")
    if r.status_code == 302:
        return None
    assert r.status_code == 200
    return re.search(r"You are signed in as <strong>([^<]+)</strong>", r.get_data(as_text=True)).group(1)


def assert_headers(r):
    assert r.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def failures(api) -> int:
    with api.app.app_context():
        return db.session.scalar(sa.text("SELECT count(*) FROM sign_in_failures"))


def test_the_form_has_labels_a_csrf_token_and_the_headers_and_no_inline_code(api):
    r = api.client.get("/login")
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    assert_headers(r)
    html = r.get_data(as_text=True)
    assert '<html lang="en-GB"' in html
    assert re.search(r'<label class="[^"]*" for="name">Name</label>', html)
    assert re.search(r'<label class="[^"]*" for="password">Password</label>', html)
    assert 'autocomplete="current-password"' in html
    assert len(_token(html)) > 20
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all(re.fullmatch(r'<script type="module" src="/assets/[\w.]+"></script>', t + "</script>")
                           for t in scripts), scripts  # only files of this site's, nothing inline
    assert re.findall(r"<script[^>]*>(.*?)</script>", html, re.S) == [""] * len(scripts)
    assert "<style" not in html and "style=" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    with api.client.get("/assets/isf.css") as css:
        assert css.status_code == 200 and css.mimetype == "text/css"
        assert_headers(css)


def test_a_post_without_the_csrf_token_is_refused_and_signs_nobody_in(api):
    create(api, "lead")
    r = api.client.post("/login", data={"name": "lead", "password": PASSWORD})
    assert r.status_code == 400
    assert "The form was not sent from this site or has expired." in r.get_data(as_text=True)
    assert_headers(r)
    assert signed_in_as(api.client) is None
    wrong_token = api.client.post("/login", data={"name": "lead", "password": PASSWORD, "csrf_token": "forged"})
    assert wrong_token.status_code == 400
    assert signed_in_as(api.client) is None


def test_the_right_password_signs_in_with_a_fresh_httponly_lax_cookie(api):
    create(api, "lead")
    before = form_token(api.client)
    r = sign_in(api.client, "lead")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "; HttpOnly" in cookie and "; SameSite=Lax" in cookie and "; Path=/" in cookie
    assert "Secure" not in cookie  # tests run over http; everywhere else it is Secure (below)
    assert signed_in_as(api.client) == "lead"
    home = api.client.get("/").get_data(as_text=True)
    assert "with the role <strong>finance</strong>" in home
    assert '<h1 class="govuk-heading-l">Hello, lead</h1>' in home
    assert _token(home) != before  # the session before signing in was thrown away, its token too


def test_outside_development_the_cookie_is_secure(db_url, monkeypatch):
    monkeypatch.delenv("ISF_ENV", raising=False)
    app = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "a-long-random-key-for-this-test-only-0123"})
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["WTF_CSRF_ENABLED"] is True
        assert app.test_cli_runner().invoke(args=["users", "create", "--name", "lead", "--role", "finance",
                                                  "--password", PASSWORD]).exit_code == 0
        client = app.test_client()
        token = _token(client.get("/login", base_url="https://ledger.example").get_data(as_text=True))
        data = {"csrf_token": token, "name": "lead", "password": PASSWORD}
        # Over HTTPS the form must also come from this site (the Referer; Referrer-Policy same-origin).
        r = client.post("/login", base_url="https://ledger.example", data=data,
                        headers={"Referer": "https://evil.example/login"})
        assert r.status_code == 400
        r = client.post("/login", base_url="https://ledger.example", data=data,
                        headers={"Referer": "https://ledger.example/login"})
        assert r.status_code == 302
        assert "; Secure" in r.headers["Set-Cookie"] and "; HttpOnly" in r.headers["Set-Cookie"]
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(api):
    create(api, "lead")
    create(api, "no-password", password=None)
    answers = []
    for name, password in [("lead", "wrong"), ("nobody", PASSWORD), ("no-password", PASSWORD), ("lead", "")]:
        r = sign_in(api.client, name, password)
        assert r.status_code == 401, name
        assert_headers(r)
        html = r.get_data(as_text=True)
        answers.append(re.search(r'<p class="govuk-error-message" id="sign-in-error"><span class="govuk-visually-hidden">Error:</span> ([^<]+)</p>', html).group(1))
        assert f'value="{name}"' in html  # the form again, the name kept
        assert "Set-Cookie" not in r.headers or "session=;" in r.headers["Set-Cookie"]
    assert answers == [WRONG, WRONG, WRONG, "Enter your name and your password."]
    assert signed_in_as(api.client) is None
    assert failures(api) == 3  # an empty password is not an attempt


def test_a_disabled_user_cannot_sign_in_and_is_signed_out(api):
    create(api, "lead")
    create(api, "leaver")
    other = api.app.test_client()
    assert sign_in(other, "leaver").status_code == 302
    assert signed_in_as(other) == "leaver"
    assert api.runner.invoke(args=["users", "disable", "leaver"]).exit_code == 0
    assert other.get("/").status_code == 302  # the session names a disabled user: signed out
    r = sign_in(api.client, "leaver")
    assert r.status_code == 401 and WRONG in r.get_data(as_text=True)
    assert signed_in_as(api.client) is None


@pytest.fixture
def frozen(monkeypatch):
    """The sign-in clock, set by the test: 13:00 UTC on 27 November 2026 (13:00 in the UK)."""
    now = [datetime(2026, 11, 27, 13, 0, tzinfo=timezone.utc)]
    monkeypatch.setattr(views, "utcnow", lambda: now[0])
    return now


def test_five_failures_lock_the_name_for_fifteen_minutes(api, frozen):
    create(api, "lead")
    create(api, "colleague")
    for minute in range(5):
        frozen[0] = datetime(2026, 11, 27, 13, minute * 2, tzinfo=timezone.utc)
        assert sign_in(api.client, "lead", "guess").status_code == 401
    # The last failure was at 13:08: locked until 13:23, even with the right password.
    frozen[0] = datetime(2026, 11, 27, 13, 10, tzinfo=timezone.utc)
    r = sign_in(api.client, "lead")
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "780"
    assert ("Too many failed attempts to sign in as this name. Try again after 13:23 (UK time)."
            in r.get_data(as_text=True))
    assert signed_in_as(api.client) is None
    assert failures(api) == 5  # refused attempts are not counted again
    assert sign_in(api.client, "colleague").status_code == 302  # other names are not locked
    api.client.post("/logout", data={"csrf_token": form_token(api.client, "/")})
    frozen[0] = datetime(2026, 11, 27, 13, 22, 59, tzinfo=timezone.utc)
    assert sign_in(api.client, "lead").status_code == 429
    frozen[0] = datetime(2026, 11, 27, 13, 23, tzinfo=timezone.utc)
    assert sign_in(api.client, "lead").status_code == 302
    assert signed_in_as(api.client) == "lead"
    with api.app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM sign_in_failures WHERE name = 'lead'")) == 0


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(api, frozen):
    create(api, "lead")
    for minute in (0, 4, 8, 12, 15):
        frozen[0] = datetime(2026, 11, 27, 13, minute, tzinfo=timezone.utc)
        assert sign_in(api.client, "lead", "guess").status_code == 401
    assert sign_in(api.client, "lead").status_code == 302


def test_an_unknown_name_is_locked_the_same_way(api, frozen):
    for _ in range(5):
        assert sign_in(api.client, "nobody", "guess").status_code == 401
    r = sign_in(api.client, "nobody", "guess")
    assert r.status_code == 429
    assert "Try again after 13:15 (UK time)." in r.get_data(as_text=True)


def test_signing_out_needs_the_csrf_token_and_empties_the_session(api):
    create(api, "lead")
    sign_in(api.client, "lead")
    r = api.client.post("/logout")
    assert r.status_code == 400
    assert signed_in_as(api.client) == "lead"
    r = api.client.post("/logout", data={"csrf_token": form_token(api.client, "/")})
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert "session=;" in r.headers["Set-Cookie"]
    assert signed_in_as(api.client) is None


def test_visitors_are_sent_to_sign_in_and_back_only_to_this_site(api):
    create(api, "lead")
    r = api.client.get("/")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/"
    assert_headers(r)
    form = api.client.get("/login?next=/").get_data(as_text=True)
    assert '<input type="hidden" name="next" value="/">' in form
    assert 'name="next"' not in api.client.get("/login?next=//evil.example/").get_data(as_text=True)
    for away in ["//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil.example",
                 "/\t/evil.example", "javascript:alert(1)", "evil.example"]:
        r = sign_in(api.client, "lead", next=away)
        assert (r.status_code, r.headers["Location"]) == (302, "/"), away
        api.client.post("/logout", data={"csrf_token": form_token(api.client, "/")})
    r = sign_in(api.client, "lead", next="/api/v1/openapi.json?x=1")
    assert r.headers["Location"] == "/api/v1/openapi.json?x=1"


def test_a_person_sees_their_own_balance_at_home(api, monkeypatch):
    monkeypatch.setattr(views.clock, "today", lambda: date(2026, 12, 31))
    ana, bo = api.person("Ana"), api.person("Bo")
    for pid in (ana, bo):
        api.plan(pid, contingency_amount="1500.00")
    api.receipt(ana, "2000.00")  # £1,800.00 after the 10% fee
    api.post(f"/api/v1/people/{ana}/contingency/set-aside", {"date": "2026-10-02", "amount": "250.00"})
    api.receipt(bo, "9000.00")
    create(api, "ana", "person", "--person", str(ana))
    sign_in(api.client, "ana")
    r = api.client.get("/")
    assert r.status_code == 200
    assert_headers(r)
    html = r.get_data(as_text=True)
    assert "with the role <strong>person</strong>" in html
    assert '<h1 class="govuk-heading-xl">Your money</h1>' in html
    assert '<p class="isf-big-figure" id="left-now">£1,550.00</p>' in html
    assert '<p class="govuk-body" id="kept-aside">£250.00 is kept to one side in case you need more help.</p>' in html
    assert "8,100.00" not in html  # Bo's
    # A read by a person goes to the audit log, on the pages as in the API; so does each sign-in.
    with api.app.app_context():
        logged = [tuple(r) for r in db.session.execute(sa.text(
            "SELECT user_name, role, method, path, status FROM audit_log WHERE path NOT LIKE '/api/%' ORDER BY id"))]
    assert logged[-2:] == [("ana", "person", "POST", "/login", 302), ("ana", "person", "GET", "/", 200)]


def test_a_user_made_with_a_password_on_standard_input_can_sign_in(api):
    pid = api.person("Ana")
    result = api.runner.invoke(args=["users", "create", "--name", "X", "--role", "person", "--person", str(pid),
                                     "--password"], input="a phrase read from stdin\n")
    assert result.exit_code == 0, result.output
    assert sign_in(api.client, "X", "a phrase read from stdin").status_code == 302
    assert signed_in_as(api.client) == "X"
    home = api.client.get("/").get_data(as_text=True)
    assert '<p class="isf-big-figure" id="left-now">£0.00</p>' in home


def test_the_api_needs_no_csrf_token(api):
    pid = api.person("Ana")
    assert api.post(f"/api/v1/people/{pid}/plans", {"effective_from": "2026-04-01", "annual_budget": "100.00"})


def test_forty_parallel_wrong_passwords_for_one_name_check_only_five(api, monkeypatch):
    """Issue 21 item 10: 40 parallel wrong passwords for one name got 13 password checks. Each
    attempt is counted before its password is checked, so at most MAX_FAILURES are checked."""
    import threading

    from isf_ledger.pages import signin
    create(api, "lead")
    checks, counting = [], threading.Lock()
    real = signin.password_matches

    def counted(password_hash, password):
        with counting:
            checks.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(signin, "password_matches", counted)
    clients = [api.app.test_client() for _ in range(40)]
    tokens = [form_token(c) for c in clients]
    start, answers = threading.Barrier(len(clients)), [None] * len(clients)

    def attempt(i):
        start.wait()
        r = clients[i].post("/login", data={"csrf_token": tokens[i], "name": "lead", "password": f"guess {i}"})
        answers[i] = r.status_code

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(answers) == [401] * 5 + [429] * 35
    assert len(checks) == 5
    assert failures(api) == 5
    assert sign_in(api.client, "lead").status_code == 429  # locked, even with the right password


def _copy_of_session(api, client):
    """Another browser holding a copy of `client`'s session cookie (taken before signing out)."""
    thief = api.app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_signing_out_ends_every_session_of_the_user_at_once(api):
    create(api, "lead")
    create(api, "colleague")
    laptop, phone, other = api.client, api.app.test_client(), api.app.test_client()
    for client, name in ((laptop, "lead"), (phone, "lead"), (other, "colleague")):
        assert sign_in(client, name).status_code == 302
    copied = _copy_of_session(api, laptop)
    assert signed_in_as(copied) == "lead"
    r = laptop.post("/logout", data={"csrf_token": form_token(laptop, "/")})
    assert r.status_code == 302
    assert copied.get("/").status_code == 302  # the cookie taken before signing out loads nothing
    assert signed_in_as(phone) is None  # nor does the other device's session
    assert signed_in_as(other) == "colleague"  # another user stays signed in
    # Signing in again works, and the log names who signed out.
    assert sign_in(laptop, "lead").status_code == 302 and signed_in_as(laptop) == "lead"
    with api.app.app_context():
        logged = [tuple(r) for r in db.session.execute(sa.text(
            "SELECT user_name, method, path, status FROM audit_log WHERE path = '/logout'"))]
    assert logged == [("lead", "POST", "/logout", 302)]


@pytest.mark.parametrize("command", [["users", "disable", "lead"], ["users", "token", "lead"]])
def test_disabling_a_user_or_a_new_token_signs_them_out_everywhere(api, command):
    create(api, "lead")
    assert sign_in(api.client, "lead").status_code == 302
    copied = _copy_of_session(api, api.client)
    result = api.runner.invoke(args=command)
    assert result.exit_code == 0, result.output
    assert "signed out of the web pages" in result.output
    assert api.client.get("/").status_code == 302
    assert copied.get("/").status_code == 302


@pytest.mark.parametrize("password, message", [
    ("short words", "a password must be at least 12 characters long (this one has 11)"),
    ("Password1234", "this password is on a list of common passwords"),
    ("qwerty123456", "this password is on a list of common passwords"),
    ("1q2w3e4r5t6y", "this password is on a list of common passwords"),
])
def test_short_or_common_passwords_are_refused_and_no_user_is_made(api, password, message):
    result = api.runner.invoke(args=["users", "create", "--name", "lead", "--role", "finance",
                                     "--password", password])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "lead" not in api.runner.invoke(args=["users", "list"]).output
    piped = api.runner.invoke(args=["users", "create", "--name", "lead", "--role", "finance", "--password"],
                              input=password + "\n")
    assert piped.exit_code == 2 and message in piped.output
    # Length, not composition: twelve lower-case letters and spaces are fine.
    ok = api.runner.invoke(args=["users", "create", "--name", "lead", "--role", "finance",
                                 "--password", "plum kettle rain"])
    assert ok.exit_code == 0, ok.output
    assert sign_in(api.client, "lead", "plum kettle rain").status_code == 302


@pytest.mark.parametrize("name", ["lead\x00", "\x00", "le\x00ad", "lead\nBcc", "lead\x7f", "le\x85ad"])
def test_a_control_character_in_the_name_is_a_form_error(api, name):
    """Issue 21 item 11: a NUL in the sign-in name was a 500 on PostgreSQL."""
    create(api, "lead")
    r = sign_in(api.client, name)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "A name has no control characters (such as NUL or a line break)" in html
    assert '<p class="govuk-error-message" id="sign-in-error">' in html
    assert failures(api) == 0
    assert signed_in_as(api.client) is None
