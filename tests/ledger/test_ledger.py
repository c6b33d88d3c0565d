"""The ledger's invariants: idempotency, reversal once, immutability enforced by the database itself,
a balanced transaction or none, closed months and closed funds."""
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from isf_ledger.ledger.post import CHECKPOINT_SLOTS, Entry, lock_funds, person_accounts, post, provider_accounts
from isf_ledger.models import Fund
from isf_ledger.accounts.receipts import record_receipt
from isf_ledger.db import db
from isf_ledger.errors import Conflict
from isf_ledger.money import format_pence


def count(app, table):
    with app.app_context():
        return db.session.scalar(sa.text(f"SELECT COUNT(*) FROM {table}"))


# --- idempotency -------------------------------------------------------------------------------

def test_replay_returns_the_first_result_and_writes_nothing(api):
    pid = api.person()
    body = {"date": "2026-10-01", "amount": "2000.00", "source": "council"}
    first = api.call("POST", f"/api/v1/people/{pid}/receipts", body, key="oct-payment")
    assert first.status_code == 201
    before = count(api.app, "postings")
    again = api.call("POST", f"/api/v1/people/{pid}/receipts", body, key="oct-payment")
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(api.app, "postings") == before
    assert api.balance(pid)["available"] == "1800.00"


def test_same_key_with_another_body_is_409(api):
    pid = api.person()
    api.call("POST", f"/api/v1/people/{pid}/receipts",
             {"date": "2026-10-01", "amount": "2000.00", "source": "council"}, key="k1")
    r = api.call("POST", f"/api/v1/people/{pid}/receipts",
                 {"date": "2026-10-01", "amount": "2500.00", "source": "council"}, key="k1")
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "idempotency_key_reused"
    assert api.balance(pid)["available"] == "1800.00"


def test_same_key_on_another_path_is_409(api):
    a, b = api.person("Ana"), api.person("Bo")
    body = {"date": "2026-10-01", "amount": "10.00", "source": "council"}
    assert api.call("POST", f"/api/v1/people/{a}/receipts", body, key="k2").status_code == 201
    assert api.call("POST", f"/api/v1/people/{b}/receipts", body, key="k2").status_code == 409


def test_a_refused_write_does_not_use_up_its_key(api):
    pid = api.person()
    bad = api.call("POST", f"/api/v1/people/{pid}/receipts",
                   {"date": "2026-10-01", "amount": "abc", "source": "council"}, key="k3")
    assert bad.status_code == 422
    good = api.call("POST", f"/api/v1/people/{pid}/receipts",
                    {"date": "2026-10-01", "amount": "10.00", "source": "council"}, key="k3")
    assert good.status_code == 201


def test_person_creation_is_idempotent(api):
    body = {"name": "Ana", "council": "Northshire", "council_reference": "NS-ANA"}
    first = api.call("POST", "/api/v1/people", body, key="new-ana").get_json()
    again = api.call("POST", "/api/v1/people", body, key="new-ana").get_json()
    assert first == again
    assert len(api.get("/api/v1/people")) == 1


# --- reversal ----------------------------------------------------------------------------------

