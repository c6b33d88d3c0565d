"""Admins' audit log page: the log that auth/audit_log.py writes (as GET /api/v1/audit-log reads it),
newest first, a page at a time, filtered by user, action (the method), person (a fund's path)
and UK day; and the same rows, every one of them, as a CSV file with formula-safe cells
(sheets.Writer, as audit_log.export_csv)."""
from __future__ import annotations

import io
from datetime import datetime, time, timedelta
from math import ceil

import sqlalchemy as sa
from flask import Response, render_template, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .. import clock, sheets
from ..auth.audit_log import AUDIT_COLUMNS, AuditEntry, cell
from ..db import db
from ..auth.users import User
from .forms import PageForm
from .views import bp, signed_in

PER_PAGE = 50
ACTIONS = {"GET": "Read (GET)", "POST": "Write (POST)", "PUT": "Change (PUT)", "PATCH": "Change (PATCH)",
           "DELETE": "Delete (DELETE)"}


class AuditFilter(Schema):
    user_id = fields.Integer(load_default=None, strict=False, validate=validate.Range(min=1, max=2**62))
    action = fields.String(load_default=None, validate=validate.OneOf(tuple(ACTIONS), error="Choose an action"))
    person_id = fields.Integer(load_default=None, strict=False, validate=validate.Range(min=1, max=2**62))
    since = fields.Date(load_default=None, error_messages={"invalid": "Enter a real date, for example 2026-11-02"})
    until = fields.Date(load_default=None, error_messages={"invalid": "Enter a real date, for example 2026-11-30"})
    page = fields.Integer(load_default=1, strict=False, validate=validate.Range(min=1, max=10**6))

    @validates_schema
    def _in_order(self, data, **_):
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            raise ValidationError("The last day must be the same as or after the first day", "until")


LABELS = {"user_id": "User", "action": "Action", "person_id": "Person’s id", "since": "From (day)",
          "until": "To (day)"}
MESSAGES = {"person_id": "Enter a person’s id as a whole number, for example 12", "user_id": "Choose a user"}


def _filters() -> tuple[PageForm, dict]:
    """The query's filters read through AuditFilter, refused beside their field (as a form)."""
    form = PageForm(AuditFilter(), labels=LABELS, messages=MESSAGES)
    form.values = {k: v for k, v in request.args.items() if k in AuditFilter().fields}
    given = {k: v.strip() for k, v in form.values.items() if v.strip() != ""}
    try:
        form.data = form.schema.load(given)
    except ValidationError as e:
        form.refuse(e.messages)
        form.data = {}
    return form, form.data


def _where(data: dict) -> list:
    out = []
    if data.get("user_id"):
        out.append(AuditEntry.user_id == data["user_id"])
    if data.get("action"):
        out.append(AuditEntry.method == data["action"])
    if data.get("person_id"):
        # A fund's paths: /people/12, /people/12/..., /api/v1/people/12?..., never /people/123.
        base = f"/people/{data['person_id']}"
        out.append(sa.or_(*(AuditEntry.path.like(f"%{base}{tail}") for tail in ("", "/%", "?%"))))
    if data.get("since"):
        out.append(AuditEntry.at >= _uk_midnight(data["since"]))
    if data.get("until"):
        out.append(AuditEntry.at < _uk_midnight(data["until"] + timedelta(days=1)))
    return out


def _uk_midnight(day) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.UK)


@bp.get("/admin/audit-log")
@signed_in
def audit_log():
    """Who did what, newest first, a page at a time, filtered; the CSV of what is shown."""
    form, data = _filters()
    where = _where(data) if not form.errors else [sa.false()]
    total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(*where))
    pages = max(1, ceil(total / PER_PAGE))
    page = min(data.get("page") or 1, pages)
    entries = db.session.execute(sa.select(AuditEntry).where(*where).order_by(AuditEntry.id.desc())
                                 .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).scalars().all()
    users = db.session.execute(sa.select(User.id, User.name, User.role).order_by(User.name, User.id)).all()
    keep = {k: v for k, v in form.values.items() if k != "page" and v.strip()}
    chosen = form.values.get("user_id", ""), form.values.get("action", "")
    users_items = [{"value": str(i), "text": f"{name} ({role})", "selected": str(i) == chosen[0]}
                   for i, name, role in users]
    action_items = [{"value": k, "text": v, "selected": k == chosen[1]} for k, v in ACTIONS.items()]
    return render_template("pages/admin_audit_log.html", title="Audit log", form=form, entries=entries,
                           total=total, page=page, pages=pages, users_items=users_items, action_items=action_items,
                           keep=keep, error_count=len(form.errors))


@bp.get("/admin/audit-log.csv")
@signed_in
def audit_log_csv():
    """Every row the filters keep, oldest first, as CSV (cells that a spreadsheet would run as a
    formula are written as text)."""
    form, data = _filters()
    if form.errors:
        return audit_log()
    q = (sa.select(*(getattr(AuditEntry, c) for c in AUDIT_COLUMNS)).where(*_where(data))
         .order_by(AuditEntry.id).execution_options(yield_per=1000))
    out = io.StringIO()
    w = sheets.Writer(out, lineterminator="\n")
    w.writerow(AUDIT_COLUMNS)
    for row in db.session.execute(q):
        w.writerow([cell(v) for v in row])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'})
