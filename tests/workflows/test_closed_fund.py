"""A closed fund takes no further writes (domain.md "Closing a fund"): every write endpoint that
concerns the person answers 409 `fund_closed` and leaves nothing behind, whether it would post
money or not. The list of such endpoints is checked against the app's URL map, so an endpoint
added later must be put on one list or the other."""
from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from isf_ledger import clock, create_app
from isf_ledger.auth.access import ACCESS, PUBLIC
from isf_ledger.db import db
from isf_ledger.auth.users import endpoint_key

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
CLOSED_ON = "2026-11-15"
LATER = "2026-12-01"

# Every write for a person, with an otherwise valid body for the closed fund built below
# (`ids` names its things). Each must answer 409 fund_closed once the fund is closed.
PERSON_WRITES = {
    "people.OnePerson.patch": lambda i: (f"/api/v1/people/{i['person']}", {"name": "Ana Correct"}, "PATCH"),
    "plans.Plans.post": lambda i: (f"/api/v1/people/{i['person']}/plans", {
        "effective_from": LATER, "annual_budget": "26000.00", "management_fee_rate": "0.10",
        "payment_cycle": "four_weekly", "planned_weekly_hours": {"day_support": "7.00"}}),
    "receipts.Receipts.post": lambda i: (f"/api/v1/people/{i['person']}/receipts", {
        "date": LATER, "amount": "1.00", "source": "council"}),
    "deliveries.Deliveries.post": lambda i: (f"/api/v1/people/{i['person']}/deliveries", {
        "date": LATER, "start_time": "10:00", "service": "day_support", "quantity": "1.00",
        "status": "delivered", "domain": "personal_care"}),
    "deliveries.reverse.post": lambda i: (f"/api/v1/deliveries/{i['delivery']}/reverse", {"reason": "wrong day"}),
    "contingency.set_aside.post": lambda i: (f"/api/v1/people/{i['person']}/contingency/set-aside", {
        "date": LATER, "amount": "1.00"}),
    "contingency.draw.post": lambda i: (f"/api/v1/people/{i['person']}/contingency/draws", {
        "date": LATER, "amount": "1.00", "reason": "extra support", "authorised_by": "Sam"}),
    "spend.PersonSpend.post": lambda i: (f"/api/v1/people/{i['person']}/spend", {
        "date": LATER, "amount": "1.00", "payee": "Leisure centre", "category": "leisure",
        "domain": "health", "description": "swim"}),
    "spend.upload_receipt_file.post": lambda i: (f"/api/v1/spend/{i['spend']}/receipt-file", PNG),
    "transactions.reverse_transaction.post": lambda i: (f"/api/v1/transactions/{i['receipt_txn']}/reverse", {
        "reason": "paid twice"}),
    "clawback.clawback.post": lambda i: (f"/api/v1/people/{i['person']}/clawbacks", {
        "date": LATER, "amount": "1.00", "reference": "CB-9", "notice_given_on": "2026-10-01"}),
    "clawback.fee_refund.post": lambda i: (f"/api/v1/people/{i['person']}/fee-refunds", {
        "date": LATER, "amount": "1.00", "reason": "the council's contract"}),
    "clawback.close.post": lambda i: (f"/api/v1/people/{i['person']}/close", {
        "date": LATER, "destination": "council", "reference": "again"}),
    "statements.correct.post": lambda i: (f"/api/v1/people/{i['person']}/statements/2026-10/corrections", {
        "reason": "the name was misspelt"}),
    "statements.set_delivery.post": lambda i: (f"/api/v1/people/{i['person']}/statement-delivery", {
        "method": "post", "address_lines": ["12 Rowan Close", "Kelsall"]}),
    "shared_support.Members.post": lambda i: (f"/api/v1/shared-arrangements/{i['arrangement']}/members", {
        "person_id": i["person"], "from": LATER, "agreed_on": "2026-11-01", "recorded_by": "Sam"}),
    "queries.raise_one.post": lambda i: (f"/api/v1/people/{i['person']}/queries", {
        "message": "What was this?", "spend_id": i["spend"]}),
    "shared_support.review_member.post": lambda i: (
        f"/api/v1/shared-arrangements/{i['arrangement']}/members/{i['membership']}/reviews", {
            "effective_from": "2026-10-20", "to": "2026-10-25", "agreed_on": "2026-10-01", "recorded_by": "Sam"}),
}

