"""Sending issued statements: by e-mail (the PDF attached) or by post (one print batch a month).

Each statement to each address is one row in `statement_deliveries`, made before anything is
sent. Sending is AT MOST ONCE: a row is claimed (status `sending`, attempts + 1, committed) by
one compare-and-set before the message leaves, and marked `sent` after the server accepted it.
A row still `sending` longer than SENDING_WINDOW after its claim (`claimed_at`), or one whose
send ended in an ambiguous error, was left by a sender that died or lost the connection between
the two: the message may or may not have gone. It is never resent automatically; the log shows
it with `needs_check` and a person decides (the mail server's log can be searched for its Message-ID,
which is made from the statement number and the address, so it is the same on every try).
Why at most once: a second copy of a money letter worries people, and "never sent twice to the
same address" is a promise; a missing one is visible in the log and cheap to send by hand.

A failure the server reported (a 4xx answer, a refused connection) is certain not to have been
delivered: it is retried with backoff (`next_attempt_at`) up to ISF_DELIVERY_MAX_ATTEMPTS, a 5xx
answer fails at once. Post is atomic: the month's batch PDF and the rows' `sent` are one commit.
"""
from __future__ import annotations

import hashlib
import io
import smtplib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Callable

import sqlalchemy as sa

from .. import clock
from ..ledger.post import refuse_closed_fund
from ..models import Person
from ..db import utcnow
from ..errors import Conflict, NotFound
from ..locks import lock_key
from . import statements as st
from ..models.statements import DeliveryPreference, PrintBatch, Statement, StatementDelivery
from ..config import setting
from ..work import commit_step, end_reads

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
# How long a live sender may hold a claimed row: one message is a handful of SMTP exchanges,
# each bounded by the socket timeout (30 s by default). Until then a `sending` row may simply be
# on its way, so it is neither flagged for a check nor open to being resolved.
SENDING_WINDOW = timedelta(minutes=10)


# --- Settings and the mail server --------------------------------------------------------------

@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = "statements@localhost"
    starttls: bool = False
    timeout: float = 30.0
    max_attempts: int = 6
    retry_seconds: int = 300  # the first wait; each further failure doubles it, up to 6 hours

    @classmethod
    def from_app(cls, app) -> "SmtpSettings":
        port = int(setting(app, "ISF_SMTP_PORT", 25))
        tls = setting(app, "ISF_SMTP_STARTTLS", None)
        return cls(host=setting(app, "ISF_SMTP_HOST", "localhost"), port=port,
                   user=setting(app, "ISF_SMTP_USER") or None, password=setting(app, "ISF_SMTP_PASSWORD") or None,
                   sender=setting(app, "ISF_SMTP_FROM", "statements@localhost"),
                   starttls=(port == 587) if tls is None else str(tls).lower() in ("1", "true", "yes", "on"),
                   max_attempts=int(setting(app, "ISF_DELIVERY_MAX_ATTEMPTS", 6)),
                   retry_seconds=int(setting(app, "ISF_DELIVERY_RETRY_SECONDS", 300)))


class Ambiguous(Exception):
    """The connection failed once the message was being handed over (DATA sent): it may have
    been accepted."""


class _Connection(smtplib.SMTP):
    """An SMTP connection that remembers whether the current message got as far as DATA: before
    it the server cannot have accepted anything, so a broken connection means "not sent"."""

    handing_over = False

    def data(self, msg):
        self.handing_over = True
        return super().data(msg)


