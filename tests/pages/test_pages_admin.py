"""Admins' pages through the Flask client, on both engines: users listed, created (role, linked
person or council, password) with the token shown once, refused beside the field with what was
typed kept and nothing written, and disabled, which signs them out."""
from __future__ import annotations

import sqlalchemy as sa

import pages_book
from isf_ledger.db import db
from test_pages_finance import book, form_fields  # noqa: F401 - the fixture
from pages_book import sign_in, text
def users_named(api, name: str) -> int:
    with api.app.app_context():
        return db.session.scalar(sa.text("SELECT count(*) FROM users WHERE name = :n"), {"n": name})


def test_an_admin_creates_a_user_who_signs_in_and_disables_another_who_is_signed_out(api, book):
    pages_book.user(api, "root", "--role", "admin")
    pages_book.user(api, "leaver", "--role", "broker")
    admin = sign_in(api.app.test_client(), "root")
    leaver = sign_in(api.app.test_client(), "leaver")
    assert leaver.get("/").status_code == 200
    home = admin.get("/").get_data(as_text=True)
    assert 'href="/admin/users"' in home
    html = admin.get("/admin/users").get_data(as_text=True)
    assert "leaver broker" in text(html)
    fields = form_fields(html, "/admin/users")
    # Refused: a person's user with an id that names nobody; what was typed is kept, nothing written.
    refused = admin.post("/admin/users", data={**fields, "name": "Zoë Ng", "role": "person", "person_id": "99999",
                                               "password": pages_book.PASSWORD}).get_data(as_text=True)
    assert 'id="person_id-error"' in refused and "No person with id 99999" in refused
    assert 'value="Zoë Ng"' in refused and pages_book.PASSWORD not in refused and users_named(api, "Zoë Ng") == 0
    short = admin.post("/admin/users", data={**fields, "name": "Zoë Ng", "role": "finance", "password": "short"})
    assert 'id="password-error"' in short.get_data(as_text=True) and users_named(api, "Zoë Ng") == 0
    data = {**fields, "name": "Zoë Ng", "role": "person", "person_id": str(book.ana), "password": pages_book.PASSWORD}
    r1, r2 = admin.post("/admin/users", data=data), admin.post("/admin/users", data=data)
    assert r1.status_code == r2.status_code == 303 and users_named(api, "Zoë Ng") == 1
    shown = admin.get(r1.headers["Location"]).get_data(as_text=True)
    assert 'id="new-token"' in shown
    assert 'id="new-token"' not in admin.get(r1.headers["Location"]).get_data(as_text=True)  # shown once
    zoe = sign_in(api.app.test_client(), "Zoë Ng")
    assert "Your money" in zoe.get("/").get_data(as_text=True)

    with api.app.app_context():
        leaver_id = db.session.scalar(sa.text("SELECT id FROM users WHERE name = 'leaver'"))
    # The list links to a check page, which names them and disables nobody.
    page = admin.get("/admin/users").get_data(as_text=True)
    assert f'href="/admin/users/{leaver_id}/disable"' in page and "/admin/users/disable" not in page
    check = admin.get(f"/admin/users/{leaver_id}/disable")
    html = check.get_data(as_text=True)
    assert check.status_code == 200 and html.count("<h1") == 1 and "<title>Disable leaver? – " in html
    assert "Disable leaver? They will be signed out at once." in text(html)
    assert leaver.get("/").status_code == 200 and active(api, "leaver")
    epoch = session_epoch(api, "leaver")
    # Its button disables them, once: the same form sent twice goes to the same page.
    fields = form_fields(html, f"/admin/users/{leaver_id}/disable")
    r1 = admin.post(f"/admin/users/{leaver_id}/disable", data=fields)
    r2 = admin.post(f"/admin/users/{leaver_id}/disable", data=fields)
    assert r1.status_code == r2.status_code == 303 and r1.headers["Location"] == r2.headers["Location"]
    assert "leaver is disabled and signed out." in text(admin.get(r1.headers["Location"]).get_data(as_text=True))
    assert "leaver broker Disabled" in text(admin.get("/admin/users").get_data(as_text=True))
    assert not active(api, "leaver") and session_epoch(api, "leaver") == epoch + 1  # disabled once
    assert leaver.get("/").status_code == 302  # signed out: back to the sign-in form
    # Again from a fresh form: said to be disabled already, nothing written.
    again = admin.get(f"/admin/users/{leaver_id}/disable").get_data(as_text=True)
    assert "leaver is disabled already." in text(again) and "Yes, disable" not in again


def test_an_admin_cannot_disable_themself_or_nobody(api, book):
    pages_book.user(api, "root", "--role", "admin")
    admin = sign_in(api.app.test_client(), "root")
    with api.app.app_context():
        root_id = db.session.scalar(sa.text("SELECT id FROM users WHERE name = 'root'"))
    page = admin.get(f"/admin/users/{root_id}/disable").get_data(as_text=True)
    assert "You cannot disable yourself." in text(page) and "Yes, disable" not in page
    fields = form_fields(admin.get("/admin/users").get_data(as_text=True), "/admin/users")
    refused = admin.post(f"/admin/users/{root_id}/disable", data={"csrf_token": fields["csrf_token"],
                                                                  "idempotency_key": "k1"})
    assert refused.status_code == 422 and "You cannot disable yourself: ask another admin" in text(
        refused.get_data(as_text=True))
    assert active(api, "root") and admin.get("/").status_code == 200
    assert admin.get("/admin/users/99999/disable").status_code == 404
    assert admin.get(f"/admin/users/{2**40}/disable").status_code == 404


def active(api, name: str) -> bool:
    with api.app.app_context():
        return db.session.scalar(sa.text("SELECT active FROM users WHERE name = :n"), {"n": name})


def session_epoch(api, name: str) -> int:
    with api.app.app_context():
        return db.session.scalar(sa.text("SELECT session_epoch FROM users WHERE name = :n"), {"n": name})


def test_only_admins_see_the_users(api, book):
    pages_book.user(api, "fin", "--role", "finance")
    assert sign_in(api.app.test_client(), "fin").get("/admin/users").status_code == 403
