"""Sending statements: preferences with history, e-mail through a real SMTP server, retries,
a sender killed mid-batch (never twice to one address), the print batch and the log."""
from __future__ import annotations

import hashlib
import io
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from isf_ledger import clock
from isf_ledger.db import db, utcnow
from isf_ledger.reports import sending as dl
from isf_ledger.reports import statements as st

import smtp_server


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 3))


@pytest.fixture
def smtp(app):
    controller, inbox = smtp_server.start(app)
    yield inbox
    controller.stop()


def by_email(api, pid, address, **extra):
    return api.post(f"/api/v1/people/{pid}/statement-delivery", {"method": "email", "email": address, **extra})


def by_post(api, pid, *lines, **extra):
    return api.post(f"/api/v1/people/{pid}/statement-delivery",
                    {"method": "post", "address_lines": list(lines), **extra})


def issue(api, month="2026-10"):
    return api.post(f"/api/v1/statements/{month}/issue", {}, expect=200)


def send(app, month=date(2026, 10, 1), **kw):
    with app.app_context():
        return dl.send_month(db.session, month, dl.SmtpSettings.from_app(app), **kw)


def log(api, month="2026-10"):
    return api.get(f"/api/v1/statements/{month}/deliveries")["deliveries"]


def test_preferences_keep_their_history_and_only_finance_and_brokers_set_them(api, today):
    ana, ben = api.person("Ana"), api.person("Ben")
    first = by_email(api, ana, "ana@example.org")
    assert (first["method"], first["effective_from"], first["name"]) == ("email", "2026-11-03", None)
    broker = api.user("broker")
    later = api.post(f"/api/v1/people/{ana}/statement-delivery",
                     {"method": "email", "email": "sam@example.org", "name": "Sam Rivers",
                      "effective_from": "2026-12-01"}, token=broker)
    own = api.user("person", "--person", str(ana))
    seen = api.get(f"/api/v1/people/{ana}/statement-delivery", token=own)
    assert seen["current"]["email"] == "ana@example.org"  # the later one starts in December
    assert [p["id"] for p in seen["history"]] == [first["id"], later["id"]]
    api.get(f"/api/v1/people/{ben}/statement-delivery", token=own, expect=403)
    api.post(f"/api/v1/people/{ana}/statement-delivery", {"method": "post", "address_lines": ["1 High St"]},
             token=own, expect=403)
    auditor = api.user("auditor", "--council", "Northshire")
    api.get(f"/api/v1/people/{ana}/statement-delivery", token=auditor)
    api.post(f"/api/v1/people/{ana}/statement-delivery", {"method": "email"}, expect=422)
    api.post(f"/api/v1/people/{ana}/statement-delivery", {"method": "post"}, expect=422)
    api.post(f"/api/v1/people/{ana}/statement-delivery", {"method": "fax", "email": "a@b.org"}, expect=422)
    api.post(f"/api/v1/people/{ana}/statement-delivery", {"method": "email", "email": "a@b.org",
                                                          "name": "Sam\r\nBcc: x@evil.example"}, expect=422)
    api.post("/api/v1/people/999999/statement-delivery", {"method": "fax"}, expect=404)
    with api.app.app_context(), pytest.raises(sa.exc.DatabaseError):
        db.session.execute(sa.text("UPDATE statement_delivery_preferences SET email = 'x@y.org'"))
        db.session.commit()