class Mailer:
    """One SMTP connection for a batch, opened when first needed and again after a failure.

    A kept connection may have been dropped by the server since the last message (an idle
    timeout, a restart): that shows only when the next message's MAIL FROM or RCPT TO fails. As
    nothing was handed over, the message is sent again at once on a new connection; only a
    connection lost after DATA was sent leaves a message in doubt (Ambiguous)."""

    def __init__(self, settings: SmtpSettings):
        self.settings, self.conn = settings, None

    def _open(self) -> _Connection:
        s = self.settings
        conn = _Connection(s.host, s.port, timeout=s.timeout)
        try:
            if s.starttls:
                conn.starttls()
            if s.user:
                conn.login(s.user, s.password or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def send(self, msg: EmailMessage) -> None:
        """Raises an SMTP error or OSError when the message certainly was not sent (the server
        refused it, or no connection could be had), Ambiguous when the connection broke during
        the hand-over."""
        kept = self.conn is not None
        try:
            self._send(msg)
        except smtplib.SMTPResponseException as e:
            # 421 before DATA: the server is closing the kept connection; nothing was handed over.
            if not (kept and e.smtp_code == 421 and not isinstance(e, smtplib.SMTPDataError)):
                raise
            self._send(msg)
        except smtplib.SMTPRecipientsRefused:
            raise
        except (smtplib.SMTPServerDisconnected, OSError):  # SMTPException is an OSError too
            if not kept:
                raise
            # The kept connection had gone before this message got to DATA: a new one, once.
            self._send(msg)

    def _send(self, msg: EmailMessage) -> None:
        if self.conn is None:
            self.conn = self._open()  # failing here, nothing was sent
        self.conn.handing_over = False
        try:
            self.conn.send_message(msg)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            self.close()
            raise
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            handing_over = self.conn.handing_over
            self.close()
            if handing_over:
                raise Ambiguous(f"the connection to the mail server broke while sending: {e}") from e
            raise

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (smtplib.SMTPException, OSError):
                self.conn.close()
            self.conn = None


# --- Preferences -----------------------------------------------------------------------------

def set_preference(session, person_id: int, data: dict, user_id: int | None = None) -> DeliveryPreference:
    """A new preference from `effective_from` (default today); the earlier ones stay as history."""
    refuse_closed_fund(session, person_id)
    pref = DeliveryPreference(person_id=person_id, effective_from=data.get("effective_from") or clock.today(),
                              method=data["method"], email=data.get("email") if data["method"] == "email" else None,
                              name=data.get("name"), address_lines=data.get("address_lines") or None,
                              created_by=user_id)
    session.add(pref)
    session.flush()
    return pref


def preferences_on(session, person_ids: list[int], day: date) -> dict[int, DeliveryPreference]:
    """Each person's preference in force on `day`: the latest from on or before it."""
    out: dict[int, DeliveryPreference] = {}
    q = (sa.select(DeliveryPreference).where(DeliveryPreference.person_id.in_(person_ids),
                                              DeliveryPreference.effective_from <= day)
         .order_by(DeliveryPreference.person_id, DeliveryPreference.effective_from, DeliveryPreference.id))
    for pref in session.scalars(q):
        out[pref.person_id] = pref  # later rows win
    return out


def preference_json(pref: DeliveryPreference) -> dict:
    return {"id": pref.id, "person_id": pref.person_id, "effective_from": pref.effective_from.isoformat(),
            "method": pref.method, "email": pref.email, "name": pref.name, "address_lines": pref.address_lines or [],
            "created_at": pref.created_at.isoformat()}


def recipient_name(pref: DeliveryPreference, person: Person) -> str:
    return pref.name or person.name


def address_of(pref: DeliveryPreference, person: Person) -> str:
    if pref.method == "email":
        return pref.email.strip()
    return "\n".join([recipient_name(pref, person), *pref.address_lines])


def address_key(method: str, address: str) -> str:
    """The same address written differently (case of an e-mail, spacing) is the same address."""
    norm = address.strip().lower() if method == "email" else " ".join(address.lower().split())
    return hashlib.sha256(f"{method}:{norm}".encode()).hexdigest()


def message_id(number: int, key: str, sender: str) -> str:
    """The same on every attempt, so a mail server's log answers "did statement N reach X?"."""
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "isf-ledger.invalid"
    return f"<statement-{number}.{key[:16]}@{domain}>"


# --- Planning the month's deliveries -----------------------------------------------------------

def _latest_statements(session, first: date) -> list[Statement]:
    """The latest version of each person's statement for the month (a correction replaces the
    statement and is sent as well; one sent already stays sent)."""
    newest = (sa.select(Statement.person_id, sa.func.max(Statement.version).label("v"))
              .where(Statement.month == first).group_by(Statement.person_id).subquery())
    return list(session.scalars(sa.select(Statement).join(newest, sa.and_(
        newest.c.person_id == Statement.person_id, newest.c.v == Statement.version))
        .where(Statement.month == first).order_by(Statement.number)))


def plan_month(session, first: date, sender: str) -> int:
    """A pending row for each latest statement of the month and its person's address today, if
    none yet. Returns how many rows were added."""
    lock_key(session, f"statements:deliveries:{first:%Y-%m}")  # SQLite: BEGIN IMMEDIATE serialises
    stmts = _latest_statements(session, first)
    if not stmts:
        commit_step(session)  # a step of its own: the month's lock is let go before any mail is sent
        return 0
    person_ids = [s.person_id for s in stmts]
    prefs = preferences_on(session, person_ids, clock.today())
    people = {p.id: p for p in session.scalars(sa.select(Person).where(Person.id.in_(person_ids)))}
    have = set(session.execute(sa.select(StatementDelivery.statement_id, StatementDelivery.address_key)
                               .where(StatementDelivery.month == first)).all())
    rows = []
    for s in stmts:
        pref = prefs.get(s.person_id)
        if pref is None:
            continue
        address = address_of(pref, people[s.person_id])
        key = address_key(pref.method, address)
        if (s.id, key) in have:
            continue
        rows.append({"statement_id": s.id, "month": first, "preference_id": pref.id, "method": pref.method,
                     "address": address, "address_key": key, "status": PENDING, "attempts": 0,
                     "message_id": message_id(s.number, key, sender) if pref.method == "email" else None,
                     "created_at": utcnow()})
    if rows:
        session.execute(sa.insert(StatementDelivery), rows)
    commit_step(session)  # a step of its own: the rows exist before anything is sent, so a rerun finds them
    return len(rows)


# --- Sending --------------------------------------------------------------------------------

@dataclass
class Sent:
    counts: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        return ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items()) if n) or "nothing to send"


