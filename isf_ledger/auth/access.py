"""Who may call what, in one table (what they did is kept by audit_log.py).

ACCESS maps each endpoint and method ("people.People.post") to the roles that may call it;
`users.guard` reads it on every request, and tests/auth/test_access_matrix.py checks every rule of
the app's URL map has an entry, so an endpoint added without a rule fails the tests. Scope (a
person sees only their own fund, an auditor only their council's people) is checked by the
view's `Scope` on top of the role. The README's table is generated from ACCESS
(`python -m isf_ledger.access_table`), and a test checks it matches.

The rules: `auditor` and `person` read within their scope and never write, but for one thing:
a person (or their representative) may raise a query about their own fund (RESTRICTED_WRITES),
which moves no money and changes nothing already written; `broker` records
people, plans, deliveries, spend, contingency and shared arrangements, but cannot take money
in, reverse, run charges, issue or correct statements, or change councils; `finance` does
everything but user admin (which is the CLI's `isf-ledger users`, run by an admin on the
server) and reading the audit log; `admin` has finance's powers and reads the audit log.
"""
from __future__ import annotations

from flask import Flask

from .users import (ADMIN, ANYONE, FINANCE, FINANCE_OR_AUDITOR, FINANCE_OR_BROKER, NOT_AUDITOR, NOT_PERSON)

