"""Finance's pages for the client bank account, each a thin door onto the operation its API view
calls: the bank's statement uploaded and its lines matched (bank_statements.import_statement, as
POST /api/v1/bank-statements), a line matched by hand (match_by_hand, as POST
.../lines/{id}/match), the reconciliation completed (reconciliation.complete, as POST
/api/v1/reconciliation/complete) with its report, and interest the bank paid recorded
(interest.record_interest, as POST /api/v1/bank-interest) with each fund's share.

A guess the matcher offers is shown and typed into the form for finance to confirm; it is never
matched without them.
"""
from __future__ import annotations

import csv
import re
from datetime import date

import sqlalchemy as sa
from flask import Response, abort, g, render_template, request, url_for
from marshmallow import Schema, ValidationError

from .. import clock
from ..accounts.bank_statements import import_statement, match_by_hand, movements, statement_json
from ..accounts.interest import interest_json, record_interest
from ..accounts.reconciliation import complete, reconcile, report
from ..accounts.schemas.bank_statements import InterestIn, MatchIn
from ..accounts.schemas.reconciliation import CompleteIn, ReportQuery
from ..db import db
from ..errors import Invalid
from ..ledger.kinds import kind_of
from ..models import BankInterest, BankLine, BankReconciliation, BankStatement, Person, Transaction
from ..provider import current
from ..reports.render_reconciliation import report_file
from .finance_forms import DATE, MONEY, FormField, show, submitted
from .forms import PageForm
from .views import bp, money, signed_in

RECENT = 10  # statements and interest payments listed on the bank's page
MAX_ID = 2**62
DONE = {"uploaded": "The statement is imported and its lines matched where they could be.",
        "matched": "The line is matched.", "reconciled": "The reconciliation is completed.",
        "interest": "The interest is recorded."}
HANDLING = {"shared": "The interest is shared among the funds by their daily balances (the provider's setting).",
            "provider": "The provider keeps the interest; none of it goes to the funds (the provider's setting)."}


class UploadIn(Schema):
    """The upload's only field is the file (request.files), read by the view."""


@bp.route("/bank", methods=["GET", "POST"])
@signed_in
def bank():
    """The client bank account today: the money held, the bank's balance and the differences; the
    bank's statement uploaded; recent statements and interest."""
    form = PageForm(UploadIn(), labels={"file": "Upload the bank's statement"}, also=("file",))
    if request.method == "POST" and form.load():
        file = form.uploaded(missing="Choose the bank's statement file to upload",
                             empty="The file is empty: choose the bank's statement")
        sent = form.write(lambda: _upload(file[1], file[0].filename)) if file else None
        if sent is not None:
            return sent
    today = clock.today()
    position = reconcile(db.session, today)
    statements = db.session.execute(
        sa.select(BankStatement, sa.select(sa.func.count()).where(BankLine.statement_id == BankStatement.id)
                  .scalar_subquery())
        .order_by(BankStatement.id.desc()).limit(RECENT)).all()
    interest = db.session.scalars(sa.select(BankInterest).order_by(BankInterest.id.desc()).limit(RECENT)).all()
    last = db.session.scalar(sa.select(sa.func.max(BankReconciliation.as_of)))
    return render_template("pages/bank.html", title="The client bank account", form=form, position=position,
                           last_reconciled=last,
                           today=today, statements=statements, interest=interest, error_count=len(form.errors),
                           done=DONE.get(request.args.get("done", "")))


def _upload(data: bytes, filename: str) -> str:
    try:
        out = import_statement(db.session, data, filename, g.user.id)
    except (ValueError, OverflowError, csv.Error) as e:  # as the API's upload: the file's fault
        raise Invalid("file", f"This file cannot be read as a bank statement: {e}") from None
    return url_for("pages.bank_statement", statement_id=out["id"], done="uploaded")


@bp.get("/bank/statements/<int:statement_id>")
@signed_in
def bank_statement(statement_id: int):
    """A statement's lines, each matched (to which movements) or not (with the guess offered)."""
    if statement_id > MAX_ID:
        abort(404)
    statement = statement_json(db.session, statement_id)
    ids = {t for ln in statement["lines"] for t in ln["transaction_ids"] + (ln["guess"] or [])}
    return render_template("pages/bank_statement.html", title=f"Bank statement {statement_id}",
                           statement=statement, row=db.session.get(BankStatement, statement_id),
                           moves=described(ids), done=DONE.get(request.args.get("done", "")),
                           unmatched=sum(ln["status"] == "unmatched" for ln in statement["lines"]))