def test_email_through_a_real_smtp_server_with_the_pdf_attached(api, today, smtp):
    ana, ben = api.person("Ana"), api.person("Ben")
    api.plan(ana, effective_from="2026-10-01")
    api.receipt(ana, "2000.00", "2026-10-01")
    by_email(api, ana, "ana@example.org")
    by_email(api, ben, "sam@example.org", name="Sam Rivers")  # Ben's brother reads it for him
    issue(api)
    result = api.runner.invoke(args=["statements", "send", "2026-10"])
    assert result.exit_code == 0, result.output
    assert "2 sent" in result.output
    assert smtp.to() == ["ana@example.org", "sam@example.org"]
    mail = {m["To"].addresses[0].addr_spec: m for m in smtp.messages}
    a, s = mail["ana@example.org"], mail["sam@example.org"]
    assert a["Subject"] == "Your statement for October 2026"
    assert s["Subject"] == "Ben's statement for October 2026" and "Dear Sam Rivers" in s.get_body().get_content()
    [pdf] = [p for p in a.iter_attachments()]
    with api.app.app_context():
        stmt = st.latest(db.session, ana, date(2026, 10, 1))
        assert pdf.get_content() == st.stored_pdf(db.session, stmt)
        key = dl.address_key("email", "ana@example.org")
    assert a["Message-ID"] == f"<statement-{stmt.number}.{key[:16]}@provider.example>"
    assert "1,800.00" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_content())).pages)
    entries = log(api)
    assert [(e["person_id"], e["method"], e["status"], e["attempts"]) for e in entries] == [
        (ana, "email", "sent", 1), (ben, "email", "sent", 1)]
    assert all(e["sent_at"] and e["last_error"] is None for e in entries)
    # Again: nothing more goes.
    assert send(api.app).counts["sent"] == 0
    assert len(smtp.messages) == 2
    api.get("/api/v1/statements/2026-10/deliveries", token=api.user("broker"), expect=403)


def test_a_refusal_is_retried_with_backoff_and_then_accepted(api, today, smtp):
    ana = api.person("Ana")
    by_email(api, ana, "ana@example.org")
    issue(api)
    smtp.refuse = 1
    start = utcnow()
    assert send(api.app, now=start).counts["to retry"] == 1
    [e] = log(api)
    assert (e["status"], e["attempts"]) == ("pending", 1) and e["last_error"].startswith("451")
    assert e["next_attempt_at"] is not None and not smtp.messages
    with api.app.app_context():  # not yet due: nothing happens
        assert dl.send_due(db.session, dl.SmtpSettings.from_app(api.app), now=start).counts["sent"] == 0
        later = start + timedelta(seconds=301)
        assert dl.send_due(db.session, dl.SmtpSettings.from_app(api.app), now=later).counts["sent"] == 1
    [e] = log(api)
    assert (e["status"], e["attempts"], e["last_error"]) == ("sent", 2, None)
    assert smtp.to() == ["ana@example.org"]


def test_a_server_that_never_answers_fails_after_the_last_attempt(api, today, smtp):
    ana = api.person("Ana")
    by_email(api, ana, "ana@example.org")
    issue(api)
    api.app.config.update(ISF_SMTP_PORT=smtp_server.free_port(), ISF_DELIVERY_MAX_ATTEMPTS=2)
    now = utcnow()
    send(api.app, now=now)
    send(api.app, now=now + timedelta(hours=1))
    [e] = log(api)
    assert (e["status"], e["attempts"]) == ("failed", 2) and "Connection" in e["last_error"]


class Killed(BaseException):
    """The sender's process dying: nothing in it gets to handle this."""


def _kill_on(monkeypatch, call: int, *, after_sending: bool):
    real, calls = dl.Mailer.send, {"n": 0}

    def send(self, msg):
        calls["n"] += 1
        if calls["n"] == call:
            if after_sending:
                real(self, msg)
            raise Killed()
        real(self, msg)

    monkeypatch.setattr(dl.Mailer, "send", send)