def test_reversing_a_receipt_reverses_its_fee_once(api):
    pid = api.person()
    api.plan(pid)
    r = api.receipt(pid, "2000.00", "2026-10-01")
    api.receipt(pid, "500.00", "2026-10-02")
    rev = api.post(f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "paid to the wrong fund"})
    assert rev["reverses_transaction_id"] == r["transaction_id"]
    assert rev["fee_reversal_transaction_id"] is not None
    assert rev["date"] == "2026-10-01"
    assert api.balance(pid)["available"] == "450.00"
    txn = api.get(f"/api/v1/transactions/{rev['transaction_id']}")
    assert txn["reverses_id"] == r["transaction_id"] and txn["reason"] == "paid to the wrong fund"
    assert api.get(f"/api/v1/transactions/{r['transaction_id']}")["reversed_by"] == rev["transaction_id"]
    receipts = api.get(f"/api/v1/people/{pid}/receipts")
    assert receipts[0]["reversed_by_transaction_id"] == rev["transaction_id"]

    again = api.call("POST", f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "twice"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_reversed"
    assert api.balance(pid)["available"] == "450.00"


def test_a_fee_is_reversed_only_with_its_receipt_and_a_reversal_never(api):
    pid = api.person()
    r = api.receipt(pid)
    fee = api.call("POST", f"/api/v1/transactions/{r['fee_transaction_id']}/reverse", {"reason": "no fee"})
    assert fee.status_code == 409 and fee.get_json()["error"]["code"] == "reverse_the_receipt"
    rev = api.post(f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "mistake"})
    back = api.call("POST", f"/api/v1/transactions/{rev['transaction_id']}/reverse", {"reason": "undo"})
    assert back.status_code == 409 and back.get_json()["error"]["code"] == "cannot_reverse_reversal"


def test_reversal_may_be_dated_later_but_not_earlier(api):
    pid = api.person()
    r = api.receipt(pid, "100.00", "2026-10-10")
    early = api.call("POST", f"/api/v1/transactions/{r['transaction_id']}/reverse",
                     {"reason": "x", "date": "2026-10-09"})
    assert early.status_code == 422 and "date" in early.get_json()["error"]["details"]
    api.post(f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "x", "date": "2026-11-02"})
    assert api.balance(pid, "2026-10-31")["available"] == "90.00"
    assert api.balance(pid, "2026-11-02")["available"] == "0.00"


def test_reversal_of_a_receipt_may_take_the_fund_below_zero_and_reconciliation_says_so(api):
    pid = api.person()
    r = api.receipt(pid, "100.00", "2026-10-01")
    # Money spent in between would do the same; here a second, fee-exempt receipt is reversed after
    # a first one: the fund is made to owe what it never had.
    with api.app.app_context():
        funds = lock_funds(db.session, [pid])
        acc, prov = person_accounts(db.session, pid), provider_accounts(db.session)
        post(db.session, [Entry(kind="delivery", date=date(2026, 10, 5), person_id=pid,
                                legs=[(acc["available"], -8000), (prov["support_income"], 8000),
                                      (prov["client_money"], 8000), (prov["provider_bank"], -8000)])], funds)
        db.session.commit()
    api.post(f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "paid to the wrong fund"})
    assert api.balance(pid)["available"] == "-80.00"
    rec = api.get("/api/v1/reconciliation")
    assert rec["reconciles"] is True and rec["funds_overdrawn"] == "80.00"


# --- the database refuses what the rules refuse -------------------------------------------------

def allocate(session, txn_id):
    """Allocate a transaction id as the posting engine does, so a forged posting meets the
    checks after the allocation one."""
    session.execute(sa.text("INSERT INTO transaction_ids (id) VALUES (:i)"), {"i": txn_id})


def history_refuses(api, sql):
    """Write a plan, a receipt and a rate, then check `sql` is refused and changed nothing."""
    pid = api.person()
    api.plan(pid)
    api.receipt(pid)
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50",
                               "effective_from": "2026-01-01"})
    with api.app.app_context():
        with pytest.raises(IntegrityError, match="immutable"):
            db.session.execute(sa.text(sql))
        db.session.rollback()
    assert api.balance(pid)["available"] == "1800.00"
    assert api.get("/api/v1/rates")[0]["rate"] == "18.50"


