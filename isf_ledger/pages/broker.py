"""The brokers' pages, phone first (every page works at 320 px and with one thumb): the people
they support with what matters this week, a person's week of support recorded in one submit,
and spend with a photo of its receipt, one question a page. Finance may use them too.

- **Their people** (`/people`): every open fund (a broker supports anyone the provider holds a
  fund for: the access table gives brokers every fund, as the API's GET /people does), by name,
  a page at a time, each with this week's planned and recorded hours, the saved hours (the bank),
  the money left and the questions still open. A dozen queries for a page (the sign-in and the
  provider's details with them), whatever the number of funds or the length of the history.
- **A person's week** (`/people/{id}/week?week=YYYY-Www`): the sessions the plan's
  `planned_weekly_hours` lay out (`planned_sessions`: an hourly service's week shared over Monday
  to Friday in quarter hours, the odd quarters on the first days; a per-night service one night
  a night from Monday), each marked delivered, refused, not used without notice, cancelled by us
  or saved for later (with the notice given), and saved hours drawn, per service. Only days up
  to today can be recorded; a session already recorded (that day, that service) is shown as it
  was recorded. One submit sends every marked session through the operation imports use
  (accounts.imports.import_deliveries, all or nothing, every row checked, the bank over all of
  them together); a refusal is shown beside the session's field, what was typed kept, nothing
  written. The form's key makes a double submit write once, and the import itself answers a
  file of the same sessions again with nothing written.
- **Spend with a photo of the receipt** (`/people/{id}/spend/new`): what it was, how much, when,
  who was paid, which part of the plan, the photo (the file input opens the camera:
  `accept="image/*,application/pdf"` with `capture`), then the answers to check, then the spend
  through record_spend (as POST /api/v1/people/{id}/spend) and its file through
  attach_receipt_file (as POST /api/v1/spend/{id}/receipt-file), in one transaction. The answers
  wait in the signed session cookie (a draft per person); the photo waits in the receipt-file
  store under its SHA-256 (receipt_files.store_pending: checked by content when it is sent, so
  a bad file is refused on its own page), and the session keeps only its hash, so nobody can
  name a file they did not send.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from math import ceil

import sqlalchemy as sa
from flask import current_app, g, redirect, render_template, request, session, url_for
from markupsafe import escape
from marshmallow import Schema, ValidationError, fields
from werkzeug.exceptions import RequestEntityTooLarge

from .. import clock
from ..auth.scopes import PERSON
from ..accounts.bank import bank_events, held_at
from ..accounts.dates import check_fact_date
from ..accounts.hours import STATUSES, banking_notice_hours, hours_by_period, quantity
from ..accounts.imports import ImportRefused, import_deliveries
from ..models import BudgetLine, Delivery, DeliveryReversal, Fund, Person, PlanService, PlanVersion
from ..models.queries import FundQuery, QueryAnswer
from ..accounts.plans import DOMAINS, in_force, plans_by_person, windows
from ..accounts.positions import fund_position, positions
from ..accounts.rates import units_of
from ..accounts.receipt_files import MAX_BYTES, attach_receipt_file, pending_file, read_upload, store_pending
from ..accounts.schemas.spend import SpendIn
from ..accounts.spend import SUGGESTED_CATEGORIES, record_spend
from ..db import among, db
from ..errors import Invalid, LedgerError, NotFound
from ..work import unit_of_work
from ..fields import EARLIEST, LATEST
from ..reports.render_pdf import hours as hours_words
from .forms import PageForm
from .frame import visible
from .people import DOMAIN_WORDS
from .views import bp, signed_in

PER_PAGE = 50

# --- Their people -------------------------------------------------------------------------------


def week_of(day: date) -> tuple[date, date]:
    """The ISO week (Monday to Sunday) a day falls in."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year:04d}-W{week:02d}"


