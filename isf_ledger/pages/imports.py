"""Finance's imports page: a rostering file (CSV or XLSX) of deliveries uploaded and applied
through accounts.imports.import_deliveries, the operation POST /api/v1/imports/deliveries runs
(the file read and checked by read_file first, then applied whole or not at all); and the page of
a long write started from a page (jobs.py): its progress, then its outcome.

An upload is a job: its page lists every bad row (row, column, reason) or the summary of what was
written. A file larger than PAGE_IMPORT_INLINE_BYTES is applied in the background; its page
shows the progress and asks the browser to load it again every few seconds (the HTTP `Refresh`
header, no JavaScript) until it is finished, with a link to stop that (WCAG 2.2.1).
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, g, make_response, render_template, request, url_for
from marshmallow import Schema

from .. import clock
from ..accounts.imports import COLUMNS, OPTIONAL, import_deliveries, read_file
from ..accounts.hours import banking_notice_hours
from ..db import db
from . import jobs
from .forms import PageForm
from .views import bp, signed_in

INLINE_BYTES = 256 * 1024  # default PAGE_IMPORT_INLINE_BYTES: about 4,000 rows of CSV
REFRESH_SECONDS = 3
RECENT = 10  # imports listed on the page
STATE_WORDS = {jobs.QUEUED: "Waiting to start", jobs.RUNNING: "Running", jobs.DONE: "Finished",
               jobs.REFUSED: "Nothing was written", jobs.FAILED: "Failed", jobs.STOPPED: "Stopped"}


class ImportIn(Schema):
    """The upload's only field is the file (request.files), read by the view."""


@bp.route("/imports", methods=["GET", "POST"])
@signed_in
def imports():
    """Upload a deliveries file; recent imports and how each ended."""
    form = PageForm(ImportIn(), labels={"file": "Upload a CSV or XLSX file"})
    if request.method == "POST" and form.load():
        file = form.uploaded(missing="Choose a CSV or XLSX file to upload",
                             empty="The file is empty: choose the file with the deliveries in it")
        if file:
            upload, data = file
            done = form.write(lambda: _start(upload.filename, data))
            if done is not None:
                jobs.launch()
                return done
    recent = db.session.scalars(sa.select(jobs.PageJob).where(jobs.PageJob.kind == "import")
                                .order_by(jobs.PageJob.id.desc()).limit(RECENT)).all()
    return render_template("pages/imports.html", title="Import deliveries", form=form, recent=recent,
                           columns=COLUMNS, optional=OPTIONAL, error_count=len(form.errors), state_of=jobs.state_of,
                           state_words=STATE_WORDS)


def _start(filename: str, data: bytes) -> str:
    """The import's job, to run once the form's commit has made it (small files in this request)."""
    job = jobs.create("import", filename)
    user_id, notice = g.user.id, banking_notice_hours()  # read in the request: the job runs without it

    def work(progress: jobs.Progress) -> dict:
        file = read_file(data)  # as the API's read_first: checked without the database (ImportRefused)
        progress.total(2 * file.count)  # each row is checked, then written (as the CLI's bar)

        def tell(stage: str, n: int) -> None:
            if stage in ("check", "write"):  # told at once when the checking ends and as writes land
                progress.add(n, force=stage == "write" or progress.done + n == file.count)

        return import_deliveries(db.session, file, filename=filename, user_id=user_id, notice_hours=notice,
                                 progress=tell)

    jobs.queue(job, work, background=len(data) > current_app.config.get("PAGE_IMPORT_INLINE_BYTES", INLINE_BYTES))
    return url_for("pages.job", job_id=job.id)


@bp.get("/jobs/<int:job_id>")
@signed_in
def job(job_id: int):
    """A long write's progress (the page loads itself again until it is finished), then its outcome."""
    found = db.session.get(jobs.PageJob, job_id) if job_id <= 2**62 else None
    if found is None:
        abort(404)
    state, done, total = jobs.state_of(found)
    running = state in (jobs.QUEUED, jobs.RUNNING)
    still = request.args.get("still") == "1"
    result = found.result or {}
    details = result.get("details") or {}
    errors = details.get("errors") if isinstance(details, dict) else None
    title = {"import": "Import", "month_end": "Month end"}.get(found.kind, "Job")
    heading = _heading(found, state)
    resp = make_response(render_template(
        "pages/job.html", title=heading, job=found, state=state, done=done, total=total, running=running,
        still=still, result=result, errors=errors if isinstance(errors, list) else None, details=details,
        kind_title=title, state_words=STATE_WORDS, refresh=REFRESH_SECONDS,
        error_count=1 if state == jobs.REFUSED else 0))
    if running and not still:
        resp.headers["Refresh"] = str(REFRESH_SECONDS)
    return resp


def _heading(job: jobs.PageJob, state: str) -> str:
    if job.kind == "import":
        return {jobs.DONE: "The file is imported", jobs.REFUSED: "The file was not imported",
                jobs.FAILED: "The import failed", jobs.STOPPED: "The import stopped"}.get(state, "Importing the file")
    return {jobs.DONE: "The statements are issued", jobs.REFUSED: "The statements were not issued",
            jobs.FAILED: "Month end failed", jobs.STOPPED: "Month end stopped"}.get(state, "Issuing the statements")


@bp.app_template_filter("moment")
def moment(value) -> str:
    """A moment as UK time to read: '2 Dec 2026, 06:10'."""
    if value is None:
        return ""
    if isinstance(value, str):
        from datetime import datetime
        value = datetime.fromisoformat(value)
    local = value.astimezone(clock.UK)
    return f"{local.day} {local:%b %Y, %H:%M}"