def described(ids) -> dict[int, str]:
    """Client-money movements in words, by transaction: 'Receipt, 2 Oct 2026, £1,000.00, Ana
    Silva (ref BACS-1)', read in two queries however many."""
    ids = sorted(ids)
    if not ids:
        return {}
    found = movements(db.session, unmatched_only=False, ids=ids)
    about = {t: (kind, name) for t, kind, name in db.session.execute(
        sa.select(Transaction.id, Transaction.kind, Person.name).outerjoin(Person, Person.id == Transaction.person_id)
        .where(Transaction.id.in_(ids)))}
    out = {}
    for t, day, pence, ref, _, _ in found:
        kind, name = about.get(t, (None, None))
        words = [kind_of(kind).label if kind else "Movement", f"{day.day} {day:%b %Y}", money(pence)]
        out[t] = ", ".join(words + ([name] if name else [])) + (f" (ref {ref})" if ref else "")
    return out


class MatchForm(PageForm):
    def given(self) -> dict:
        """The typed transaction numbers as the API's list (blank: left out, so 'fill this in')."""
        parts = [p for p in re.split(r"[\s,]+", self.values.get("transaction_ids", "").strip()) if p]
        if not parts:
            return {}
        return {"transaction_ids": [int(p) if p.isdigit() and len(p) <= 18 else p for p in parts]}


@bp.route("/bank/statements/<int:statement_id>/lines/<int:line_id>/match", methods=["GET", "POST"])
@signed_in
def match_bank_line(statement_id: int, line_id: int):
    """Match one line to client-money movements that sum to it exactly (a guess offered first)."""
    statement = statement_json(db.session, statement_id) if statement_id <= MAX_ID else abort(404)
    line = next((ln for ln in statement["lines"] if ln["id"] == line_id), None)
    if line is None:
        abort(404)
    guess = line["guess"] or []
    form = MatchForm(MatchIn(), labels={"transaction_ids": "Transaction numbers"},
                     values={"transaction_ids": ", ".join(map(str, guess))})
    back = url_for("pages.bank_statement", statement_id=statement_id)
    sent = submitted(form, lambda: (match_by_hand(db.session, statement_id, line_id, form.data["transaction_ids"],
                                                  g.user.id), back + "?done=matched")[1])
    if sent is not None:
        return sent
    facts = [("Date", f"{line['date'].day} {line['date']:%B %Y}"), ("Description", line["description"] or "None"),
             ("Reference", line["reference"] or "None"), ("Amount", money(line["amount"]))]
    if line["status"] == "matched":
        facts.append(("Matched to", "; ".join(described(line["transaction_ids"]).values())))
    offered = described(guess)
    intro = (["These movements in the ledger may be what the line pays. Check them before you match:"] +
             [f"{offered[t]} (transaction {t})." for t in guess] if guess else
             ["Nothing in the ledger fits this line by itself. Find the movements it pays on the fund's page."])
    return show(form, [FormField("transaction_ids", hint="The ledger's transaction numbers this line pays, separated "
                                                         "by commas, for example 1041, 1042. They must add up to the "
                                                         "line's amount.", classes="govuk-!-width-two-thirds",
                                 inputmode="numeric")],
                title="Match a bank line", action=url_for("pages.match_bank_line", statement_id=statement_id,
                                                          line_id=line_id),
                button="Match the line", back=(f"Back to bank statement {statement_id}", back), facts=facts,
                intro=intro, caption="The client bank account")