def parse_week(text: str | None, today: date) -> date:
    """The Monday of `YYYY-Www`, or of this week when it is missing or not a week."""
    found = re.fullmatch(r"([0-9]{4})-W([0-9]{2})", text or "")
    try:
        monday = date.fromisocalendar(int(found[1]), int(found[2]), 1) if found else None
    except ValueError:
        monday = None
    if monday is None:
        return week_of(today)[0]
    return monday if EARLIEST <= monday <= LATEST else week_of(today)[0]


@bp.get("/people")
@signed_in
def broker_people():
    """The people a broker supports, by name, a page at a time, with what matters this week:
    hours planned and recorded, saved hours, money left and questions still open."""
    today = clock.today()
    monday, sunday = week_of(today)
    name = request.args.get("name", "").strip()[:200]
    q = sa.select(Person.id, Person.name).join(Fund, Fund.person_id == Person.id).where(Fund.closed_on.is_(None))
    if name:
        q = q.where(Person.name.ilike(f"%{_like(name)}%", escape="\\"))
    count = db.session.scalar(sa.select(sa.func.count()).select_from(q.subquery()))
    pages = max(1, ceil(count / PER_PAGE))
    try:
        page = min(max(1, int(request.args.get("page", "1"))), pages)
    except ValueError:
        page = 1
    rows = db.session.execute(q.order_by(Person.name, Person.id).limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    ids = [r.id for r in rows]
    people = []
    if ids:
        week = hours_by_period(db.session, ids, monday, sunday, kinds=("weeks",))
        held = positions(db.session, ids, today)
        answered = sa.select(QueryAnswer.id).where(QueryAnswer.query_id == FundQuery.id).exists()
        open_queries = dict(db.session.execute(
            sa.select(FundQuery.person_id, sa.func.count()).where(among(db.session, FundQuery.person_id, ids), ~answered)
            .group_by(FundQuery.person_id)).all())
        for r in rows:
            figures = week[r.id]["weeks"][0]
            recorded = sum(figures[s] for s in STATUSES)
            people.append({"id": r.id, "name": r.name, "planned": figures["planned"], "recorded": recorded,
                           "bank": held[r.id].bank_hundredths, "available": held[r.id].available,
                           "open_queries": open_queries.get(r.id, 0)})
    keep = {"name": name} if name else {}
    return render_template(
        "pages/broker_people.html", title="People and their week", people=people, count=count, page=page,
        pages=pages, name=name, monday=monday, sunday=sunday, done=_done_message(),
        page_items=[{"number": n, "href": url_for("pages.broker_people", **keep, **({"page": n} if n > 1 else {})),
                     "current": n == page} for n in range(1, pages + 1)])


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _done_message() -> str | None:
    """What the last write did, said on the page it sent the browser to."""
    spent = request.args.get("spent")
    if spent is not None:
        person = db.session.get(Person, int(spent)) if spent.isdigit() and int(spent) < 2**31 else None
        return f"The spend for {person.name} is recorded." if person is not None else None
    return None


# --- A person's week ------------------------------------------------------------------------------

STATUS_WORDS = {"delivered": "Delivered", "refused": "Refused at the time",
                "unplanned": "Not used, without notice", "provider_cancelled": "Cancelled by us",
                "banked": "Saved for later (notice was given)", "bank_used": "Saved hours used"}
WEEK_STATUSES = ("delivered", "refused", "unplanned", "provider_cancelled", "banked")
STARTS = {"hour": "09:00", "night": "22:00"}
QUARTER = 25  # hundredths of an hour


@dataclass(frozen=True)
class Planned:
    """One planned session: its place in the week's layout, day, service and length."""

    index: int
    day: date
    service: str
    unit: str
    hundredths: int
    start: str


def planned_sessions(weekly: dict[str, int], units: dict[str, str], monday: date) -> list[Planned]:
    """The week's sessions from planned weekly hours (service -> hundredths): an hourly service
    shared over Monday to Friday in quarter hours (the odd quarters on the first days, anything
    under a quarter on the last session), over all seven days when five would make a session
    longer than a day; a per-night service one night a night from Monday, seven at most.
    In order of service, then day."""
    out: list[Planned] = []
    for service in sorted(weekly):
        total, unit = weekly[service], units.get(service, "hour")
        if unit == "night":
            lengths = [100] * min(7, total // 100)
        else:
            days = 5 if total <= 5 * 2400 else 7
            base, extra = divmod(total // QUARTER, days)
            lengths = [(base + (1 if d < extra else 0)) * QUARTER for d in range(days)]
            last = max((d for d, n in enumerate(lengths) if n), default=0)
            lengths[last] += total % QUARTER
        for d, length in enumerate(lengths):
            if length > 0:
                out.append(Planned(len(out), monday + timedelta(days=d), service, unit, length, STARTS[unit]))
    return out


def _weekly_hours(person_id: int, monday: date, sunday: date) -> dict[str, int]:
    """The weekly hundredths of each service in the plan version in force in the week (on its
    Monday, else on the first day of the week that has one); {} with no plan that week."""
    plans = windows(plans_by_person(db.session, [person_id]).get(person_id, []))
    day = monday
    while day <= sunday:
        plan = in_force(plans, day)
        if plan is not None:
            return dict(db.session.execute(sa.select(PlanService.service, PlanService.weekly_hundredths)
                                           .where(PlanService.plan_id == plan.id)).all())
        day += timedelta(days=1)
    return {}


def _week_fields(sessions: list[Planned], offered: set[int], draws: list[dict], services: list[str]) -> dict:
    """Every field of the week's form, for PageForm (its values kept, its errors beside them)."""
    names = [f"s{p.index}_{part}" for p in sessions if p.index in offered
             for part in ("status", "start", "quantity", "notice")]
    names += [f"domain_{k}" for k in range(len(services))]
    names += [f"u{d['k']}_{part}" for d in draws for part in ("date", "start", "quantity")]
    return {n: fields.String() for n in names}


@bp.route("/people/<int:person_id>/week", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def week(person_id: int):
    """A person's week: the planned sessions to mark, saved hours drawn, in one submit through
    the operation imports use; what was recorded already."""
    person: Person = g.person
    today = clock.today()
    monday = parse_week(request.args.get("week"), today)
    sunday = monday + timedelta(days=6)
    weekly = _weekly_hours(person_id, monday, sunday)
    recorded = db.session.execute(
        sa.select(Delivery).outerjoin(DeliveryReversal, DeliveryReversal.delivery_id == Delivery.id)
        .where(Delivery.person_id == person_id, Delivery.date >= monday, Delivery.date <= sunday,
               DeliveryReversal.id.is_(None)).order_by(Delivery.date, Delivery.start_time, Delivery.id)).scalars().all()
    services = sorted(set(weekly) | {d.service for d in recorded})
    units = units_of(db.session, services)
    sessions = planned_sessions(weekly, units, monday)
    done = {(d.date, d.service) for d in recorded if d.status != "bank_used"}
    offered = {p.index for p in sessions if p.day <= today and (p.day, p.service) not in done}
    bank = held_at(bank_events(db.session, [person_id], today), [person_id], today)[person_id]
    draws = [{"k": k, "service": s, "held": bank[s], "unit": units[s]} for k, s in enumerate(services)
             if bank.get(s) and monday <= today]
    domains = _usual_domains(person_id, services, monday)
    form = PageForm(Schema.from_dict(_week_fields(sessions, offered, draws, services))(),
                    values={**{f"domain_{k}": domains[s] for k, s in enumerate(services)},
                            **{f"s{p.index}_{part}": v for p in sessions if p.index in offered
                               for part, v in (("start", p.start), ("quantity", str(quantity(p.hundredths))))},
                            **{f"u{d['k']}_start": STARTS[d["unit"]] for d in draws}})
    again = form.replayed()
    if again is not None:
        return again
    if request.method == "POST" and form.load():
        rows, where = _week_rows(form, person_id, sessions, offered, draws, services)
        if rows:
            go = form.write(lambda: _record_week(person_id, monday, rows, where, form.key))
            if go is not None:
                return go
        else:
            first = next((f"s{i}_status" for i in sorted(offered)), None) or (
                f"u{draws[0]['k']}_quantity" if draws else "_form")
            form.refuse({first: ["Choose what happened in at least one session, or give the saved hours used"]})
    days = [{"day": monday + timedelta(days=n), "sessions": [p for p in sessions if p.day == monday + timedelta(days=n)],
             "recorded": [d for d in recorded if d.date == monday + timedelta(days=n)]} for n in range(7)]
    return render_template(
        "pages/broker_week.html", title=f"Week of {monday.day} {monday:%B %Y}", person=person, form=form,
        monday=monday, sunday=sunday, today=today, days=days, offered=offered, draws=draws,
        services=services, units=units, weekly=weekly, bank=bank, error_count=len(form.errors),
        status_words=STATUS_WORDS, choice_items=choice_items,
        status_choices={"": "Not recorded yet", **{s: STATUS_WORDS[s] for s in WEEK_STATUSES}},
        domain_choices={"": "Choose", **{d: DOMAIN_WORDS[d] for d in DOMAINS}},
        recorded_count=request.args.get("recorded"), already=request.args.get("already"),
        earlier=week_label(monday - timedelta(days=7)),
        later=week_label(monday + timedelta(days=7)) if monday + timedelta(days=7) <= today else None)


def choice_items(choices: dict[str, str], chosen: str | None) -> list[dict]:
    """GOV.UK radios' or select's items, the one chosen (the value typed) marked."""
    return [{"value": k, "text": v, "checked": chosen == k, "selected": chosen == k} for k, v in choices.items()]


def _usual_domains(person_id: int, services: list[str], monday: date) -> dict[str, str]:
    """The part of the plan each service's sessions were last recorded under, else the plan's
    first budget line's, else the first domain: what the form offers first."""
    out: dict[str, str] = {}
    if services:
        last = (sa.select(Delivery.service, Delivery.domain, sa.func.row_number().over(
            partition_by=Delivery.service, order_by=(Delivery.date.desc(), Delivery.id.desc())).label("n"))
            .where(Delivery.person_id == person_id, Delivery.service.in_(services), Delivery.date <= monday + timedelta(days=6))
            .subquery())
        out = dict(db.session.execute(sa.select(last.c.service, last.c.domain).where(last.c.n == 1)).all())
    missing = [s for s in services if s not in out]
    if missing:
        first = db.session.scalar(sa.select(BudgetLine.domain).join(PlanVersion, PlanVersion.id == BudgetLine.plan_id)
                                  .where(PlanVersion.person_id == person_id)
                                  .order_by(PlanVersion.effective_from.desc(), BudgetLine.id).limit(1))
        for s in missing:
            out[s] = first or DOMAINS[0]
    return out


# The import's columns -> the week's fields ({i}: the session's index or the draw's service number).
SESSION_FIELD = {"status": "status", "start_time": "start", "quantity": "quantity", "notice_given_at": "notice",
                 "date": "status", "service": "status", "person": "status"}
DRAW_FIELD = {"date": "date", "start_time": "start", "quantity": "quantity", "status": "quantity",
              "service": "quantity", "person": "quantity", "notice_given_at": "quantity"}
HEADER = ("person", "date", "start_time", "service", "quantity", "status", "notice_given_at", "domain", "external_id")


def _week_rows(form: PageForm, person_id: int, sessions: list[Planned], offered: set[int], draws: list[dict],
               services: list[str]) -> tuple[list[dict], dict[int, tuple[str, str]]]:
    """The import's rows for the marked sessions and the draws, and for each row (as the import
    numbers them: the header is row 1) the field its errors go beside: (prefix, domain field)."""
    v = form.values
    rows, where = [], {}
    service_no = {s: k for k, s in enumerate(services)}
    for p in sessions:
        if p.index not in offered:
            continue
        status = v.get(f"s{p.index}_status", "").strip()
        if not status:
            continue
        domain_field = f"domain_{service_no[p.service]}"
        rows.append({"person": str(person_id), "date": p.day.isoformat(), "service": p.service,
                     "start_time": v.get(f"s{p.index}_start", "").strip(),
                     "quantity": v.get(f"s{p.index}_quantity", "").strip(), "status": status,
                     "notice_given_at": v.get(f"s{p.index}_notice", "").strip() if status == "banked" else "",
                     "domain": v.get(domain_field, "").strip()})
        where[len(rows) + 1] = (f"s{p.index}_", domain_field, SESSION_FIELD)
    for d in draws:
        qty = v.get(f"u{d['k']}_quantity", "").strip()
        day = v.get(f"u{d['k']}_date", "").strip()
        if not qty and not day:
            continue
        domain_field = f"domain_{d['k']}"
        rows.append({"person": str(person_id), "date": day, "service": d["service"],
                     "start_time": v.get(f"u{d['k']}_start", "").strip(), "quantity": qty, "status": "bank_used",
                     "notice_given_at": "", "domain": v.get(domain_field, "").strip()})
        where[len(rows) + 1] = (f"u{d['k']}_", domain_field, DRAW_FIELD)
    return rows, where


class WeekRefused(LedgerError):
    """Some of the week's sessions were refused (422): each reason beside its field."""

    status = 422
    code = "invalid"


def _record_week(person_id: int, monday: date, rows: list[dict], where: dict, key: str) -> str:
    """The week's rows as a deliveries file through import_deliveries: written whole or not at all."""
    # Each row is a visit of this submission (the form's key): imports skip a file or a visit seen
    # before, and a session reversed and recorded again the same way would otherwise be the same
    # file. A second submit of one form is answered by its key before this runs.
    visit = "week-page:" + hashlib.sha256(key.encode()).hexdigest()[:32]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows({**row, "external_id": f"{visit}:{n}"} for n, row in enumerate(rows, start=1))
    try:
        done = import_deliveries(db.session, out.getvalue().encode(), user_id=g.user.id,
                                 filename=f"week {week_label(monday)} of person {person_id} (web page)",
                                 notice_hours=_notice_hours())
    except ImportRefused as e:
        details: dict[str, list[str]] = {}
        for err in e.details["errors"]:
            prefix, domain_field, names = where.get(err["row"], ("", "_form", {}))
            column = err["column"]
            field = domain_field if column == "domain" else (prefix + names[column] if column in names else "_form")
            details.setdefault(field, [_plain(column, err["reason"])])
        raise WeekRefused("some sessions could not be recorded", details) from None
    already = "1" if done["already_imported"] else None
    return url_for("pages.week", person_id=person_id, week=week_label(monday), recorded=done["written"],
                   already=already) + "#recorded"


def _notice_hours() -> int:
    return banking_notice_hours()


MISSING = {"date": "Enter the day", "start_time": "Enter the time it started, for example 09:30",
           "quantity": "Enter how many hours", "domain": "Choose which part of the plan it was for"}


def _plain(column: str | None, reason: str) -> str:
    """The import's reason in the words of this page."""
    if reason == "Missing data for required field.":
        return MISSING.get(column, "Enter this")
    if column == "quantity" and reason.lower().startswith("not a decimal"):
        return "Enter the hours as a number, for example 1.50"
    return (reason.replace("record these hours as `unplanned` (not used, without the notice needed to bank them)",
                           "choose “Not used, without notice”")
            .replace("not a date-time: use YYYY-MM-DDTHH:MM[:SS][+HH:MM]", "Enter a day and a time"))


def hours_text(hundredths_: int) -> str:
    return hours_words(quantity(hundredths_))


bp.add_app_template_filter(hours_text, "hours_text")


@bp.app_template_filter("html_text")
def html_text(value) -> str:
    """Text escaped for HTML as a plain string, to join with markup inside a component's `html`
    (Jinja's `e` gives Markup, which would escape the markup it is joined with)."""
    return str(escape(value))


# --- Spend with a photo of the receipt ----------------------------------------------------------

# One question a page: (step, the fields it asks, its question). The answers wait in the session.
SPEND_STEPS = (("what", ("description", "category"), "What was bought?"),
               ("amount", ("amount",), "How much was it?"),
               ("date", ("date",), "When was it paid for?"),
               ("payee", ("payee", "invoice_reference"), "Who was paid?"),
               ("domain", ("domain",), "Which part of the plan was it for?"),
               ("receipt", ("file",), "Add a photo of the receipt"))
STEP_NAMES = tuple(s[0] for s in SPEND_STEPS)
SPEND_LABELS = {"description": "What was bought?", "category": "What kind of spend is it?",
                "amount": "How much was it?", "date": "When was it paid for?", "payee": "Who was paid?",
                "invoice_reference": "Their invoice number (optional)", "domain": "Which part of the plan was it for?",
                "file": "Photo of the receipt"}
CATEGORY_WORDS = {c: c.replace("_", " ").capitalize() for c in SUGGESTED_CATEGORIES}
DRAFT = "spend_draft"
COOKIE_ROOM = 3800  # bytes: browsers keep a cookie of at most 4096, name and attributes included


def _draft(person_id: int) -> dict:
    """The spend being recorded for this person; one at a time (a new one lets the last go)."""
    kept = session.get(DRAFT) or {}
    return dict(kept.get("answers") or {}) if kept.get("person_id") == person_id else {}


def _save_draft(person_id: int, draft: dict | None) -> None:
    if draft is None:
        session.pop(DRAFT, None)
    else:
        session[DRAFT] = {"person_id": person_id, "answers": draft}


def _fits(person_id: int, draft: dict) -> bool:
    """Whether the session, with this draft, still fits in its cookie (long answers in scripts
    that take many bytes might not: the browser would drop the cookie, and sign the user out)."""
    kept = {**dict(session), DRAFT: {"person_id": person_id, "answers": draft}}
    serializer = current_app.session_interface.get_signing_serializer(current_app)
    return serializer is None or len(serializer.dumps(kept)) <= COOKIE_ROOM


def _step_url(person_id: int, step: str, change: bool = False) -> str:
    return url_for("pages.spend_step", person_id=person_id, step=step, **({"change": "1"} if change else {}))


@bp.get("/people/<int:person_id>/spend/new")
@signed_in
@visible(PERSON)
def new_spend(person_id: int):
    """Start recording a spend: any unfinished one for this person is let go."""
    _save_draft(person_id, {})
    return redirect(_step_url(person_id, STEP_NAMES[0]), 303)


@bp.route("/people/<int:person_id>/spend/new/<step>", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def spend_step(person_id: int, step: str):
    """One question of the spend; its answer kept, then the next question (or back to the check)."""
    if step not in STEP_NAMES:
        raise NotFound(f"no step {step}")
    person: Person = g.person
    i = STEP_NAMES.index(step)
    asked = SPEND_STEPS[i][1]
    draft = _draft(person_id)
    change = request.args.get("change") == "1"
    schema = SpendIn(only=[f for f in asked if f != "file"], partial=True) if step != "receipt" else Schema()
    values = {k: draft.get(k, "") for k in asked if k != "file"}
    if step == "date" and not values.get("date"):
        values["date"] = clock.today().isoformat()
    form = PageForm(schema, labels=SPEND_LABELS, values=values, messages={
        "amount": "Enter how much it was in pounds and pence, for example 12.50"} if step == "amount" else None)
    if request.method == "POST":
        if step == "receipt":
            if _take_file(form, draft):
                _save_draft(person_id, draft)
                return redirect(url_for("pages.spend_check", person_id=person_id), 303)
        elif (form.load() or _as_pounds(form, step)) and _required(form, asked) and _date_may_be(form, person_id):
            draft.update({k: form.values.get(k, "").strip() for k in asked})
            if not _fits(person_id, draft):
                longest = max((k for k in asked if k != "file"), key=lambda k: len(draft.get(k, "")))
                form.refuse({longest: ["This is too long to keep: write it in fewer words"]})
                return _step_page(person, form, step, i, change, draft)
            _save_draft(person_id, draft)
            nxt = url_for("pages.spend_check", person_id=person_id) if change or i + 1 == len(STEP_NAMES) \
                else _step_url(person_id, STEP_NAMES[i + 1])
            return redirect(nxt, 303)
    return _step_page(person, form, step, i, change, draft)


def _step_page(person: Person, form: PageForm, step: str, i: int, change: bool, draft: dict):
    person_id = person.id
    back = url_for("pages.spend_check", person_id=person_id) if change else (
        _step_url(person_id, STEP_NAMES[i - 1]) if i else url_for("pages.broker_people"))
    return render_template("pages/broker_spend_step.html", title=SPEND_STEPS[i][2], person=person, form=form,
                           step=step, number=i + 1, steps=len(STEP_NAMES), change=change, back=back,
                           categories=CATEGORY_WORDS, choice_items=choice_items,
                           domain_items=_domain_items(person_id, form.values.get("domain")) if step == "domain" else [],
                           file=draft.get("file"), error_count=len(form.errors),
                           action=request.full_path.rstrip("?"), max_mb=MAX_BYTES // (1024 * 1024))


POUNDS = re.compile(r"£?\s*([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(\.[0-9]+)?")


def _as_pounds(form: PageForm, step: str) -> bool:
    """An amount typed as a phone's keyboard or a receipt writes it ("£8", "1,250.00") read as the
    API's pounds ("8", "1250.00"): the £ is on the page already. True when that loads."""
    typed = form.values.get("amount", "").strip()
    found = POUNDS.fullmatch(typed) if step == "amount" else None
    if found is None:
        return False
    plain = found[1].replace(",", "") + (found[2] or "")
    try:
        form.data = form.schema.load({"amount": plain})
    except ValidationError:
        return False
    form.errors.clear()
    form.values["amount"] = plain
    return True


def _date_may_be(form: PageForm, person_id: int) -> bool:
    """A spend's date is refused on its own page as record_spend would refuse it: not after
    today, not before the fund opened."""
    if "date" not in form.data:
        return True
    try:
        check_fact_date(db.session, person_id, form.data["date"])
    except Invalid as e:
        form.refuse(e.details)
        return False
    return True


REQUIRED_WORDS = {"description": "Enter what was bought", "category": "Choose what kind of spend it is",
                  "amount": "Enter how much it was, in pounds", "date": "Enter the day it was paid for",
                  "payee": "Enter who was paid", "domain": "Choose which part of the plan it was for"}


def _required(form: PageForm, asked) -> bool:
    """The step's required answers are given (the schema was loaded partial)."""
    missing = {k: [REQUIRED_WORDS[k]] for k in asked if k in REQUIRED_WORDS and not form.values.get(k, "").strip()}
    if missing:
        form.refuse(missing)
    return not missing


def _take_file(form: PageForm, draft: dict) -> bool:
    """The photo, checked by content and kept in the file store until the spend is recorded; with
    no file sent the one kept before stands (or none: a receipt can be added later)."""
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        form.refuse({"_form": [f"The photo is larger than {MAX_BYTES // (1024 * 1024)} MB"]})
        return False
    if upload is None or not upload.filename:
        return True
    try:
        with unit_of_work():  # kept for the check page, which may be answered by another server
            data = read_upload(upload.stream)
            sha256, media_type = store_pending(db.session, data, upload.filename)
    except LedgerError as e:
        form.errors["file"] = _first_message(e)
        return False
    draft["file"] = {"sha256": sha256, "name": (upload.filename or "receipt")[:255], "media_type": media_type,
                     "size": len(data)}
    return True


def _first_message(e: LedgerError) -> str:
    msgs = next(iter(e.details.values()), [e.message]) if e.details else [e.message]
    text = msgs[0] if isinstance(msgs, list) else str(msgs)
    text = "The file " + text if e.details.get("file") else text
    return text[:1].upper() + text[1:]


def _domain_items(person_id: int, chosen: str | None) -> list[dict]:
    """The six parts of the plan as radios, each with the plan's outcome for it as its hint."""
    outcomes = _outcomes(person_id)
    return [{"value": d, "text": DOMAIN_WORDS[d], "checked": chosen == d,
             "hint": {"text": outcomes[d]} if d in outcomes else None} for d in DOMAINS]


def _outcomes(person_id: int) -> dict[str, str]:
    """The plan's outcome for each domain its latest version has a budget line for."""
    latest = sa.select(sa.func.max(PlanVersion.id)).where(PlanVersion.person_id == person_id,
                                                          PlanVersion.effective_from <= clock.today()).scalar_subquery()
    out: dict[str, str] = {}
    for domain, outcome in db.session.execute(sa.select(BudgetLine.domain, BudgetLine.outcome)
                                              .where(BudgetLine.plan_id == latest).order_by(BudgetLine.id)):
        out.setdefault(domain, outcome)
    return out


def _spend_data(draft: dict) -> tuple[dict | None, dict]:
    """The draft loaded by the API's SpendIn: (the operation's arguments or None, errors by field)."""
    given = {k: v for k, v in draft.items() if k in SpendIn().fields and isinstance(v, str) and v.strip()}
    try:
        return SpendIn().load(given), {}
    except ValidationError as e:
        return None, e.messages


@bp.route("/people/<int:person_id>/spend/new/check", methods=["GET", "POST"])
@signed_in
@visible(PERSON)
def spend_check(person_id: int):
    """The answers to check, each with a link to change it; then the spend and its photo
    recorded, once for the form's key."""
    person: Person = g.person
    draft = _draft(person_id)
    data, problems = _spend_data(draft)
    form = PageForm(Schema(), labels=SPEND_LABELS)
    if request.method == "POST":
        go = form.write(lambda: _record_spend(person_id, draft))
        if go is not None:
            _save_draft(person_id, None)
            return go
        data, problems = _spend_data(draft)
    if request.method == "GET" and not draft:
        return redirect(url_for("pages.new_spend", person_id=person_id), 303)
    left = None
    if data is not None:
        left = fund_position(db.session, person_id, clock.today()).available - data["amount_pence"]
    missing = [(SPEND_LABELS[k], _step_url(person_id, next(s for s, f, _ in SPEND_STEPS if k in f)))
               for k in problems if k in SPEND_LABELS]
    return render_template("pages/broker_spend_check.html", title="Check the spend before it is recorded",
                           person=person, form=form, draft=draft, data=data, missing=missing, left=left,
                           file=draft.get("file"), change=lambda step: _step_url(person_id, step, True),
                           categories=CATEGORY_WORDS, domain_words=DOMAIN_WORDS, error_count=len(form.errors))


def _record_spend(person_id: int, draft: dict) -> str:
    """The spend through record_spend, and its photo through attach_receipt_file, together."""
    data, problems = _spend_data(draft)
    if data is None:
        raise Invalid("_form", "Some answers are missing: answer every question first")
    spend = record_spend(db.session, person_id, user_id=g.user.id, **data)
    kept = draft.get("file")
    if kept:
        content = pending_file(db.session, str(kept.get("sha256", "")))
        if content is None:
            raise Invalid("_form", "The photo of the receipt was lost: add it again")
        attach_receipt_file(db.session, spend, content, kept.get("name"), g.user.id)
    return url_for("pages.broker_people", spent=person_id)


def links_for_broker() -> list[dict]:
    """The pages a broker starts from (finance reaches them from the same link)."""
    return [{"href": url_for("pages.broker_people"), "text": "People and their week"}]