def _due(now: datetime):
    return sa.or_(StatementDelivery.next_attempt_at.is_(None), StatementDelivery.next_attempt_at <= now)


def _claim(session, row_id: int, now: datetime) -> bool:
    """Compare-and-set pending -> sending, committed before the message leaves: of two senders
    (two schedulers, a rerun) exactly one gets each row."""
    claimed = session.execute(sa.update(StatementDelivery).where(
        StatementDelivery.id == row_id, StatementDelivery.status == PENDING, _due(now))
        .values(status=SENDING, attempts=StatementDelivery.attempts + 1, last_error=None,
                claimed_at=utcnow())).rowcount
    commit_step(session)  # the claim is kept before the message leaves: of two senders one gets the row
    return claimed == 1


def _finish(session, row_id: int, **values) -> None:
    session.execute(sa.update(StatementDelivery).where(StatementDelivery.id == row_id).values(**values))
    commit_step(session)  # each row's outcome is kept as it is known, whatever happens to the next


def month_label(first: date) -> str:
    return first.strftime("%B %Y")


def build_email(stmt: Statement, row: StatementDelivery, person: Person, pref: DeliveryPreference,
                pdf: bytes, sender: str) -> EmailMessage:
    to_name = recipient_name(pref, person)
    whose = "your" if to_name == person.name else f"{person.name}'s"
    msg = EmailMessage()
    msg["Subject"] = f"{whose.capitalize()} statement for {month_label(stmt.month)}"
    msg["From"] = sender
    msg["To"] = Address(display_name=to_name, addr_spec=row.address)
    msg["Message-ID"] = row.message_id
    msg["Date"] = format_datetime(utcnow())
    correction = (f"This statement replaces one we sent before. We changed it because: {stmt.reason}\n\n"
                  if stmt.replaces_id else "")
    msg.set_content(
        f"Dear {to_name},\n\n"
        f"Here is {whose} statement for {month_label(stmt.month)}. It is in the PDF file with this e-mail.\n\n"
        f"{correction}"
        "It shows the money that came in, what it paid for, and what is left.\n\n"
        "If something looks wrong, or you would like it on paper or in large print, reply to this\n"
        "e-mail or give us a ring. We are happy to go through it with you.\n\n"
        f"Statement number {stmt.number}.\n")
    msg.add_attachment(pdf, maintype="application", subtype="pdf",
                       filename=f"statement-{stmt.month:%Y-%m}-{stmt.number}.pdf")
    return msg


def _backoff(settings: SmtpSettings, attempts: int) -> timedelta:
    return timedelta(seconds=min(settings.retry_seconds * 2 ** max(0, attempts - 1), 6 * 3600))


def _send_rows(session, rows: list[StatementDelivery], settings: SmtpSettings, now: datetime, result: Sent,
               progress: Callable[[int], None] | None) -> None:
    mailer = Mailer(settings)
    try:
        for row in rows:
            _send_one(session, row, mailer, settings, now, result)
            if progress is not None:
                progress(1)
    finally:
        mailer.close()


