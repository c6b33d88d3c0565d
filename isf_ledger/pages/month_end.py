"""Month end's long half and what follows it (finance.py has the page that issues): a month with
many people issued in the background with its progress (jobs.py), and each month's delivery log
(reports.delivery.delivery_log, as GET /api/v1/statements/{month}/deliveries) with the rows that
need a check resolved from the page (delivery.resolve, as POST
/api/v1/statement-deliveries/{id}/resolve) and the print batch (as GET .../print-batch)."""
from __future__ import annotations

from collections import Counter
from datetime import date

import sqlalchemy as sa
from flask import Response, abort, current_app, g, render_template, request, url_for
from marshmallow import Schema, fields, validate

from .. import clock
from ..models import Person
from ..db import db
from ..errors import LedgerError
from ..reports import sending as dl
from ..reports import statements as st
from ..models.statements import PrintBatch, Statement, StatementDelivery
from . import jobs
from .forms import PageForm
from .views import bp, signed_in

INLINE_PEOPLE = 200  # default MONTH_END_INLINE_PEOPLE: more people than this are issued in the background
METHOD_WORDS = {"email": "E-mail", "post": "Post", None: "Not set"}
STATUS_WORDS = {"pending": "Not sent yet", "sending": "Being sent", "sent": "Sent", "failed": "Failed"}
OUTCOME_WORDS = {"sent": "It is marked as sent.", "resend": "It will be sent again on the next run."}


def in_background(first: date) -> str | None:
    """For a month with more than MONTH_END_INLINE_PEOPLE people: the month's checks made here,
    as issue_month makes them (a month not ended, or out of order, is refused on the form), and a
    job queued to issue it; the job's page. None: issue it in the request."""
    funds = st.due_funds(db.session, first, clock.month_end(first))
    if len(funds) <= current_app.config.get("MONTH_END_INLINE_PEOPLE", INLINE_PEOPLE):
        return None
    st.refuse_unended(first)
    issued = set(db.session.scalars(sa.select(Statement.person_id).where(Statement.month == first,
                                                                         Statement.version == 1)))
    st._refuse_out_of_order(funds, issued, first)
    job = jobs.create("month_end", f"{first:%B %Y}", total=len(funds))
    user_id, people = g.user.id, len(funds)

    def work(progress: jobs.Progress) -> dict:
        progress.total(people)
        done = st.issue_month(db.session, first, user_id=user_id, progress=progress.add)
        return {"month": done.month, "issued": done.issued, "already": done.already_issued,
                "not_issued": done.not_issued, "not_charged": done.not_charged}

    jobs.queue(job, work, background=True)
    return url_for("pages.job", job_id=job.id)


# --- The delivery log -----------------------------------------------------------------------------

class ResolveIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(("sent", "resend"), error="Choose what happened"))


def _month(text: str) -> date:
    try:
        return clock.parse_month(text)
    except LedgerError:
        abort(404)


@bp.get("/month-end/<month>/deliveries")
@signed_in
def month_deliveries(month: str):
    """How each of the month's statements was sent: failures and the rows that need a check first."""
    return _log(_month(month))


def _log(first: date, form: PageForm | None = None, status: int = 200):
    rows = dl.delivery_log(db.session, first)
    ids = sorted({r["person_id"] for r in rows})
    names = dict(db.session.execute(sa.select(Person.id, Person.name).where(Person.id.in_(ids))).all()) if ids else {}
    batch = db.session.execute(sa.select(PrintBatch.letters, PrintBatch.built_at)
                               .where(PrintBatch.month == first)).first()
    check = [r for r in rows if r["needs_check"]]
    failed = [r for r in rows if r["status"] == dl.FAILED]
    counts = Counter("check" if r["needs_check"] else r["status"] for r in rows)
    resolved = request.args.get("resolved")
    form = form or PageForm(ResolveIn())
    return render_template("pages/month_deliveries.html", title=f"Delivery log for {first:%B %Y}",
                           month=first.strftime("%Y-%m"), month_name=f"{first:%B %Y}", rows=rows, names=names,
                           check=check, failed=failed, counts=counts, batch=batch, form=form,
                           error_count=len(form.errors), method_words=METHOD_WORDS, status_words=STATUS_WORDS,
                           resolved=OUTCOME_WORDS.get(request.args.get("outcome")) if resolved else None), status


@bp.post("/month-end/deliveries/<int:delivery_id>/resolve")
@signed_in
def resolve_delivery(delivery_id: int):
    """A delivery that needs a check: it was sent, or send it again (delivery.resolve)."""
    row = db.session.get(StatementDelivery, delivery_id) if delivery_id <= 2**62 else None
    if row is None:
        abort(404)
    first = row.month
    form = PageForm(ResolveIn(), labels={"outcome": "What happened"})
    if not form.load():  # only the page's two buttons send `outcome`: the summary says what to do
        form.errors = {"_form": "Choose what happened: press “It was sent” or “Send it again”"}
    else:
        done = form.write(lambda: _resolve(delivery_id, form.data["outcome"], first))
        if done is not None:
            return done
    return _log(first, form, 200 if form.data.get("outcome") is None else 409)


def _resolve(delivery_id: int, outcome: str, first: date) -> str:
    dl.resolve(db.session, delivery_id, outcome)
    return url_for("pages.month_deliveries", month=f"{first:%Y-%m}", resolved=delivery_id,
                   outcome=outcome) + "#log"


@bp.get("/month-end/<month>/print-batch.pdf")
@signed_in
def month_print_batch(month: str):
    """The month's letters to post as one PDF (each an address sheet, then the statement)."""
    first = _month(month)
    batch = dl.print_batch(db.session, first)
    if batch is None:
        abort(404)
    return Response(bytes(batch.pdf), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="print-batch-{month}.pdf"'})