# Endpoint and method -> roles. Keep sorted by path; the README table is generated from it.
ACCESS: dict[str, tuple[str, ...]] = {
    "audit_log.audit_log.get": ADMIN,  # GET /api/v1/audit-log
    "bank_statements.upload.post": FINANCE,  # POST /api/v1/bank-statements
    "bank_statements.one_statement.get": FINANCE,  # GET /api/v1/bank-statements/<id>
    "bank_statements.match_line.post": FINANCE,  # POST /api/v1/bank-statements/<id>/lines/<id>/match
    "bank_statements.record_interest_.post": FINANCE,  # POST /api/v1/bank-interest
    "bank_statements.one_interest.get": FINANCE,  # GET /api/v1/bank-interest/<id>
    "councils.Councils.get": ANYONE,  # GET /api/v1/councils
    "councils.Councils.post": FINANCE,  # POST /api/v1/councils
    "councils.OneCouncil.get": NOT_PERSON,  # GET /api/v1/councils/<id>
    "councils.OneCouncil.patch": FINANCE,  # PATCH /api/v1/councils/<id>
    "actuals.council_actuals.get": FINANCE_OR_AUDITOR,  # GET /api/v1/councils/<id>/actuals/<month> (own council)
    "councils.council_history.get": NOT_PERSON,  # GET /api/v1/councils/<id>/history
    "dashboard.dashboard.get": FINANCE,  # GET /api/v1/dashboard
    "deliveries.reverse.post": FINANCE,  # POST /api/v1/deliveries/<id>/reverse
    "exports.NominalCodes.get": FINANCE,  # GET /api/v1/exports/nominal-codes
    "exports.NominalCodes.put": FINANCE,  # PUT /api/v1/exports/nominal-codes
    "exports.export_books.get": FINANCE,  # GET /api/v1/exports/<format>
    "people.People.get": ANYONE,  # GET /api/v1/people
    "people.People.post": FINANCE_OR_BROKER,  # POST /api/v1/people
    "people.OnePerson.get": ANYONE,  # GET /api/v1/people/<id>
    "people.OnePerson.patch": FINANCE_OR_BROKER,  # PATCH /api/v1/people/<id> (a name corrected)
    "people.person_history.get": ANYONE,  # GET /api/v1/people/<id>/history (the name's corrections)
    "instalments.person_arrears.get": ANYONE,  # GET /api/v1/people/<id>/arrears
    "people.balance.get": ANYONE,  # GET /api/v1/people/<id>/balance
    "contingency.contingency.get": ANYONE,  # GET /api/v1/people/<id>/contingency
    "contingency.draw.post": FINANCE_OR_BROKER,  # POST /api/v1/people/<id>/contingency/draws
    "contingency.set_aside.post": FINANCE_OR_BROKER,  # POST /api/v1/people/<id>/contingency/set-aside
    "deliveries.Deliveries.get": ANYONE,  # GET /api/v1/people/<id>/deliveries
    "deliveries.Deliveries.post": FINANCE_OR_BROKER,  # POST /api/v1/people/<id>/deliveries
    "deliveries.hours.get": ANYONE,  # GET /api/v1/people/<id>/hours
    "forecast.get_forecast.get": ANYONE,  # GET /api/v1/people/<id>/forecast
    "instalments.instalments.get": ANYONE,  # GET /api/v1/people/<id>/instalments
    "plans.Plans.get": ANYONE,  # GET /api/v1/people/<id>/plans
    "plans.Plans.post": FINANCE_OR_BROKER,  # POST /api/v1/people/<id>/plans
    "queries.list_queries.get": ANYONE,  # GET /api/v1/people/<id>/queries
    "queries.raise_one.post": NOT_AUDITOR,  # POST /api/v1/people/<id>/queries (the person's one write)
    "receipts.Receipts.get": ANYONE,  # GET /api/v1/people/<id>/receipts
    "receipts.Receipts.post": FINANCE,  # POST /api/v1/people/<id>/receipts
    "spend.PersonSpend.get": ANYONE,  # GET /api/v1/people/<id>/spend
    "spend.PersonSpend.post": FINANCE_OR_BROKER,  # POST /api/v1/people/<id>/spend
    "statements.get_statement.get": ANYONE,  # GET /api/v1/people/<id>/statements/<month>
    "statements.correct.post": FINANCE,  # POST /api/v1/people/<id>/statements/<month>/corrections
    "transactions.person_transactions.get": ANYONE,  # GET /api/v1/people/<id>/transactions
    "rates.Rates.get": ANYONE,  # GET /api/v1/rates
    "rates.Rates.post": FINANCE,  # POST /api/v1/rates
    "queries.answer.post": FINANCE_OR_BROKER,  # POST /api/v1/queries/<id>/answers
    "reconciliation.reconciliation.get": FINANCE,  # GET /api/v1/reconciliation
    "reconciliation.complete_reconciliation.post": FINANCE,  # POST /api/v1/reconciliation/complete
    "reconciliation.reconciliation_report.get": FINANCE,  # GET /api/v1/reconciliation/report
    "shared_support.Arrangements.get": ANYONE,  # GET /api/v1/shared-arrangements
    "shared_support.Arrangements.post": FINANCE_OR_BROKER,  # POST /api/v1/shared-arrangements
    "provider.Provider.get": ANYONE,  # GET /api/v1/provider
    "provider.Provider.patch": FINANCE,  # PATCH /api/v1/provider
    "shared_support.get_arrangement.get": ANYONE,  # GET /api/v1/shared-arrangements/<id>
    "shared_support.MonthCharges.get": ANYONE,  # GET /api/v1/shared-arrangements/<id>/charges/<month>
    "shared_support.MonthCharges.post": FINANCE,  # POST /api/v1/shared-arrangements/<id>/charges/<month>
    "shared_support.Members.get": ANYONE,  # GET /api/v1/shared-arrangements/<id>/members
    "shared_support.Members.post": FINANCE_OR_BROKER,  # POST /api/v1/shared-arrangements/<id>/members
    "shared_support.review_member.post": FINANCE_OR_BROKER,  # POST .../members/<id>/reviews
    "shared_support.add_version.post": FINANCE_OR_BROKER,  # POST /api/v1/shared-arrangements/<id>/versions
    "spend.get_spend.get": ANYONE,  # GET /api/v1/spend/<id>
    "spend.upload_receipt_file.post": FINANCE_OR_BROKER,  # POST /api/v1/spend/<id>/receipt-file
    "spend.download_receipt_file.get": ANYONE,  # GET /api/v1/spend/<id>/receipt-file
    "statements.issue.post": FINANCE,  # POST /api/v1/statements/<month>/issue
    "transactions.get_transaction.get": ANYONE,  # GET /api/v1/transactions/<id>
    "transactions.reverse_transaction.post": FINANCE,  # POST /api/v1/transactions/<id>/reverse
    "clawback.clawback.post": FINANCE,  # POST /api/v1/people/<id>/clawbacks
    "clawback.fee_refund.post": FINANCE,  # POST /api/v1/people/<id>/fee-refunds
    "clawback.surplus.get": ANYONE,  # GET /api/v1/people/<id>/surplus
    "clawback.surplus_notice.get": ANYONE,  # GET /api/v1/people/<id>/surplus-notice (the letter)
    "clawback.close.post": FINANCE,  # POST /api/v1/people/<id>/close
    "statements.review_pack.get": ANYONE,  # GET /api/v1/people/<id>/review-pack (the person's own too)
    "statements.set_delivery.post": FINANCE_OR_BROKER,  # POST /api/v1/people/<id>/statement-delivery
    "statements.get_delivery.get": ANYONE,  # GET /api/v1/people/<id>/statement-delivery
    "imports.import_file.post": FINANCE_OR_BROKER,  # POST /api/v1/imports/deliveries
    "statements.deliveries.get": FINANCE,  # GET /api/v1/statements/<month>/deliveries
    "statements.print_batch.get": FINANCE,  # GET /api/v1/statements/<month>/print-batch
    "statements.resolve.post": FINANCE,  # POST /api/v1/statement-deliveries/<id>/resolve
    "pages.home.get": ANYONE,  # GET / (the web pages: a signed-in user, by the session cookie)
    "pages.text_size.post": ANYONE,  # POST /text-size (the user's own text size)
    "pages.person.get": ANYONE,  # GET /people/<id> (a fund's page: the one visibility rule applies)
    "pages.this_month.get": ANYONE,  # GET /people/<id>/this-month
    "pages.statements.get": ANYONE,  # GET /people/<id>/statements
    "pages.statement.get": ANYONE,  # GET /people/<id>/statements/<month>
    "pages.statement_download.get": ANYONE,  # GET /people/<id>/statements/<month>/<document>
    "pages.spend.get": ANYONE,  # GET /people/<id>/spend
    "pages.spend_receipt.get": ANYONE,  # GET /people/<id>/spend/<spend_id>/receipt
    "pages.queries.get": ANYONE,  # GET /people/<id>/queries (the person's questions and their answers)
    "pages.raise_query_form.post": NOT_AUDITOR,  # POST /people/<id>/queries ("I don't recognise this")
    "pages.review.get": NOT_PERSON,  # GET /people/<id>/review (a reviewer's page; auditors land on it at /people/<id>)
    "pages.review_pack_download.get": ANYONE,  # GET /people/<id>/review-pack.xlsx (one route for every role)
    # Finance's pages (pages/finance.py): the same roles as the API operations they stand on.
    "pages.dashboard.get": FINANCE,  # GET /dashboard
    "pages.dashboard_xlsx.get": FINANCE,  # GET /dashboard.xlsx
    "pages.new_receipt.get": FINANCE,  # GET /people/<id>/receipts/new
    "pages.new_receipt.post": FINANCE,  # POST /people/<id>/receipts/new (check, then record)
    "pages.reverse_line.get": FINANCE,  # GET /transactions/<id>/reverse
    "pages.reverse_line.post": FINANCE,  # POST /transactions/<id>/reverse (check, then reverse)
    "pages.month_end.get": FINANCE,  # GET /month-end
    "pages.month_end.post": FINANCE,  # POST /month-end (issue a month's statements)
    "pages.new_person.get": FINANCE_OR_BROKER,  # GET /people/new (as the API's POST /api/v1/people)
    "pages.new_person.post": FINANCE_OR_BROKER,  # POST /people/new (a person and their fund)
    "pages.new_delivery.get": FINANCE_OR_BROKER,  # GET /people/<id>/deliveries/new
    "pages.new_delivery.post": FINANCE_OR_BROKER,  # POST /people/<id>/deliveries/new (a session of support)
    "pages.record_spend_page.get": FINANCE_OR_BROKER,  # GET /people/<id>/spend/record (finance's one-page form)
    "pages.record_spend_page.post": FINANCE_OR_BROKER,  # POST /people/<id>/spend/record (spend and its receipt file)
    "pages.set_aside.get": FINANCE_OR_BROKER,  # GET /people/<id>/contingency/set-aside
    "pages.set_aside.post": FINANCE_OR_BROKER,  # POST /people/<id>/contingency/set-aside (set money aside in the contingency)
    "pages.draw.get": FINANCE_OR_BROKER,  # GET /people/<id>/contingency/draw
    "pages.draw.post": FINANCE_OR_BROKER,  # POST /people/<id>/contingency/draw (a draw on the contingency)
    "pages.correct_person_name.get": FINANCE_OR_BROKER,  # GET /people/<id>/name
    "pages.correct_person_name.post": FINANCE_OR_BROKER,  # POST /people/<id>/name (a name corrected, as PATCH /api/v1/people/<id>)
    "pages.fee_refund.get": FINANCE,  # GET /people/<id>/fee-refund
    "pages.fee_refund.post": FINANCE,  # POST /people/<id>/fee-refund (management fee refunded)
    "pages.clawback.get": FINANCE,  # GET /people/<id>/clawback
    "pages.clawback.post": FINANCE,  # POST /people/<id>/clawback (surplus recovered by the council)
    "pages.close.get": FINANCE,  # GET /people/<id>/close
    "pages.close.post": FINANCE,  # POST /people/<id>/close (check, then close the fund)
    "pages.surplus_notice.get": ANYONE,  # GET /people/<id>/surplus-notice.pdf (the letter; the one visibility rule applies)
    "pages.new_plan.get": FINANCE,  # GET /people/<id>/plans/new (finance: it sets the fee and rates)
    "pages.new_plan.post": FINANCE,  # POST /people/<id>/plans/new (a plan version)
    "pages.councils.get": FINANCE,  # GET /councils (each council, linked to its rules)
    "pages.council_rules.get": FINANCE,  # GET /councils/<id>/rules (as set, in force today, and their history)
    "pages.council_rules.post": FINANCE,  # POST /councils/<id>/rules (as PATCH /api/v1/councils/<id>)
    "pages.rate_card.get": FINANCE,  # GET /rates (the rate card, with the form for a new rate)
    "pages.rate_card.post": FINANCE,  # POST /rates (as POST /api/v1/rates)
    "pages.shared_list.get": FINANCE_OR_BROKER,  # GET /shared (every shared arrangement)
    "pages.new_arrangement.get": FINANCE_OR_BROKER,  # GET /shared/new
    "pages.new_arrangement.post": FINANCE_OR_BROKER,  # POST /shared/new (as POST /api/v1/shared-arrangements)
    "pages.arrangement.get": FINANCE_OR_BROKER,  # GET /shared/<id> (versions, members and their reviews)
    "pages.arrangement_version.get": FINANCE_OR_BROKER,  # GET /shared/<id>/versions/new
    "pages.arrangement_version.post": FINANCE_OR_BROKER,  # POST /shared/<id>/versions/new (a new cost or number of places)
    "pages.new_member.get": FINANCE_OR_BROKER,  # GET /shared/<id>/members/new
    "pages.new_member.post": FINANCE_OR_BROKER,  # POST /shared/<id>/members/new (a member, with their consent)
    "pages.review_member_form.get": FINANCE_OR_BROKER,  # GET /shared/<id>/members/<membership_id>/review
    "pages.review_member_form.post": FINANCE_OR_BROKER,  # POST /shared/<id>/members/<membership_id>/review
    "pages.shared_month_pick.get": FINANCE_OR_BROKER,  # GET /shared/<id>/month (the month picker)
    "pages.shared_month.get": FINANCE_OR_BROKER,  # GET /shared/<id>/charges/<month> (the month's charge and its working)
    "pages.shared_month.post": FINANCE,  # POST /shared/<id>/charges/<month> (charge the month, once)
    # Brokers' pages (pages/broker.py), phone first: brokers and finance, as the API's deliveries and spend.
    "pages.broker_people.get": FINANCE_OR_BROKER,  # GET /people (the people they support, this week)
    "pages.week.get": FINANCE_OR_BROKER,  # GET /people/<id>/week (the planned sessions to mark)
    "pages.week.post": FINANCE_OR_BROKER,  # POST /people/<id>/week (the week's sessions, through the import)
    "pages.new_spend.get": FINANCE_OR_BROKER,  # GET /people/<id>/spend/new (a spend started afresh)
    "pages.spend_step.get": FINANCE_OR_BROKER,  # GET /people/<id>/spend/new/<step> (one question)
    "pages.spend_step.post": FINANCE_OR_BROKER,  # POST /people/<id>/spend/new/<step> (its answer, the photo)
    "pages.spend_check.get": FINANCE_OR_BROKER,  # GET /people/<id>/spend/new/check (check answers)
    "pages.spend_check.post": FINANCE_OR_BROKER,  # POST /people/<id>/spend/new/check (the spend and its photo)
    "pages.users.get": ADMIN,  # GET /admin/users
    "pages.users.post": ADMIN,  # POST /admin/users (create a user)
    "pages.disable_user.get": ADMIN,  # GET /admin/users/<id>/disable (who, and that they will be signed out at once)
    "pages.disable_user.post": ADMIN,  # POST /admin/users/<id>/disable (disable them, once)
    "pages.audit_log.get": ADMIN,  # GET /admin/audit-log (paged, filtered by user, action, person, day)
    "pages.audit_log_csv.get": ADMIN,  # GET /admin/audit-log.csv (the filtered rows, formula-safe)
    "pages.imports.get": FINANCE,  # GET /imports
    "pages.imports.post": FINANCE,  # POST /imports (upload a deliveries file: as POST /api/v1/imports/deliveries)
    "pages.bank.get": FINANCE,  # GET /bank (the client bank account today, its statements and interest)
    "pages.bank.post": FINANCE,  # POST /bank (upload the bank's statement: as POST /api/v1/bank-statements)
    "pages.bank_statement.get": FINANCE,  # GET /bank/statements/<id> (its lines, matched or with a guess)
    "pages.match_bank_line.get": FINANCE,  # GET /bank/statements/<id>/lines/<id>/match (the guess offered)
    "pages.match_bank_line.post": FINANCE,  # POST /bank/statements/<id>/lines/<id>/match (as the API's match)
    "pages.reconcile_bank.get": FINANCE,  # GET /bank/reconcile (the reconciliation as at a date)
    "pages.reconcile_bank.post": FINANCE,  # POST /bank/reconcile (complete it: as POST /api/v1/reconciliation/complete)
    "pages.bank_report.get": FINANCE,  # GET /bank/report (the reconciliation report, PDF or XLSX)
    "pages.bank_interest.get": FINANCE,  # GET /bank/interest (the form for interest the bank paid)
    "pages.bank_interest.post": FINANCE,  # POST /bank/interest (as POST /api/v1/bank-interest)
    "pages.bank_interest_paid.get": FINANCE,  # GET /bank/interest/<id> (how it was handled, each fund's share)
    "pages.job.get": FINANCE,  # GET /jobs/<id> (an import's or a month end's progress, then its outcome)
    "pages.month_deliveries.get": FINANCE,  # GET /month-end/<month>/deliveries (the delivery log)
    "pages.resolve_delivery.post": FINANCE,  # POST /month-end/deliveries/<id>/resolve (as .../resolve in the API)
    "pages.month_print_batch.get": FINANCE,  # GET /month-end/<month>/print-batch.pdf
}
# The only writes to a fund a restricted role may make, and who: a person's query about their own
# fund, over the API and from the pages.
RESTRICTED_WRITES: dict[str, frozenset[str]] = {"queries.raise_one.post": frozenset({"person"}),
                                                "pages.raise_query_form.post": frozenset({"person"})}
# Endpoints open to all: the API's description, static files, and signing in and out (signing
# out only empties the caller's own session, so it needs no role; its form still needs a CSRF token).
PUBLIC = {"api-docs.openapi_json", "static", "pages.static", "pages.login", "pages.login_post", "pages.logout"}


def roles_for(key: str) -> tuple[str, ...]:
    """The roles allowed; an endpoint missing from the table is closed to everyone."""
    return ACCESS.get(key, ())


def init_app(app: Flask) -> None:
    app.extensions["isf_roles_for"] = roles_for  # users.guard reads it: users.py names the roles, this file the table