@pytest.mark.parametrize("after_sending", [False, True], ids=["before-the-hand-over", "after-the-hand-over"])
def test_a_sender_killed_mid_batch_never_sends_twice(api, today, smtp, monkeypatch, after_sending):
    people = [api.person(f"P{i}") for i in range(4)]
    for i, pid in enumerate(people):
        by_email(api, pid, f"p{i}@example.org")
    issue(api)
    _kill_on(monkeypatch, 3, after_sending=after_sending)
    with pytest.raises(Killed):
        send(api.app)
    monkeypatch.undo()
    monkeypatch.setattr(clock, "today", lambda: date(2026, 11, 3))
    assert len(smtp.messages) == (3 if after_sending else 2)
    status = {e["person_id"]: e for e in log(api)}
    # Just claimed: the sender may still be at work, so nobody is asked to check it yet.
    assert status[people[2]]["status"] == "sending" and not status[people[2]]["needs_check"]
    err = api.call("POST", f"/api/v1/statement-deliveries/{status[people[2]]['delivery_id']}/resolve",
                   {"outcome": "resend"})
    assert (err.status_code, err.get_json()["error"]["code"]) == (409, "still_sending")
    with api.app.app_context():  # the sender died eleven minutes ago
        db.session.execute(sa.text("UPDATE statement_deliveries SET claimed_at = :t WHERE status = 'sending'"),
                           {"t": datetime.now(timezone.utc) - timedelta(minutes=11)})
        db.session.commit()
    status = {e["person_id"]: e for e in log(api)}
    assert status[people[2]]["status"] == "sending" and status[people[2]]["needs_check"]

    send(api.app)  # the rerun: the rest go, the one in doubt does not
    expected = [f"p{i}@example.org" for i in range(4)]
    assert smtp.to() == (expected if after_sending else [a for a in expected if a != "p2@example.org"])
    in_doubt = {e["person_id"]: e for e in log(api)}[people[2]]
    assert in_doubt["needs_check"] and in_doubt["attempts"] == 1

    # A person checks the mail server's log for its Message-ID and says what happened.
    outcome = "sent" if after_sending else "resend"
    api.post(f"/api/v1/statement-deliveries/{in_doubt['delivery_id']}/resolve", {"outcome": outcome}, expect=200)
    send(api.app)
    send(api.app)
    assert smtp.to() == expected  # each address exactly once
    assert {e["status"] for e in log(api)} == {"sent"}
    api.post(f"/api/v1/statement-deliveries/{in_doubt['delivery_id']}/resolve", {"outcome": "resend"}, expect=409)


def test_post_goes_into_one_print_batch_with_an_address_sheet_each(api, today, smtp):
    ana, ben, cat = api.person("Ana"), api.person("Ben"), api.person("Cat")
    by_post(api, ana, "Flat 2", "12 Mill Lane", "Eastmere", "EM1 2AB")
    by_post(api, ben, "The Laurels", "Westford", "WF3 9ZZ", name="Mrs June Hale")
    by_email(api, cat, "cat@example.org")
    api.get("/api/v1/statements/2026-10/print-batch", expect=404)
    issue(api)
    result = send(api.app)
    assert (result.counts["sent"], result.counts["printed"]) == (1, 2)
    r = api.call("GET", "/api/v1/statements/2026-10/print-batch")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages]
    sheets = [i for i, text in enumerate(pages) if "Private and confidential" in text]
    assert len(sheets) == 2 and sheets[0] == 0
    assert "12 Mill Lane" in pages[sheets[0]] and "Ana" in pages[sheets[0]]
    assert "Mrs June Hale" in pages[sheets[1]] and "WF3 9ZZ" in pages[sheets[1]]
    with api.app.app_context():
        stored = [st.stored_pdf(db.session, st.latest(db.session, p, date(2026, 10, 1))) for p in (ana, ben)]
    lengths = [len(PdfReader(io.BytesIO(pdf)).pages) for pdf in stored]
    assert len(pages) == 2 + sum(lengths) and sheets[1] == 1 + lengths[0]
    entries = {e["person_id"]: e for e in log(api)}
    assert entries[ana]["method"] == "post" and entries[ana]["status"] == "sent"
    assert entries[ana]["address"].splitlines() == ["Ana", "Flat 2", "12 Mill Lane", "Eastmere", "EM1 2AB"]
    # Sending again prints nothing new; only finance downloads the batch.
    before = hashlib.sha256(r.data).hexdigest()
    assert send(api.app).counts["printed"] == 0
    assert hashlib.sha256(api.call("GET", "/api/v1/statements/2026-10/print-batch").data).hexdigest() == before
    api.get("/api/v1/statements/2026-10/print-batch", token=api.user("broker"), expect=403)
    assert smtp.to() == ["cat@example.org"]