# Writes that are not for one person, and why a closed fund does not refuse them.
NOT_FOR_ONE_PERSON = {
    "people.People.post": "creates a new person and fund",
    "rates.Rates.post": "the provider's rate card",
    "provider.Provider.patch": "the provider's own details",
    "councils.Councils.post": "a council and its rules",
    "councils.OneCouncil.patch": "a council and its rules",
    "exports.NominalCodes.put": "the provider's nominal codes for its finance system",
    "shared_support.Arrangements.post": "a new arrangement, no members yet",
    "shared_support.add_version.post": "the arrangement's cost; a re-charge that reaches a closed member's fund "
                                       "is refused by the posting engine",
    "shared_support.MonthCharges.post": "the arrangement's month; a closed member's months are charged when "
                                        "the fund closes, and a posting to it would be refused",
    "statements.issue.post": "every open fund's statement; closed funds got their final one",
    "statements.resolve.post": "records whether an issued statement's e-mail went out; the final statement "
                               "must still reach the person after the fund is closed",
    "queries.answer.post": "answers a question already asked: one open when the fund closed is still answered",
    "pages.text_size.post": "the signed-in user's own text size on the pages",
    "bank_statements.upload.post": "the client bank account's statement, for every fund",
    "bank_statements.match_line.post": "matches a bank line to ledger movements already posted; writes no money",
    "bank_statements.record_interest_.post": "the bank's interest for every fund; a closed fund's share is "
                                             "held by the provider, never posted to it (see test_interest.py)",
    "reconciliation.complete_reconciliation.post": "records that the client account reconciles, for every fund",
    "pages.bank.post": "the bank's statement uploaded from the page, as bank_statements.upload",
    "pages.match_bank_line.post": "a bank line matched from the page, as bank_statements.match_line",
    "pages.bank_interest.post": "the bank's interest recorded from the page, as bank_statements.record_interest_",
    "pages.reconcile_bank.post": "the reconciliation completed from the page, as reconciliation.complete",
    "pages.month_end.post": "month end for every open fund, through statements.issue's operation",
    "pages.users.post": "a new user",
    "pages.disable_user.post": "disables a user",
    "pages.new_person.post": "creates a new person and fund (people.People.post's operation)",
    "pages.council_rules.post": "a council and its rules",
    "pages.rate_card.post": "the provider's rate card",
    "pages.imports.post": "a file of many people's rows, through imports.import_file.post's operation",
    "pages.new_arrangement.post": "a new arrangement, no members yet",
    "pages.arrangement_version.post": "the arrangement's cost, through shared_support.add_version.post's operation",
    "pages.shared_month.post": "the arrangement's month, through shared_support.MonthCharges.post's operation",
    "pages.resolve_delivery.post": "records whether an issued statement's e-mail went out (statements.resolve.post)",
    "imports.import_file.post": "a file of many people's rows; a closed person's row makes the whole file a "
                                "422 naming the row (see test below)",
}

# Page forms that send one of the writes above through the same operation (their refusal is the
# operation's; a page is reached signed in, not with the Bearer token these tests send).
PAGE_FORMS = {"pages.raise_query_form.post": "queries.raise_one.post",
              "pages.new_receipt.post": "receipts.Receipts.post",
              "pages.reverse_line.post": "transactions.reverse_transaction.post",
              "pages.new_delivery.post": "deliveries.Deliveries.post",
              # the broker's week goes through the import, which names a closed person's row (422)
              "pages.week.post": "deliveries.Deliveries.post",
              "pages.record_spend_page.post": "spend.PersonSpend.post",
              # the broker's spend: a step keeps answers and the photo; its check page records
              "pages.spend_step.post": "spend.PersonSpend.post",
              "pages.spend_check.post": "spend.PersonSpend.post",
              "pages.set_aside.post": "contingency.set_aside.post",
              "pages.draw.post": "contingency.draw.post",
              "pages.correct_person_name.post": "people.OnePerson.patch",
              "pages.fee_refund.post": "clawback.fee_refund.post",
              "pages.clawback.post": "clawback.clawback.post",
              "pages.close.post": "clawback.close.post",
              "pages.new_plan.post": "plans.Plans.post",
              "pages.new_member.post": "shared_support.Members.post",
              "pages.review_member_form.post": "shared_support.review_member.post"}

