"""The pages for a person and their family: their money now, this month so far, every month's
statement, and what was spent on them. Written for a person with a learning disability: short
sentences, one idea each, money in pounds and hours in hours and minutes.

Every figure comes from the statement's read-model (reports.statement_figures.statement_figures for the
month so far, the issued figures for a statement), so a page, the PDF and the API agree. Who may
see a page is the access table (`signed_in`) and the one visibility rule (`visible`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask import abort, g, render_template, url_for

from .. import clock
from ..auth.scopes import PERSON
from ..api.spend import send_receipt_file
from ..accounts.hours import hours_used
from ..models import Person
from ..accounts.spend import spend_of
from ..db import db
from ..errors import NotFound
from ..reports import statements as st
from ..reports.forecast import pace as pace_of
from ..reports.statement_figures import statement_figures
from ..api.reports import statement_file
from ..models.statements import Statement
from ..reports.review_pack import shared_working
from ..reports.render_pdf import hours, letter, month_name
from .frame import visible
from .views import bp, signed_in
from ..clock import parse_month

# The plan's parts, said as a person would (domain.md "Support plan": Lancashire's six).
DOMAIN_WORDS = {
    "staying_safe": "Staying safe",
    "communication": "Communication",
    "work_leisure_learning": "Work, leisure and learning",
    "essential_living_tasks": "Everyday living tasks",
    "personal_care": "Personal care",
    "health": "Health",
}

PACE_TAGS = {  # the forecast's pace (domain.md "Forecast") -> the tag's words and colour
    "on_track": ("On track", "govuk-tag--green"),
    "spending_fast": ("Spending faster than planned", "govuk-tag--orange"),
    "building_up": ("Money building up", "govuk-tag--blue"),
}

DOCUMENTS = {  # a statement's downloads: the page's name for each -> (kind, large print)
    "statement.pdf": ("pdf", False),
    "large-print.pdf": ("pdf", True),
    "statement.xlsx": ("xlsx", False),
}


@bp.app_template_filter("domain_words")
def domain_words(domain: str) -> str:
    return DOMAIN_WORDS.get(domain) or domain.replace("_", " ").capitalize()


bp.app_template_filter("hours_minutes")(hours)  # the statement's own words for hours


@bp.app_template_filter("pounds_text")
def pounds_text(text: str) -> str:
    """A money string of the figures ('1800.00') as pounds to read: '£1,800.00', 'minus £12.50'."""
    d = Decimal(text)
    return ("minus " if d < 0 else "") + f"£{abs(d):,.2f}"


bp.app_template_filter("month_name")(month_name)


@bp.app_template_filter("plain_number")
def plain_number(value) -> str:
    """A decimal as a person would write it: '31.00' -> '31', '1.50' -> '1.5'."""
    d = Decimal(str(value))
    return format(d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize(), "f")


@bp.app_template_filter("nonzero")
def nonzero(text: str) -> bool:
    return Decimal(text) != 0


@bp.app_template_filter("day_text")
def day_text(value) -> str:
    d = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return f"{d.day} {d:%B %Y}"


def share(part, whole) -> int:
    """`part` as a whole percentage of `whole`, 0 to 100 (a bar's width: the words say the figure)."""
    whole = Decimal(str(whole))
    if whole <= 0:
        return 0
    pct = (Decimal(str(part)) * 100 / whole).to_integral_value(ROUND_HALF_UP)
    return int(min(100, max(0, pct)))


def year_pace(figures: dict, today: date) -> dict | None:
    """How the plan year is going at `today`: the money used against the budget, the share of the
    year gone, and the forecast's pace (spending_fast when the used share runs more than 10 points
    ahead of the elapsed share, building_up when more than 15 behind, else on_track)."""
    year = figures.get("plan_year")
    if not year:
        return None
    start, end = date.fromisoformat(year["start"]), date.fromisoformat(year["end"])
    budget, used = Decimal(year["annual_budget"]), Decimal(year["used_to_date"])
    elapsed = Decimal((today - start).days + 1) / Decimal((end - start).days + 1)
    used_share = used / budget if budget > 0 else Decimal(0)
    pace = pace_of(used_share, elapsed)
    tag, colour = PACE_TAGS[pace]
    return {"start": start, "end": end, "budget": year["annual_budget"], "used": year["used_to_date"],
            "used_pct": share(used, budget), "elapsed_pct": int((elapsed * 100).to_integral_value(ROUND_HALF_UP)),
            "pace": pace, "tag": tag, "tag_class": colour}


IRREGULAR = {"have": "has", "do": "does", "are": "is"}


@dataclass(frozen=True)
class Whose:
    """Whose money a person's page says it is, by who reads it: "you" and "your" to the person
    (and their family, who sign in as them), the person's name to anyone else (finance, a
    broker, a council's reviewer): "Siân’s money", "Siân has £12.00 left". One template
    serves both: `{{ w.You }} {{ w.verb("have") }} ...`, `{{ w.Your }} statements`."""

    you: str
    your: str
    to_them: bool  # the reader is the person (or their family)

    @property
    def You(self) -> str:  # noqa: N802 - the word as it starts a sentence
        return self.you[:1].upper() + self.you[1:] if self.to_them else self.you

    @property
    def Your(self) -> str:  # noqa: N802
        return self.your[:1].upper() + self.your[1:] if self.to_them else self.your

    def verb(self, word: str) -> str:
        """The verb after `you`: "have" to the person, "has" after their name."""
        return word if self.to_them else IRREGULAR.get(word, word + "s")


def whose(person: Person) -> Whose:
    user = g.get("user")
    if user is not None and user.role == "person":
        return Whose("you", "your", True)
    return Whose(person.name, f"{person.name}’s", False)


bp.add_app_template_global(whose, "whose")


def _person(person_id: int) -> Person:
    person = g.get("person") if isinstance(g.get("person"), Person) else db.session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person with id {person_id}")
    return person


def _month_so_far(person_id: int) -> tuple[date, dict]:
    today = clock.today()
    return today, statement_figures(db.session, [person_id], today)[person_id]


def money_page(person_id: int, *, home: bool = False):
    """'Your money': what is left now, whether that is about right for this point of the plan
    year, the year's money and this month's hours as bars with their figures in words."""
    person = _person(person_id)
    today, f = _month_so_far(person_id)
    h = f["hours"]
    used_hours = Decimal(hours_used(h))
    return render_template("pages/person_money.html", person=person, f=f, today=today, home=home,
                           year=year_pace(f, today), used_hours=used_hours,
                           hours_pct=share(used_hours, h["planned"]), title=f"{whose(person).Your} money",
                           w=whose(person))


@bp.get("/people/<int:person_id>/this-month")
@signed_in
@visible(PERSON)
def this_month(person_id: int):
    """This month so far: money in and from whom, what it paid for, and the hours."""
    person = _person(person_id)
    today, f = _month_so_far(person_id)
    received = _received_by_source(person_id, today, whose(person))
    shared = shared_working(db.session, person_id, today.replace(day=1), clock.month_end(today))
    return render_template("pages/person_month.html", person=person, f=f, today=today, received=received,
                           shared=shared, used_hours=Decimal(hours_used(f["hours"])), title="This month so far",
                           w=whose(person))


def _received_by_source(person_id: int, today: date, w: Whose) -> list[tuple[str, str]]:
    """This month's money in, by who paid it (receipts net of their reversals)."""
    from ..models import Receipt, Transaction
    first = today.replace(day=1)
    reversed_ids = sa.select(Transaction.reverses_id).where(Transaction.reverses_id.is_not(None))
    rows = db.session.execute(
        sa.select(Receipt.source, sa.func.sum(Receipt.amount_pence))
        .where(Receipt.person_id == person_id, Receipt.date >= first, Receipt.date <= today,
               Receipt.transaction_id.not_in(reversed_ids))
        .group_by(Receipt.source).order_by(Receipt.source)).all()
    return [(SOURCE_WORDS[source].format(Your=w.Your) if source in SOURCE_WORDS else source, pence)
            for source, pence in rows]


SOURCE_WORDS = {"council": "From the council", "health": "From the NHS (health)",
                "client_contribution": "{Your} own part", "other": "From somewhere else"}


@bp.get("/people/<int:person_id>/statements")
@signed_in
@visible(PERSON)
def statements(person_id: int):
    """Every month's statement, newest first."""
    person = _person(person_id)
    latest = (sa.select(Statement.month, sa.func.max(Statement.version).label("version"))
              .where(Statement.person_id == person_id).group_by(Statement.month).subquery())
    rows = db.session.execute(
        sa.select(Statement.month, Statement.number, Statement.issued_at, Statement.figures["closing_balance"])
        .join(latest, sa.and_(latest.c.month == Statement.month, latest.c.version == Statement.version))
        .where(Statement.person_id == person_id).order_by(Statement.month.desc())).all()
    months = [{"month": m.strftime("%Y-%m"), "name": f"{m:%B %Y}", "number": n, "issued_at": at,
               "closing": _json_text(closing)} for m, n, at, closing in rows]
    return render_template("pages/person_statements.html", person=person, months=months, w=whose(person),
                           title=f"{whose(person).Your} statements")


def _json_text(value) -> str:
    return value if isinstance(value, str) else str(value)


def _statement(person_id: int, month: str) -> Statement:
    try:
        first = parse_month(month)
    except Exception:  # a month that is not YYYY-MM names no page
        abort(404)
    stmt = st.latest(db.session, person_id, first)
    if stmt is None:
        abort(404)
    return stmt


@bp.get("/people/<int:person_id>/statements/<month>")
@signed_in
@visible(PERSON)
def statement(person_id: int, month: str):
    """A month's statement as a page: the same figures and sentences as its PDF, from the figures
    stored when it was issued, with the PDF, a large-print PDF and the XLSX to download."""
    stmt = _statement(person_id, month)
    doc = st.as_json(db.session, stmt)
    said = letter(doc)
    heading, blocks = said[0][1], said[1:]  # the first is the title: the page's h1
    at_end = next((i for i, (style, text) in enumerate(blocks) if (style, text) == ("h", "What happens next")),
                  len(blocks))  # the plan year's table goes where the PDF draws its chart
    first = clock.parse_month(month)
    shared = shared_working(db.session, person_id, first, clock.month_end(first))
    person = _person(person_id)
    w = whose(person)
    if not w.to_them:  # the letter speaks to the person; the page says whose it is
        heading = f"{w.Your} statement for {month_name(doc['month'])}"
    return render_template("pages/person_statement.html", person=person, doc=doc, w=w,
                           heading=heading, blocks=blocks, at_end=at_end, month=month, shared=shared,
                           name=month_name(doc["month"]),
                           documents=DOCUMENTS, title=heading)


@bp.get("/people/<int:person_id>/statements/<month>/<document>")
@signed_in
@visible(PERSON)
def statement_download(person_id: int, month: str, document: str):
    """A statement's PDF (as issued), large-print PDF or XLSX workbook."""
    if document not in DOCUMENTS:
        abort(404)
    kind, large = DOCUMENTS[document]
    return statement_file(_statement(person_id, month), kind, large_print=large)


@bp.get("/people/<int:person_id>/spend")
@signed_in
@visible(PERSON)
def spend(person_id: int):
    """What was spent on the person: who was paid, for what, when, the part of the plan, the receipt."""
    rows = spend_of(db.session, person_id)
    items = [{"spend": s, "reversed": r is not None, "file": f} for s, r, f in reversed(rows)]
    person = _person(person_id)
    return render_template("pages/person_spend.html", person=person, items=items, w=whose(person),
                           title=f"What was spent on {whose(person).you}")


@bp.get("/people/<int:person_id>/spend/<int:spend_id>/receipt")
@signed_in
@visible(PERSON)
def spend_receipt(person_id: int, spend_id: int):
    """The receipt file of one spend on this person's fund."""
    found = spend_of(db.session, person_id, spend_id=spend_id)
    if not found:
        abort(404)
    return send_receipt_file(spend_id)


def links_for(person_id: int) -> list[dict]:
    """The pages about one person's money, for the navigation and the person's home."""
    return [{"href": url_for("pages.this_month", person_id=person_id), "text": "This month"},
            {"href": url_for("pages.statements", person_id=person_id), "text": "Statements"},
            {"href": url_for("pages.spend", person_id=person_id), "text": "What was spent on you"},
            {"href": url_for("pages.queries", person_id=person_id), "text": "Your questions"}]
