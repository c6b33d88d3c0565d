"""A month's money figures for many funds at once, each movement under one heading."""
from datetime import date

from isf_ledger.ledger.post import Entry, lock_funds, person_accounts, post, provider_accounts
from isf_ledger.db import db
from isf_ledger.reports.figures import month_money


def charge(api, pid, pence, day):
    with api.app.app_context():
        funds = lock_funds(db.session, [pid])
        acc, prov = person_accounts(db.session, pid), provider_accounts(db.session)
        post(db.session, [Entry(kind="delivery", date=day, person_id=pid,
                                legs=[(acc["available"], -pence), (prov["support_income"], pence),
                                      (prov["client_money"], pence), (prov["provider_bank"], -pence)])], funds)
        db.session.commit()


def test_a_month_of_receipts_fees_support_and_a_reversal(api):
    ana, bo = api.person("Ana"), api.person("Bo")
    api.receipt(ana, "2000.00", "2026-09-01")  # September: opening balance of October 1800.00
    api.receipt(ana, "2000.00", "2026-10-01")
    wrong = api.receipt(ana, "100.00", "2026-10-03")
    api.post(f"/api/v1/transactions/{wrong['transaction_id']}/reverse", {"reason": "Bo's money"})
    charge(api, ana, 30525, date(2026, 10, 20))
    charge(api, ana, 1000, date(2026, 11, 2))  # November: not October's
    api.receipt(bo, "50.00", "2026-10-31")
    with api.app.app_context():
        figures = month_money(db.session, None, date(2026, 10, 1))
    ana_oct, bo_oct = figures[ana], figures[bo]
    assert ana_oct.opening_balance == 180000
    assert ana_oct.totals["receipts_total"] == 200000  # the reversed 100.00 nets out
    assert ana_oct.totals["management_fee_total"] == 20000
    assert ana_oct.totals["support_charged_total"] == 30525
    assert ana_oct.closing_balance == 180000 + 180000 - 30525
    assert ana_oct.reconciles() and bo_oct.reconciles()
    assert (bo_oct.opening_balance, bo_oct.closing_balance, bo_oct.totals["receipts_total"]) == (0, 4500, 5000)
