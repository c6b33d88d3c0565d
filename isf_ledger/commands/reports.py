"""`isf-ledger statements issue YYYY-MM`: month end from the command line."""
from __future__ import annotations

import sys

import click
from flask import Flask, current_app

from ..db import db
from ..errors import LedgerError
from ..reports import statements as st
from ..clock import month_end, parse_month
from ..work import end_reads, unit_of_work


def init_app(app: Flask) -> None:
    @app.cli.group("statements")
    def statements_cli():
        """Monthly statements."""

    @statements_cli.command("issue")
    @click.argument("month", required=False)
    @click.option("--through", metavar="YYYY-MM", help="Issue every missing month up to this one, in order.")
    @click.option("--workers", type=int, default=0, help="Render PDFs in this many processes (0: in this one).")
    def issue_cmd(month, through, workers):
        """Run month end for MONTH (YYYY-MM): shared charges, then every open fund's statement, once.
        With --through instead, every month still missing up to it, in order, each committed as it
        is done. Exit 1 when a month is refused or anyone's statement could not be issued (named;
        running it again finishes them)."""
        if (month is None) == (through is None):
            raise click.UsageError("give MONTH or --through YYYY-MM (not both)")
        pool = None
        try:
            months = [parse_month(month)] if month else st.months_to_issue(db.session, parse_month(through))
            end_reads()  # the reads above end here: each month is its own unit of work
            if workers > 0:
                from concurrent.futures import ProcessPoolExecutor
                pool = ProcessPoolExecutor(workers)
            if not months:
                click.echo(f"Nothing to issue: every open fund's statements run to {through} already.")
            for first in months:
                people = len(st.due_funds(db.session, first, month_end(first)))
                with unit_of_work(), click.progressbar(length=people, label=f"Statements for {first:%Y-%m}") as bar:
                    done = st.issue_month(db.session, first, progress=bar.update, pool=pool)
                numbers = [s["number"] for s in done.statements]
                click.echo(f"{done.month}: {done.issued} statement(s) issued now, {done.already_issued} already "
                           "issued" + (f"; numbers {min(numbers)} to {max(numbers)}" if numbers else "") + ".")
                for row in done.not_charged:
                    click.echo(f"NOT CHARGED arrangement {row['arrangement_id']}: {row['reason']}", err=True)
                for row in done.not_issued:
                    click.echo(f"NOT ISSUED person {row['person_id']}: {row['reason']}", err=True)
                if done.not_issued:
                    click.echo(f"{len(done.not_issued)} statement(s) for {done.month} not issued; run it again "
                               "once they are put right" + (" (later months wait for them)."
                                                            if first != months[-1] else "."), err=True)
                    sys.exit(1)
        except LedgerError as e:
            end_reads()
            click.echo(f"Not issued: {e.message}", err=True)
            sys.exit(1)
        finally:
            if pool is not None:
                pool.shutdown()

    @statements_cli.command("send")
    @click.argument("month")
    def send_cmd(month):
        """Send MONTH's (YYYY-MM) statements: e-mail as each person prefers, post into the month's
        print batch. Safe to run again: nothing goes twice to one address."""
        from ..reports import sending as dl

        try:
            first = parse_month(month)
        except LedgerError as e:
            click.echo(f"Not sent: {e.message}", err=True)
            sys.exit(1)
        settings = dl.SmtpSettings.from_app(current_app)
        bar = click.progressbar(length=0, label=f"E-mails for {month}")
        with bar:
            def total(n):
                bar.length = n

            result = dl.send_month(db.session, first, settings, progress=bar.update, on_total=total)
        log = dl.delivery_log(db.session, first)
        check = sum(1 for x in log if x["needs_check"])
        click.echo(f"{month}: {result.summary()}."
                   + (f" {check} need checking by a person: see GET /api/v1/statements/{month}/deliveries."
                      if check else ""))

    @app.cli.command("scheduler")
    @click.option("--standby-seconds", default=30, show_default=True,
                  help="While another scheduler holds the lock, how often to try to take it.")
    def scheduler_cmd(standby_seconds):
        """Run month end on its timetable (ISF_MONTH_END_WORKING_DAY, ISF_MONTH_END_TIME, UK time)
        and retry deliveries, until stopped. Run it as its own process, on as many servers as you
        like: one holds the database's scheduler lock and runs; the others stand by."""
        import time as _time

        from ..scheduler import SchedulerLock, build_scheduler, trigger_for

        app = current_app._get_current_object()
        lock = SchedulerLock(db.engine)
        if not lock.acquire():
            click.echo("Another scheduler holds this database's scheduler lock: standing by, "
                       f"trying again every {standby_seconds} s. Ctrl-C stops it.")
            try:
                while not lock.acquire():
                    _time.sleep(standby_seconds)
            except (KeyboardInterrupt, SystemExit):
                return
        scheduler = build_scheduler(app, lock=lock)
        click.echo(f"Scheduler started: {trigger_for(app)}, then retrying deliveries. Ctrl-C stops it.")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            lock.release()
        if getattr(scheduler, "lost_lock", False):
            click.echo("The scheduler lost its database lock and stopped; start it again.", err=True)
            sys.exit(1)

    @app.cli.command("review-pack")
    @click.argument("person", type=int)
    @click.option("--from", "start", required=True, help="First day (YYYY-MM-DD); its whole month is included.")
    @click.option("--to", "end", required=True, help="Last day (YYYY-MM-DD); its whole month is included.")
    @click.option("--output", required=True, type=click.Path(dir_okay=False, writable=True), help="The .xlsx to write.")
    def review_pack_cmd(person, start, end, output):
        """Write PERSON's council review pack (XLSX) for whole months from --from to --to."""
        from datetime import date

        from ..models import Person
        from ..reports.review_pack import period_of, render_review_pack, review_pack

        try:
            first, last = period_of(date.fromisoformat(start), date.fromisoformat(end))
        except ValueError:
            click.echo("Give --from and --to as YYYY-MM-DD.", err=True)
            sys.exit(2)
        if first > last:
            click.echo("--from must be on or before --to.", err=True)
            sys.exit(2)
        if db.session.get(Person, person) is None:
            click.echo(f"No person {person}.", err=True)
            sys.exit(1)
        data = render_review_pack(review_pack(db.session, person, first, last))
        end_reads()
        with open(output, "wb") as f:
            f.write(data)
        click.echo(f"Review pack for person {person}, {first:%Y-%m} to {last:%Y-%m}: {output} ({len(data)} bytes).")