# Path arguments that name a person or a thing in their fund.
PERSON_ARGS = {"person_id", "spend_id", "transaction_id", "membership_id"}


def _writes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.endpoint.split(".")[0] in PUBLIC:
            continue
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            yield rule, endpoint_key(rule.endpoint, method)


def test_every_write_endpoint_is_listed_as_for_a_person_or_not():
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    writes = dict((key, rule) for rule, key in _writes(app))
    assert not set(PERSON_WRITES) & set(NOT_FOR_ONE_PERSON)
    assert set(PAGE_FORMS.values()) <= set(PERSON_WRITES)
    unlisted = sorted(set(writes) - set(PERSON_WRITES) - set(NOT_FOR_ONE_PERSON) - set(PAGE_FORMS))
    assert not unlisted, (f"write endpoints on neither list: {unlisted}; add each to PERSON_WRITES (and make "
                          "it refuse a closed fund) or to NOT_FOR_ONE_PERSON with the reason")
    assert not sorted((set(PERSON_WRITES) | set(NOT_FOR_ONE_PERSON) | set(PAGE_FORMS)) - set(writes)), "listed but gone"
    assert set(writes) <= set(ACCESS)
    for key, rule in writes.items():
        args = set(re.findall(r"<(?:\w+:)?(\w+)>", rule.rule))
        names_a_fund = bool(args & PERSON_ARGS) or rule.rule.startswith("/api/v1/deliveries/")
        if names_a_fund:
            assert key in PERSON_WRITES or key in PAGE_FORMS, f"{rule.rule} names a person's fund: list it in PERSON_WRITES"


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 10))


@pytest.fixture
def receipt_files_dir(app, tmp_path):
    app.config["RECEIPT_FILES_DIR"] = str(tmp_path / "receipt-files")
    return tmp_path / "receipt-files"


def closed_fund(api) -> dict:
    """Ana, with a record of every kind the writes above touch, then closed on CLOSED_ON;
    Ben shares her house and stays."""
    for service, unit, rate in (("day_support", "hour", "20.00"), ("sleep_in", "night", "62.40")):
        api.post("/api/v1/rates", {"service": service, "unit": unit, "rate": rate, "effective_from": "2026-01-01"})
    ana, ben = api.person("Ana"), api.person("Ben")
    for pid in (ana, ben):
        api.plan(pid, effective_from="2026-10-01", contingency_amount="500.00")
    receipt = api.receipt(ana, "2000.00", "2026-10-01")
    api.receipt(ben, "2000.00", "2026-10-01")
    api.post(f"/api/v1/people/{ana}/contingency/set-aside", {"date": "2026-10-02", "amount": "300.00"})
    delivery = api.post(f"/api/v1/people/{ana}/deliveries", {
        "date": "2026-10-05", "start_time": "10:00", "service": "day_support", "quantity": "5.00",
        "status": "delivered", "domain": "personal_care"})
    spend = api.post(f"/api/v1/people/{ana}/spend", {
        "date": "2026-10-06", "amount": "12.50", "payee": "Leisure centre", "category": "leisure",
        "domain": "health", "description": "swim"})
    arr = api.post("/api/v1/shared-arrangements", {"name": "Sleep-in, 12 Rowan Close", "capacity": 2,
                                                   "method": "equal", "per_night": "62.40",
                                                   "effective_from": "2026-10-01"})
    member = api.post(f"/api/v1/shared-arrangements/{arr['id']}/members", {
        "person_id": ana, "from": "2026-10-01", "to": "2026-10-31", "agreed_on": "2026-09-01", "recorded_by": "Sam"})
    api.post(f"/api/v1/shared-arrangements/{arr['id']}/members", {
        "person_id": ben, "from": "2026-10-01", "agreed_on": "2026-09-01", "recorded_by": "Sam"})
    api.post(f"/api/v1/shared-arrangements/{arr['id']}/charges/2026-10", {})
    api.post("/api/v1/statements/2026-10/issue", {}, expect=200)
    api.post(f"/api/v1/people/{ana}/statement-delivery", {"method": "email", "email": "ana@example.org"})
    api.post(f"/api/v1/people/{ana}/close", {"date": CLOSED_ON, "destination": "council", "reference": "NS-1"})
    delivery_id = delivery["id"] if "id" in delivery else delivery["deliveries"][0]["id"]
    return {"person": ana, "other": ben, "receipt_txn": receipt["transaction_id"], "delivery": delivery_id,
            "spend": spend["id"], "arrangement": arr["id"], "membership": member["id"]}