def test_a_statement_without_a_preference_waits_in_the_log(api, today, smtp):
    ana = api.person("Ana")
    issue(api)
    send(api.app)
    [e] = log(api)
    assert (e["person_id"], e["status"], e["method"], e["last_error"]) == (
        ana, "pending", None, "no delivery preference recorded")
    by_email(api, ana, "ana@example.org")
    send(api.app)
    assert [e["status"] for e in log(api)] == ["sent"]
    assert smtp.to() == ["ana@example.org"]


def test_a_kept_connection_the_server_dropped_is_opened_again_and_nothing_is_in_doubt(api, today, smtp, monkeypatch):
    """Issue 21 item 13: on a kept connection, a message whose MAIL FROM failed after the server
    had dropped the connection was marked needs_check, yet it never left."""
    people = [api.person(f"P{i}") for i in range(3)]
    for i, pid in enumerate(people):
        by_email(api, pid, f"p{i}@example.org")
    issue(api)
    real, sent = dl.Mailer.send, []

    def send_then_drop(self, msg):  # after the first message, the server drops the kept connection
        real(self, msg)
        sent.append(msg["To"])
        if len(sent) == 1:
            smtp.drop_at_mail = 1

    monkeypatch.setattr(dl.Mailer, "send", send_then_drop)
    result = send(api.app)
    assert result.counts["sent"] == 3 and result.counts["needs checking"] == 0
    assert smtp.to() == ["p0@example.org", "p1@example.org", "p2@example.org"]
    assert len(smtp.connections) == 2  # the second message went on a new connection
    entries = log(api)
    assert [(e["status"], e["attempts"], e["needs_check"], e["last_error"]) for e in entries] == [
        ("sent", 1, False, None)] * 3


def test_a_connection_lost_after_data_leaves_the_message_in_doubt(api, today, smtp):
    ana, ben = api.person("Ana"), api.person("Ben")
    by_email(api, ana, "ana@example.org")
    by_email(api, ben, "ben@example.org")
    issue(api)
    smtp.drop_in_data = 1  # the first message's data arrives, then the connection goes
    result = send(api.app)
    assert result.counts["needs checking"] == 1 and result.counts["sent"] == 1
    status = {e["person_id"]: e for e in log(api)}
    assert (status[ana]["status"], status[ana]["needs_check"]) == ("sending", True)
    assert "broke while sending" in status[ana]["last_error"]
    assert status[ben]["status"] == "sent"
    assert smtp.to() == ["ben@example.org"]
    send(api.app)  # never sent again by itself
    assert smtp.to() == ["ben@example.org"]


def test_a_server_that_is_gone_when_a_kept_connection_is_used_again_is_retried_later(api, today, smtp, monkeypatch):
    ana, ben = api.person("Ana"), api.person("Ben")
    by_email(api, ana, "ana@example.org")
    by_email(api, ben, "ben@example.org")
    issue(api)
    real, calls = dl.Mailer.send, []

    def send_then_go(self, msg):  # after the first message the server drops it and stops answering
        calls.append(1)
        if len(calls) == 2:
            smtp.drop_at_mail = 1
            api.app.config.update(ISF_SMTP_PORT=smtp_server.free_port())
            self.settings = dl.SmtpSettings.from_app(api.app)
        real(self, msg)

    monkeypatch.setattr(dl.Mailer, "send", send_then_go)
    result = send(api.app)
    assert (result.counts["sent"], result.counts["to retry"], result.counts["needs checking"]) == (1, 1, 0)
    status = {e["person_id"]: e for e in log(api)}
    assert (status[ben]["status"], status[ben]["needs_check"], status[ben]["attempts"]) == ("pending", False, 1)
    assert status[ben]["next_attempt_at"] is not None