@pytest.mark.parametrize("sql", [
    "UPDATE postings SET amount_pence = amount_pence + 1",
    "DELETE FROM postings",
    "UPDATE transactions SET date = '2026-01-01'",
    "DELETE FROM transactions",
    "UPDATE receipts SET amount_pence = 1",
    "DELETE FROM receipts",
    "UPDATE plan_versions SET annual_budget_pence = 1",
    "UPDATE rates SET rate = '1.00'",
    # Accounts say whose money a posting is; funds whose history it is.
    "UPDATE accounts SET person_id = NULL WHERE person_id IS NOT NULL",
    "UPDATE accounts SET kind = 'contingency' WHERE kind = 'available'",
    "UPDATE accounts SET code = code || '-moved'",
    "DELETE FROM accounts WHERE person_id IS NOT NULL",
    "UPDATE funds SET person_id = person_id + 1",
    "UPDATE funds SET opened_on = '2099-01-01'",
    "DELETE FROM funds",
    "UPDATE transaction_ids SET id = id + 1000",
    "DELETE FROM transaction_ids",
])
def test_raw_sql_cannot_change_history(api, sql):
    history_refuses(api, sql)


@pytest.mark.parametrize("table", ["postings", "receipts", "accounts", "funds", "transaction_ids"])
def test_truncate_of_history_is_refused_on_postgresql(api, backend, table):
    if backend != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    api.receipt(api.person())
    with api.app.app_context():
        with pytest.raises(IntegrityError, match="immutable"):
            db.session.execute(sa.text(f"TRUNCATE {table} CASCADE"))
        db.session.rollback()
    assert count(api.app, "postings") == 6  # the receipt 2, its fee 4


def test_database_refuses_an_unbalanced_transaction(api):
    pid = api.person()
    with api.app.app_context():
        acc = person_accounts(db.session, pid)
        allocate(db.session, 900)
        db.session.execute(sa.text(
            "INSERT INTO postings (transaction_id, account_id, date, amount_pence) VALUES (900, :a, '2026-10-01', 500)"),
            {"a": acc["available"].id})
        with pytest.raises(IntegrityError, match="unbalanced"):
            db.session.execute(sa.text(
                "INSERT INTO transactions (id, kind, date, service_date, person_id, description, created_at) "
                "VALUES (900, 'receipt', '2026-10-01', '2026-10-01', :p, 'forged', '2026-10-01 00:00:00')"),
                {"p": pid})
        db.session.rollback()


def test_postings_without_a_header_cannot_be_committed(api):
    pid = api.person()
    with api.app.app_context():
        acc = person_accounts(db.session, pid)
        allocate(db.session, 901)
        db.session.execute(sa.text(
            "INSERT INTO postings (transaction_id, account_id, date, amount_pence) VALUES (901, :a, '2026-10-01', 500)"),
            {"a": acc["available"].id})
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
    assert count(api.app, "postings") == 0


def test_a_posting_cannot_join_a_transaction_already_written(api):
    pid = api.person()
    r = api.receipt(pid)
    with api.app.app_context():
        acc = person_accounts(db.session, pid)
        with pytest.raises(IntegrityError, match="already posted"):
            db.session.execute(sa.text(
                "INSERT INTO postings (transaction_id, account_id, date, amount_pence) "
                "VALUES (:t, :a, '2026-10-01', 500)"), {"t": r["transaction_id"], "a": acc["available"].id})
        db.session.rollback()


def test_posting_engine_refuses_money_moving_between_two_funds(app):
    from isf_ledger.ledger.post import LedgerBug
    from isf_ledger.accounts.people import create_person

    with app.app_context():
        a = create_person(db.session, name="A", council="N", council_reference="1", may_name_council=True)
        b = create_person(db.session, name="B", council="N", council_reference="2", may_name_council=True)
        funds = lock_funds(db.session, [a.id, b.id])
        acc_a, acc_b = person_accounts(db.session, a.id), person_accounts(db.session, b.id)
        with pytest.raises(LedgerBug, match="between funds"):
            post(db.session, [Entry(kind="transfer", date=date(2026, 10, 1), person_id=a.id,
                                    legs=[(acc_a["available"], -100), (acc_b["available"], 100)])], funds)
        db.session.rollback()


# --- closed months and closed funds ------------------------------------------------------------