def _send_one(session, row: StatementDelivery, mailer: Mailer, settings: SmtpSettings, now: datetime,
              result: Sent) -> None:
    row_id = row.id
    try:
        stmt = session.get(Statement, row.statement_id)
        msg = build_email(stmt, row, session.get(Person, stmt.person_id), session.get(DeliveryPreference, row.preference_id),
                          st.stored_pdf(session, stmt), settings.sender)
    except (Conflict, ValueError) as e:  # the stored PDF does not match its hash, or a bad header: never send it
        end_reads(session)
        _finish(session, row_id, status=FAILED, last_error=str(getattr(e, "message", e))[:1000])
        result.counts[FAILED] += 1
        return
    if not _claim(session, row_id, now):
        result.counts["taken by another sender"] += 1
        return
    attempts = session.scalar(sa.select(StatementDelivery.attempts).where(StatementDelivery.id == row_id))
    try:
        mailer.send(msg)
    except Ambiguous as e:
        _finish(session, row_id, last_error=str(e)[:1000])  # stays `sending`: a person checks
        result.counts["needs checking"] += 1
        return
    except smtplib.SMTPResponseException as e:
        error, permanent = f"{e.smtp_code} {e.smtp_error.decode(errors='replace') if isinstance(e.smtp_error, bytes) else e.smtp_error}", e.smtp_code >= 500
    except smtplib.SMTPRecipientsRefused as e:
        codes = [c for c, _ in e.recipients.values()]
        error, permanent = f"recipient refused: {e.recipients}", all(c >= 500 for c in codes)
    except (smtplib.SMTPException, OSError) as e:  # before the hand-over (connecting, TLS, login)
        error, permanent = f"{type(e).__name__}: {e}", False
    else:
        _finish(session, row_id, status=SENT, sent_at=utcnow(), next_attempt_at=None)
        result.counts[SENT] += 1
        return
    if permanent or attempts >= settings.max_attempts:
        _finish(session, row_id, status=FAILED, last_error=error[:1000], next_attempt_at=None)
        result.counts[FAILED] += 1
    else:
        _finish(session, row_id, status=PENDING, last_error=error[:1000],
                next_attempt_at=now + _backoff(settings, attempts))
        result.counts["to retry"] += 1


def _due_email_rows(session, now: datetime, first: date | None = None) -> list[StatementDelivery]:
    q = (sa.select(StatementDelivery).where(StatementDelivery.method == "email", StatementDelivery.status == PENDING,
                                             _due(now)).order_by(StatementDelivery.id))
    if first is not None:
        q = q.where(StatementDelivery.month == first)
    rows = list(session.scalars(q))
    commit_step(session)  # nothing held while mail goes out
    return rows


def send_month(session, first: date, settings: SmtpSettings, *, now: datetime | None = None,
               progress: Callable[[int], None] | None = None, on_total: Callable[[int], None] | None = None) -> Sent:
    """Send the month's statements: rows for new statements and addresses, every e-mail due,
    then the month's print batch. Safe to run again at any time and from two processes."""
    now = now or utcnow()
    plan_month(session, first, settings.sender)
    rows = _due_email_rows(session, now, first)
    if on_total is not None:
        on_total(len(rows))
    result = Sent()
    _send_rows(session, rows, settings, now, result, progress)
    result.counts["printed"] += build_print_batch(session, first)
    return result


def send_due(session, settings: SmtpSettings, *, now: datetime | None = None) -> Sent:
    """Retries whose time has come, any month (the scheduler runs this every few minutes)."""
    now = now or utcnow()
    result = Sent()
    _send_rows(session, _due_email_rows(session, now), settings, now, result, None)
    return result


def needs_check(row: StatementDelivery, now: datetime | None = None) -> bool:
    """Left `sending` by a sender that died or lost the connection mid-send (see the module's
    docstring), rather than one still at work."""
    if row.status != SENDING:
        return False
    if row.last_error is not None or row.claimed_at is None:
        return True
    return (now or utcnow()) - row.claimed_at > SENDING_WINDOW


def resolve(session, delivery_id: int, outcome: str) -> StatementDelivery:
    """A person checked an ambiguous `sending` row: `sent` (it arrived) or `resend` (it did not)."""
    row = session.get(StatementDelivery, delivery_id)
    if row is None:
        raise NotFound(f"no statement delivery with id {delivery_id}")
    if row.status != SENDING:
        raise Conflict(f"delivery {delivery_id} is {row.status}, not waiting for a check", code="not_ambiguous")
    if not needs_check(row):
        raise Conflict(f"delivery {delivery_id} was claimed by a sender at {row.claimed_at.isoformat()} and may "
                       f"still be on its way; check it if it is still sending after "
                       f"{(row.claimed_at + SENDING_WINDOW).isoformat()}", code="still_sending")
    if outcome == "sent":
        row.status, row.sent_at = SENT, utcnow()
    else:
        row.status, row.next_attempt_at = PENDING, None
    session.flush()
    return row