def row_counts(app) -> dict[str, int]:
    """Every table but the audit log (which records refused attempts too)."""
    with app.app_context():
        names = [t for t in sa.inspect(db.engine).get_table_names() if t not in ("audit_log", "alembic_version")]
        counts = {t: db.session.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in names}
        db.session.rollback()
    return counts


def send(api, path, body, method="POST"):
    if isinstance(body, bytes):  # a multipart upload
        data = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.png\"\r\n"
                b"Content-Type: image/png\r\n\r\n" + body + b"\r\n--XyZ--\r\n")
        return api.client.post(path, data=data, content_type="multipart/form-data; boundary=XyZ",
                               headers={"Authorization": f"Bearer {api.token}"})
    return api.call(method, path, body)


def test_every_write_for_a_closed_fund_is_refused_and_writes_nothing(api, today, receipt_files_dir):
    ids = closed_fund(api)
    before = row_counts(api.app)
    files_before = sorted(p.name for p in receipt_files_dir.rglob("*")) if receipt_files_dir.exists() else []
    for key, build in PERSON_WRITES.items():
        path, body, *method = build(ids)
        r = send(api, path, body, *method)
        err = (r.get_json() or {}).get("error", {})
        assert (r.status_code, err.get("code")) == (409, "fund_closed"), (key, r.status_code, r.get_json())
        assert "closed" in err["message"] and err["details"]["closed_on"] == CLOSED_ON, (key, err)
        assert row_counts(api.app) == before, key
    files_after = sorted(p.name for p in receipt_files_dir.rglob("*")) if receipt_files_dir.exists() else []
    assert files_after == files_before
    # The person who stays can still be written for: the refusal is the closed fund's alone.
    api.receipt(ids["other"], "10.00", LATER)
    assert api.app.test_cli_runner().invoke(args=["audit"]).exit_code == 0


def test_a_closed_fund_refuses_after_the_body_is_checked(api, today):
    """The contract's order: a bad body is 422 even for a closed fund; 409 only for a valid one."""
    ids = closed_fund(api)
    r = api.call("POST", f"/api/v1/people/{ids['person']}/statement-delivery", {"method": "carrier pigeon"})
    assert r.status_code == 422
    r = api.call("POST", f"/api/v1/people/{ids['person']}/statements/2026-10/corrections", {})
    assert r.status_code == 422
    r = api.call("POST", f"/api/v1/people/{ids['person']}/receipts", {"date": LATER, "amount": "-1"})
    assert r.status_code == 422
    r = api.call("POST", f"/api/v1/people/{ids['person']}/statements/2026-09/corrections", {"reason": "x"})
    assert r.status_code == 404
    r = api.call("POST", "/api/v1/people/999999/statement-delivery", {"method": "post", "address_lines": ["x"]})
    assert r.status_code == 404
    broker = api.user("broker")
    r = api.call("POST", f"/api/v1/people/{ids['person']}/statements/2026-10/corrections", {"reason": "x"},
                 token=broker)
    assert r.status_code == 403


def test_an_import_with_a_closed_persons_row_writes_nothing(api, today):
    ids = closed_fund(api)
    before = row_counts(api.app)
    csv = ("person,date,start_time,service,quantity,status,notice_given_at,domain\n"
           f"{ids['other']},{LATER},10:00,day_support,1.00,delivered,,personal_care\n"
           f"{ids['person']},{LATER},10:00,day_support,1.00,delivered,,personal_care\n").encode()
    data = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\n"
            b"Content-Type: text/csv\r\n\r\n" + csv + b"\r\n--XyZ--\r\n")
    r = api.client.post("/api/v1/imports/deliveries", data=data, content_type="multipart/form-data; boundary=XyZ",
                        headers={"Authorization": f"Bearer {api.token}", "Idempotency-Key": "imp-1"})
    assert r.status_code == 422, r.get_json()  # the file is refused whole, its closed-fund row named
    assert "closed" in str(r.get_json()["error"])
    assert row_counts(api.app) == before