def test_a_late_item_is_posted_in_the_first_open_month_keeping_its_service_date(app):
    from isf_ledger.accounts.people import create_person

    with app.app_context():
        pid = create_person(db.session, name="A", council="N", council_reference="1",
                            opened_on=date(2026, 1, 1), may_name_council=True).id
        db.session.execute(sa.update(Fund).where(Fund.person_id == pid).values(issued_through=date(2026, 10, 1)))
        receipt = record_receipt(db.session, pid, date=date(2026, 10, 20), amount_pence=10000, source="council")
        db.session.commit()
        txn = db.session.execute(sa.text("SELECT date, service_date FROM transactions WHERE id = :i"),
                                 {"i": receipt.transaction_id}).one()
        assert (str(txn[0]), str(txn[1])) == ("2026-11-01", "2026-10-20")


def test_a_closed_fund_takes_no_further_postings(api):
    pid = api.person()
    r = api.receipt(pid)
    with api.app.app_context():
        db.session.execute(sa.update(Fund).where(Fund.person_id == pid).values(closed_on=date(2026, 10, 31)))
        db.session.commit()
    late = api.call("POST", f"/api/v1/people/{pid}/receipts",
                    {"date": "2026-11-01", "amount": "10.00", "source": "council"})
    assert late.status_code == 409
    assert late.get_json()["error"]["code"] == "fund_closed" and "closed" in late.get_json()["error"]["message"]
    rev = api.call("POST", f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "x"})
    assert rev.status_code == 409


def test_closed_fund_error_is_a_conflict_in_the_service_layer(app):
    from isf_ledger.accounts.people import create_person

    with app.app_context():
        pid = create_person(db.session, name="A", council="N", council_reference="1", may_name_council=True).id
        db.session.execute(sa.update(Fund).where(Fund.person_id == pid).values(closed_on=date(2026, 1, 1)))
        with pytest.raises(Conflict):
            lock_funds(db.session, [pid])
        db.session.rollback()


def test_database_refuses_a_transaction_between_two_funds(api):
    a, b = api.person("Ana"), api.person("Bo")
    with api.app.app_context():
        acc_a, acc_b = person_accounts(db.session, a), person_accounts(db.session, b)
        allocate(db.session, 902)
        db.session.execute(sa.text(
            "INSERT INTO postings (transaction_id, account_id, date, amount_pence) VALUES "
            "(902, :a, '2026-10-01', -500), (902, :b, '2026-10-01', 500)"),
            {"a": acc_a["available"].id, "b": acc_b["available"].id})
        with pytest.raises(IntegrityError, match="one fund only"):
            db.session.execute(sa.text(
                "INSERT INTO transactions (id, kind, date, service_date, person_id, description, created_at) "
                "VALUES (902, 'transfer', '2026-10-01', '2026-10-01', :a, 'forged', '2026-10-01 00:00:00')"),
                {"a": a})
        db.session.rollback()


@pytest.mark.parametrize("sql", [
    "INSERT OR REPLACE INTO transactions (id, kind, date, service_date, person_id, description, created_at) "
    "SELECT id, kind, '2030-01-01', service_date, person_id, 'rewritten', created_at FROM transactions LIMIT 1",
    "INSERT OR REPLACE INTO postings (id, transaction_id, account_id, date, amount_pence) "
    "SELECT id, transaction_id, account_id, date, amount_pence + 1 FROM postings LIMIT 1",
    "INSERT OR REPLACE INTO receipts SELECT * FROM receipts LIMIT 1",
    "INSERT OR REPLACE INTO rates (service, unit, rate, effective_from, created_at) "
    "SELECT service, unit, '99.00', effective_from, created_at FROM rates LIMIT 1",
    "INSERT OR REPLACE INTO accounts (id, code, kind, person_id, name) "
    "SELECT id, code, 'contingency', person_id, name FROM accounts WHERE kind = 'available' LIMIT 1",
    "INSERT OR REPLACE INTO funds (id, person_id, opened_on) SELECT id, person_id, '2020-01-01' FROM funds LIMIT 1",
    "INSERT OR REPLACE INTO transaction_ids (id) SELECT id FROM transaction_ids LIMIT 1",
])
def test_sqlite_insert_or_replace_cannot_rewrite_history(api, backend, sql):
    if backend != "sqlite":
        pytest.skip("INSERT OR REPLACE is SQLite's")
    history_refuses(api, sql)


