"""Ana's and Bo's books to November 2026, read by the one-meaning and workbook tests: council
and own-contribution receipts (one council instalment missed), support given, refused, unplanned,
banked and drawn from the bank, a visit the provider cancelled, a reversed session, a shared
sleep-in, a thing bought and contingency set aside; October's and November's statements issued.
The tests set today to 5 December 2026."""
from __future__ import annotations

MONTH = "2026-11"


def deliver(api, pid, day, qty, status="delivered", **extra):
    return api.post(f"/api/v1/people/{pid}/deliveries", {
        "date": day, "start_time": "10:00", "service": "day_support", "quantity": qty, "status": status,
        "domain": "personal_care", **extra})


def books(api):
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "20.00",
                               "effective_from": "2026-01-01"})
    ana, bo = api.person("Ana"), api.person("Bo")
    for pid in (ana, bo):
        api.plan(pid, effective_from="2026-10-01", weekly_client_contribution="20.00", contingency_amount="500.00",
                 planned_weekly_hours={"day_support": "10.00"})
        api.receipt(pid, "1920.00", "2026-10-01")  # the council's first instalment
        api.receipt(pid, "80.00", "2026-10-01", source="client_contribution")
    api.receipt(ana, "1920.00", "2026-10-29")  # 26 November's does not come: arrears
    arr = api.post("/api/v1/shared-arrangements", {"name": "Sleep-in", "capacity": 3, "method": "equal",
                                                   "per_night": "12.00", "effective_from": "2026-10-01",
                                                   "domain": "staying_safe"})
    api.post(f"/api/v1/shared-arrangements/{arr['id']}/members", {
        "person_id": ana, "weight": "1", "from": "2026-10-01", "agreed_on": "2026-09-01", "recorded_by": "broker"})
    deliver(api, ana, "2026-10-06", "10.00")
    deliver(api, ana, "2026-11-03", "6.00")
    deliver(api, ana, "2026-11-05", "2.00", "refused")
    deliver(api, ana, "2026-11-06", "1.50", "unplanned")
    deliver(api, ana, "2026-11-12", "2.00", "provider_cancelled")
    deliver(api, ana, "2026-11-20", "4.00", "banked", notice_given_at="2026-11-10T09:00:00")
    deliver(api, ana, "2026-11-25", "3.00", "bank_used")
    mistake = deliver(api, ana, "2026-11-26", "5.00")
    api.post(f"/api/v1/deliveries/{mistake['id']}/reverse", {"reason": "recorded twice"})
    api.post(f"/api/v1/people/{ana}/spend", {"date": "2026-11-04", "amount": "45.00", "payee": "Drama Club",
                                             "category": "classes", "domain": "work_leisure_learning",
                                             "description": "Autumn term", "invoice_reference": "DC-1"})
    api.post(f"/api/v1/people/{ana}/contingency/set-aside", {"date": "2026-11-02", "amount": "200.00"})
    for m in ("2026-10", MONTH):
        api.post(f"/api/v1/statements/{m}/issue", {}, expect=200)
    return ana, bo
