"""The engine knows its kinds: what each may move, and which may take a fund below zero."""
from datetime import date

import pytest

from isf_ledger.ledger.post import Entry, LedgerBug, lock_funds, person_accounts, post, provider_accounts
from isf_ledger.db import db
from isf_ledger.errors import Conflict


def write(api, pid, kind, legs_of, day=date(2026, 10, 5)):
    """Post one entry through the engine, legs given as (pot or provider account kind, pence)."""
    with api.app.app_context():
        funds = lock_funds(db.session, [pid])
        accounts = {**provider_accounts(db.session), **person_accounts(db.session, pid)}
        try:
            post(db.session, [Entry(kind=kind, date=day, person_id=pid,
                                    legs=[(accounts[a], p) for a, p in legs_of])], funds)
            db.session.commit()
        finally:
            db.session.rollback()


def test_an_unknown_kind_is_a_programming_error(api):
    pid = api.person()
    with pytest.raises(LedgerBug, match="unknown kind"):
        write(api, pid, "gift", [("available", 100), ("client_money", -100)])


def test_the_fee_may_go_only_to_fee_income(api):
    pid = api.person()
    api.receipt(pid, "100.00")
    with pytest.raises(LedgerBug, match="may not move money on provider:support_income"):
        write(api, pid, "fee", [("available", -500), ("support_income", 500)])


def test_a_receipt_never_takes_money_out_of_a_fund(api):
    pid = api.person()
    api.receipt(pid, "100.00")
    with pytest.raises(LedgerBug, match="may not take money out of"):
        write(api, pid, "receipt", [("available", -500), ("client_money", 500)])


def test_a_payment_out_that_is_not_a_charge_for_support_may_not_overdraw(api):
    pid = api.person()
    api.receipt(pid, "100.00", "2026-10-01")  # 90.00 after the fee
    with pytest.raises(Conflict) as e:
        write(api, pid, "spend", [("available", -9001), ("client_money", 9001)])
    assert e.value.code == "insufficient_funds" and "90.01" in e.value.message
    write(api, pid, "spend", [("available", -9000), ("client_money", 9000)])
    assert api.balance(pid)["available"] == "0.00"


def test_a_payment_is_refused_when_a_later_item_would_be_left_short(api):
    pid = api.person()
    api.receipt(pid, "100.00", "2026-10-01")
    write(api, pid, "delivery", [("available", -5000), ("support_income", 5000),
                                 ("client_money", 5000), ("provider_bank", -5000)], day=date(2026, 10, 20))
    # On 10-05 the fund holds 90.00, but by 10-20 a charge has taken 50.00 of it.
    with pytest.raises(Conflict):
        write(api, pid, "spend", [("available", -6000), ("client_money", 6000)], day=date(2026, 10, 5))


def test_a_charge_for_support_given_may_overdraw_and_says_so_in_reconciliation(api):
    pid = api.person()
    api.receipt(pid, "100.00", "2026-10-01")
    write(api, pid, "delivery", [("available", -10000), ("support_income", 10000),
                                 ("client_money", 10000), ("provider_bank", -10000)])
    assert api.balance(pid)["available"] == "-10.00"
    assert api.get("/api/v1/reconciliation?as_of=2026-12-31")["funds_overdrawn"] == "10.00"


def test_reversing_the_first_of_a_group_reverses_the_rest(api):
    pid = api.person()
    r = api.receipt(pid, "100.00")
    fee = api.get(f"/api/v1/transactions/{r['fee_transaction_id']}")
    assert fee["follows_id"] == r["transaction_id"]
    out = api.post(f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "wrong fund"})
    assert out["related_reversal_transaction_ids"] == [out["fee_reversal_transaction_id"]]
    assert api.balance(pid)["available"] == "0.00"
