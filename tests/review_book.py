"""A small book for the reviewer's and the queries' pages: Łukasz Nowak and Cy Jones funded by
Northshire, Bo by Southshire, each with a plan from October 2026; Łukasz has money in, two weeks
of support (5.00 and 7.50 hours against 7.00 planned), a contingency draw with its reason and who
authorised it, and a taxi. Today is 31 October 2026."""
from __future__ import annotations

from datetime import date

from isf_ledger import clock

PASSWORD = "correct horse battery staple"
DAY = {"service": "day_support", "start_time": "10:00", "domain": "personal_care"}


def build(api, monkeypatch) -> dict:
    monkeypatch.setattr(clock, "today", lambda: date(2026, 10, 31))
    api.post("/api/v1/rates", {"service": "day_support", "unit": "hour", "rate": "18.50", "effective_from": "2026-01-01"})
    ana = api.person("Łukasz Nowak", council="Northshire", ref="NS-0042")
    cy = api.person("Cy Jones", council="Northshire", ref="NS-0099")
    bo = api.person("Bo", council="Southshire", ref="SS-1")
    for pid in (ana, cy, bo):
        api.plan(pid, effective_from="2026-10-01", contingency_amount="500.00", budget_lines=[
            {"domain": "personal_care", "outcome": "Gets up and dressed", "annual_amount": "20000.00"}])
    api.receipt(ana, "2000.00", "2026-10-01")
    for day, hours in (("2026-10-06", "5.00"), ("2026-10-13", "7.50")):  # weeks 41 and 42
        api.post(f"/api/v1/people/{ana}/deliveries", {**DAY, "date": day, "quantity": hours, "status": "delivered"})
    api.post(f"/api/v1/people/{ana}/contingency/set-aside", {"date": "2026-10-02", "amount": "100.00"})
    api.post(f"/api/v1/people/{ana}/contingency/draws", {"date": "2026-10-20", "amount": "40.00",
                                                         "reason": "Extra support after a fall",
                                                         "authorised_by": "Dr Okafor"})
    spend = api.post(f"/api/v1/people/{ana}/spend", {"date": "2026-10-09", "amount": "12.50", "payee": "Taxi Co",
                                                     "category": "transport", "domain": "work_leisure_learning",
                                                     "description": "Taxi to drama"})["id"]
    return {"ana": ana, "cy": cy, "bo": bo, "spend": spend}