# --- Post: the month's print batch ---------------------------------------------------------------

def address_sheet(address: str, stmt: Statement) -> bytes:
    """A page to fold into a window envelope: the address, and which statement follows (tagged,
    any name written as it is)."""
    from ..provider import current
    from .pdfdoc import Doc

    pdf = Doc(f"Address sheet for statement {stmt.number}", author=current().name,
              subject=f"Statement {stmt.number}: {month_label(stmt.month)}", created=stmt.issued_at)
    pdf.add_page()
    with pdf.marked(pdf.elem("P")):
        pdf.text(20, 44, "Private and confidential", "", 10)
    lines = address.splitlines()
    block = pdf.elem("P")
    if pdf.lacks(address):
        block.actual = "\n".join(lines)
    with pdf.marked(block):
        pdf.text(20, 55, "\n".join(lines), "", 12, 7)
    with pdf.marked(pdf.elem("P")):
        pdf.text(20, 125, f"Statement {stmt.number}: {month_label(stmt.month)}", "", 12)
    return pdf.output()


def build_print_batch(session, first: date) -> int:
    """Add the month's pending postal letters to its print batch: the batch is rebuilt whole, in
    statement order, and stored with the rows marked `sent` in one commit. Returns how many
    letters were new."""
    from ..provider import current
    from .pdfdoc import merge

    lock_key(session, f"statements:print:{first:%Y-%m}")
    rows = list(session.scalars(sa.select(StatementDelivery).join(Statement, Statement.id == StatementDelivery.statement_id)
                                .where(StatementDelivery.month == first, StatementDelivery.method == "post",
                                       StatementDelivery.status.in_((PENDING, SENT)))
                                .order_by(Statement.number, StatementDelivery.id)))
    new = [r.id for r in rows if r.status == PENDING]
    if not new:
        commit_step(session)  # a step of its own: the print batch's lock is let go
        return 0
    parts = []
    for row in rows:
        stmt = session.get(Statement, row.statement_id)
        parts += [address_sheet(row.address, stmt), st.stored_pdf(session, stmt)]
    now = utcnow()
    pdf = merge(parts, title=f"Statements to post for {month_label(first)}", author=current().name,
                subject=f"{len(rows)} letter(s), each an address sheet and its statement", created=now)
    batch = session.get(PrintBatch, first)
    if batch is None:
        session.add(PrintBatch(month=first, pdf=pdf, letters=len(rows), built_at=now))
    else:
        batch.pdf, batch.letters, batch.built_at = pdf, len(rows), now
    session.execute(sa.update(StatementDelivery).where(StatementDelivery.id.in_(new))
                    .values(status=SENT, attempts=StatementDelivery.attempts + 1, sent_at=utcnow()))
    commit_step(session)  # the batch and its rows' `sent` are one step, kept together
    return len(new)


def print_batch(session, first: date) -> PrintBatch | None:
    return session.get(PrintBatch, first)


# --- The log --------------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_log(session, first: date) -> list[dict]:
    """Each of the month's statements and where it went: one entry per address tried, or one
    saying why nothing was sent yet."""
    stmts = _latest_statements(session, first)
    rows = defaultdict_list(session.scalars(sa.select(StatementDelivery).where(StatementDelivery.month == first)
                                            .order_by(StatementDelivery.id)))
    prefs = preferences_on(session, [s.person_id for s in stmts], clock.today()) if stmts else {}
    now = utcnow()
    out = []
    for s in stmts:
        base = {"statement_id": s.id, "number": s.number, "person_id": s.person_id, "version": s.version}
        mine = rows.get(s.id, [])
        if not mine:
            pref = prefs.get(s.person_id)
            out.append({**base, "delivery_id": None, "method": pref.method if pref else None, "address": None,
                        "status": PENDING, "attempts": 0, "needs_check": False,
                        "last_error": None if pref else "no delivery preference recorded",
                        "next_attempt_at": None, "sent_at": None, "message_id": None})
        for r in mine:
            out.append({**base, "delivery_id": r.id, "method": r.method, "address": r.address, "status": r.status,
                        "attempts": r.attempts, "needs_check": needs_check(r, now), "last_error": r.last_error,
                        "next_attempt_at": _iso(r.next_attempt_at), "sent_at": _iso(r.sent_at),
                        "message_id": r.message_id})
    return out


def defaultdict_list(rows) -> dict[int, list[StatementDelivery]]:
    out: dict[int, list[StatementDelivery]] = {}
    for r in rows:
        out.setdefault(r.statement_id, []).append(r)
    return out