@bp.route("/bank/reconcile", methods=["GET", "POST"])
@signed_in
def reconcile_bank():
    """The reconciliation as at a date, and completing it: only when it agrees to 0.00."""
    latest = db.session.scalar(sa.select(sa.func.max(BankStatement.closing_date)))
    form = PageForm(CompleteIn(), labels={"as_of": "Reconcile as at"},
                    values={"as_of": request.args.get("as_of") or (latest or clock.today()).isoformat()})
    sent = submitted(form, lambda: (complete(db.session, form.data["as_of"], g.user.id),
                                    url_for("pages.bank", done="reconciled"))[1])
    if sent is not None:
        return sent
    as_of = form.data.get("as_of") or _day(form.values.get("as_of")) or clock.today()
    r = report(db.session, as_of)
    def pounds(pence, none="Not known"):
        return money(pence) if pence is not None else none

    facts = [("The bank's balance", pounds(r["bank_balance"], "Not known: no bank statement closes by then")),
             ("Receipts not yet on the bank", pounds(r["outstanding_receipts"])),
             ("Payments not yet on the bank", pounds(r["outstanding_payments"])),
             ("Client money held (the ledger)", money(r["client_money_held"])),
             ("All the funds added up", money(r["funds_total"])),
             ("Bank difference", pounds(r["bank_difference"])),
             ("Difference", money(r["difference"])),
             ("Bank lines not matched", str(len(r["lines"]))),
             ("Last reconciled", f"{r['last_reconciled']:%-d %B %Y}" if r["last_reconciled"] else "Never")]
    links = [{"text": f"Download the report as at {as_of:%-d %B %Y} (PDF)",
              "href": url_for("pages.bank_report", as_of=as_of.isoformat(), format="pdf"), "download": True},
             {"text": "Download it as a spreadsheet (XLSX)",
              "href": url_for("pages.bank_report", as_of=as_of.isoformat(), format="xlsx"), "download": True}]
    return show(form, [DATE("as_of", hint="The date of the bank statement's closing balance, for example 2026-10-31")],
                title="Reconcile with the bank", action=url_for("pages.reconcile_bank"), button="Complete the "
                "reconciliation", back=("Back to the bank", url_for("pages.bank")), facts=facts, links=links,
                caption="The client bank account",
                intro=["It can be completed only when the bank difference and the difference are both £0.00."])


def _day(text):
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return None


@bp.get("/bank/report")
@signed_in
def bank_report():
    """The reconciliation report as a tagged PDF or XLSX, as GET /api/v1/reconciliation/report."""
    try:
        args = ReportQuery().load(request.args.to_dict())
    except ValidationError:
        abort(404)
    as_of = args["as_of"] or clock.today()
    data, mimetype, name = report_file(report(db.session, as_of), as_of, args["format"])
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


INTEREST_LABELS = {"date": "Date the bank paid it", "period_from": "For the period from",
                   "period_to": "To (the last day)", "amount": "Amount", "line_id": "Bank line (optional)"}


@bp.route("/bank/interest", methods=["GET", "POST"])
@signed_in
def bank_interest():
    """Record interest the bank paid on client money: shared by the funds' daily balances, or kept
    by the provider, as the provider's setting says."""
    values = {k: request.args[k] for k in ("line_id", "date", "amount") if k in request.args}
    form = PageForm(InterestIn(), labels=INTEREST_LABELS, values=values)
    handling = current(db.session).bank_interest
    sent = submitted(form, lambda: url_for("pages.bank_interest_paid", done="interest", interest_id=record_interest(
        db.session, handling=handling, user_id=g.user.id, **form.data)["id"]))
    if sent is not None:
        return sent
    fields = [DATE(), DATE("period_from", hint="For example, 2026-10-01"),
              DATE("period_to", hint="For example, 2026-10-31"),
              MONEY(hint="In pounds, for example 10.00. Leave it empty when you give the bank line."),
              FormField("line_id", classes="govuk-input--width-10", inputmode="numeric",
                        hint="The line's number from the bank statement's page. The interest is matched to it.")]
    return show(form, fields, title="Record interest from the bank", action=url_for("pages.bank_interest"),
                button="Record the interest", back=("Back to the bank", url_for("pages.bank")),
                caption="The client bank account", intro=[HANDLING.get(handling, "")])


@bp.get("/bank/interest/<int:interest_id>")
@signed_in
def bank_interest_paid(interest_id: int):
    """An interest payment: how it was handled and each fund's balance-days and share."""
    if interest_id > MAX_ID:
        abort(404)
    paid = interest_json(db.session, interest_id)
    ids = [s["person_id"] for s in paid["shares"]]
    names = dict(db.session.execute(sa.select(Person.id, Person.name).where(Person.id.in_(ids))).all()) if ids else {}
    return render_template("pages/bank_interest.html", title=f"Interest paid on {paid['date']:%-d %B %Y}",
                           paid=paid, names=names, handling=HANDLING.get(paid["handling"], ""),
                           done=DONE.get(request.args.get("done", "")))