# --- checkpoint slots --------------------------------------------------------------------------

def test_receipts_for_people_in_different_slots_write_their_own_provider_checkpoints_and_still_add_up(api):
    """A provider account's month is kept in the writing fund's slot (ledger.post.CHECKPOINT_SLOTS):
    two people's receipts land in two rows of client money for October, their own pots in slot 0,
    and the balances, the reconciliation (both read the checkpoints once the month is past) and
    the self-audit agree with the postings to the penny."""
    ana, bo = api.person("Ana Smith"), api.person("Bo Jones")
    assert ana % CHECKPOINT_SLOTS != bo % CHECKPOINT_SLOTS
    api.receipt(ana, "2000.01", "2026-10-01")
    api.receipt(bo, "333.33", "2026-10-02")
    api.receipt(ana, "10.07", "2026-10-03")  # a later transaction of Ana's: her slot again
    with api.app.app_context():
        s = db.session
        prov = {k: a.id for k, a in provider_accounts(s).items()}
        people = {(who, k): a.id for who, pid in (("ana", ana), ("bo", bo)) for k, a in person_accounts(s, pid).items()}
        rows = s.execute(sa.text("SELECT account_id, slot, net_pence FROM account_months "
                                 "WHERE month = '2026-10-01'")).all()
        posted = dict(s.execute(sa.text("SELECT account_id, SUM(amount_pence) FROM postings "
                                        "WHERE date >= '2026-10-01' AND date < '2026-11-01' GROUP BY account_id")).all())
        s.rollback()
    slots: dict[int, dict[int, int]] = {}
    for account, slot, pence in rows:
        slots.setdefault(account, {})[slot] = pence
    for kind in ("client_money", "fee_income", "provider_bank"):
        assert set(slots[prov[kind]]) == {ana % CHECKPOINT_SLOTS, bo % CHECKPOINT_SLOTS}, kind
    assert all(set(slots[a]) == {0} for a in people.values() if a in slots)
    assert {a: sum(by_slot.values()) for a, by_slot in slots.items()} == {a: int(p) for a, p in posted.items()}
    # Ana's slot of client money holds both her receipts less their fees, Bo's his.
    pence = {"ana": posted[people[("ana", "available")]], "bo": posted[people[("bo", "available")]]}
    client_money = slots[prov["client_money"]]
    assert (-client_money[ana % CHECKPOINT_SLOTS], -client_money[bo % CHECKPOINT_SLOTS]) == (pence["ana"], pence["bo"])

    # Balances and the reconciliation in November: October read from its (slotted) checkpoints.
    a, b = api.balance(ana, "2026-11-30"), api.balance(bo, "2026-11-30")
    assert (a["available"], b["available"]) == (api.balance(ana, "2026-10-31")["available"],
                                                api.balance(bo, "2026-10-31")["available"])
    assert a["available"] == format_pence(pence["ana"]) and b["available"] == format_pence(pence["bo"])
    for as_of in ("2026-10-31", "2026-11-30"):
        rec = api.get(f"/api/v1/reconciliation?as_of={as_of}")
        assert rec["funds_total"] == rec["client_money_held"] == format_pence(pence["ana"] + pence["bo"]), rec
        assert rec["difference"] == "0.00" and rec["reconciles"] is True

    result = api.runner.invoke(args=["audit"])
    assert result.exit_code == 0, result.output
    assert "the books hold" in result.output and "BAD" not in result.output
