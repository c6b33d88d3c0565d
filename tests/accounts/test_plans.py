"""Support plans: versions in force by date, expected instalments and arrears, council rules."""
from datetime import date

import pytest

from isf_ledger.accounts.councils import rule_on
from isf_ledger.models import Council
from isf_ledger.accounts.people import create_person
from isf_ledger.accounts.plans import add_plan, plan_on, plan_year_start
from isf_ledger.db import db
from isf_ledger.errors import Invalid
from isf_ledger.clock import add_months


def dues(api, pid, to):
    return [(i["due"], i["council"], i["person"]) for i in api.get(f"/api/v1/people/{pid}/instalments?to={to}")]


def test_four_weekly_instalments_are_due_every_28_days_from_the_plan_start(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-04-01", annual_budget="26000.00", payment_cycle="four_weekly")
    got = dues(api, pid, "2026-10-31")
    assert [d for d, _, _ in got] == ["2026-04-01", "2026-04-29", "2026-05-27", "2026-06-24", "2026-07-22",
                                      "2026-08-19", "2026-09-16", "2026-10-14"]
    assert {c for _, c, _ in got} == {"2000.00"}
    a = api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-10-31")
    assert a["council"] == {"due": "16000.00", "received": "0.00", "arrears": "16000.00"}
    api.receipt(pid, "2000.00", "2026-10-01")
    a = api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-10-31")
    assert a["council"] == {"due": "16000.00", "received": "2000.00", "arrears": "14000.00"}
    assert a["person"] == {"due": "0.00", "received": "0.00", "arrears": "0.00"}


def test_a_years_remainder_falls_on_its_last_instalment(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-01-31", annual_budget="1000.00", payment_cycle="monthly")
    got = dues(api, pid, "2027-01-31")
    assert [d for d, _, _ in got][:4] == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]
    assert [c for _, c, _ in got] == ["83.33"] * 11 + ["83.37", "83.33"]
    assert sum(int(c.replace(".", "")) for _, c, _ in got[:12]) == 100000


def test_contribution_is_due_from_the_person_and_the_rest_from_the_council(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-04-01", annual_budget="26000.00", payment_cycle="four_weekly",
             weekly_client_contribution="20.00")
    first = dues(api, pid, "2026-04-01")
    assert first == [("2026-04-01", "1920.00", "80.00")]
    api.receipt(pid, "80.00", "2026-04-02", source="client_contribution")
    api.receipt(pid, "1920.00", "2026-04-03", source="council")
    a = api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-04-30")
    assert a["council"]["arrears"] == "1920.00" and a["person"]["arrears"] == "80.00"
    assert a["person"]["received"] == "80.00"


def test_a_reversed_receipt_does_not_count_as_paid(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-04-01", annual_budget="26000.00")
    r = api.receipt(pid, "2000.00", "2026-04-01")
    api.post(f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "bounced"})
    a = api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-04-02")
    assert a["council"] == {"due": "2000.00", "received": "0.00", "arrears": "2000.00"}


def test_a_new_plan_version_takes_over_from_its_date_without_rewriting_the_old(api):
    pid = api.person()
    v1 = api.plan(pid, effective_from="2026-04-01", annual_budget="26000.00", payment_cycle="four_weekly")
    v2 = api.plan(pid, effective_from="2026-06-01", annual_budget="52000.00", payment_cycle="weekly")
    assert (v1["version"], v2["version"]) == (1, 2)
    got = dues(api, pid, "2026-06-15")
    assert got == [("2026-04-01", "2000.00", "0.00"), ("2026-04-29", "2000.00", "0.00"),
                   ("2026-05-27", "2000.00", "0.00"), ("2026-06-01", "1000.00", "0.00"),
                   ("2026-06-08", "1000.00", "0.00"), ("2026-06-15", "1000.00", "0.00")]
    plans = api.get(f"/api/v1/people/{pid}/plans")
    assert [p["annual_budget"] for p in plans] == ["26000.00", "52000.00"]
    with api.app.app_context():
        assert plan_on(db.session, pid, date(2026, 5, 31)).version == 1
        assert plan_on(db.session, pid, date(2026, 6, 1)).version == 2
        assert plan_on(db.session, pid, date(2026, 3, 31)) is None


def test_an_ended_plan_leaves_a_gap(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-04-01", effective_to="2026-04-30", annual_budget="26000.00")
    assert [d for d, _, _ in dues(api, pid, "2026-12-31")] == ["2026-04-01", "2026-04-29"]
    with api.app.app_context():
        assert plan_on(db.session, pid, date(2026, 5, 1)) is None


def test_plan_years_run_twelve_months_from_the_first_plan(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-04-15", annual_budget="100.00")
    api.plan(pid, effective_from="2026-09-01", annual_budget="200.00")
    with api.app.app_context():
        assert plan_year_start(db.session, pid, date(2026, 4, 14)) is None
        assert plan_year_start(db.session, pid, date(2026, 12, 1)) == date(2026, 4, 15)
        assert plan_year_start(db.session, pid, date(2027, 4, 14)) == date(2026, 4, 15)
        assert plan_year_start(db.session, pid, date(2027, 4, 15)) == date(2027, 4, 15)


def test_plan_keeps_every_field(api):
    pid = api.person()
    p = api.plan(pid, contingency_amount="2500.00", rate_overrides={"day_support": "19.5"},
                 budget_lines=[{"domain": "staying_safe", "outcome": "Feels safe at night", "annual_amount": "9000"},
                               {"domain": "work_leisure_learning", "outcome": "Goes to drama class",
                                "annual_amount": "14500.00"}],
                 surplus_threshold_weeks=6, contribution_spent_first=False)
    assert p["contingency_amount"] == "2500.00"
    assert p["rate_overrides"] == {"day_support": "19.50"}
    assert p["budget_lines"][0] == {"domain": "staying_safe", "outcome": "Feels safe at night",
                                    "annual_amount": "9000.00"}
    assert p["surplus_threshold_weeks"] == 6 and p["contribution_spent_first"] is False


def test_rules_come_from_the_plan_then_the_council_then_the_provider(app):
    with app.app_context():
        council = Council(name="Westshire", name_key="westshire", surplus_threshold_weeks=8, payment_cycle="monthly")

        class Plan:
            surplus_threshold_weeks, payment_cycle, bank_expiry_days = 2, None, None
            surplus_notice_days, contribution_spent_first = None, None

        def rule(name, council, plan):  # a council with no dated changes
            return rule_on(None, name, council, plan, date(2026, 11, 1), {})

        assert rule("surplus_threshold_weeks", council, Plan) == 2
        assert rule("payment_cycle", council, Plan) == "monthly"
        assert rule("bank_expiry_days", council, Plan) == 365
        assert rule("voids_funded_by_council", council, Plan) is False
        assert rule("payment_cycle", None, None) == "four_weekly"


def test_add_months_keeps_the_day_or_the_months_last():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 15), 2) == date(2027, 1, 15)


def test_a_plan_year_holds_thirteen_four_weekly_instalments_never_fourteen(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-01-01", annual_budget="1000.00", payment_cycle="four_weekly")
    got = dues(api, pid, "2027-01-01")
    assert len(got) == 14
    assert [d for d, _, _ in got][12:] == ["2026-12-03", "2027-01-01"]  # the next year starts afresh
    assert [c for _, c, _ in got] == ["76.92"] * 12 + ["76.96", "76.92"]
    a = api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-12-31")
    assert a["council"]["due"] == "1000.00"


def test_weekly_plan_year_holds_52(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-01-01", annual_budget="5200.00", payment_cycle="weekly")
    assert len(dues(api, pid, "2026-12-31")) == 52


def test_a_later_reversal_does_not_change_what_was_received_before_it(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-01-01", annual_budget="26000.00")
    r = api.receipt(pid, "2000.00", "2026-01-01")
    api.post(f"/api/v1/transactions/{r['transaction_id']}/reverse", {"reason": "bounced", "date": "2026-06-01"})
    assert api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-01-01")["council"]["received"] == "2000.00"
    assert api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-06-01")["council"]["received"] == "0.00"


def refused(api, pid, expect, **fields):
    body = {"effective_from": "2026-04-01", "annual_budget": "26000.00", **fields}
    return api.post(f"/api/v1/people/{pid}/plans", body, expect=expect)["error"]


def lines(*amounts):
    return [{"domain": "health", "outcome": f"Outcome {i}", "annual_amount": a} for i, a in enumerate(amounts)]


def test_budget_lines_and_contingency_fit_within_the_annual_budget(api):
    pid = api.person()
    err = refused(api, pid, 422, budget_lines=lines("20000.00", "6000.01"))
    assert list(err["details"]) == ["budget_lines"]
    assert err["message"] == "budget_lines: they total 26000.01, more than the annual budget 26000.00"
    err = refused(api, pid, 422, contingency_amount="2500.00", budget_lines=lines("20000.00", "3500.01"))
    assert list(err["details"]) == ["contingency_amount"]
    assert "2500.00 with the budget lines' 23500.01" in err["message"]
    assert list(refused(api, pid, 422, contingency_amount="26000.01")["details"]) == ["contingency_amount"]
    assert api.get(f"/api/v1/people/{pid}/plans") == []
    # Exactly the budget is accepted: the contingency is part of it.
    p = api.plan(pid, contingency_amount="2500.00", budget_lines=lines("20000.00", "3500.00"))
    assert p["contingency_amount"] == "2500.00"


def test_plan_lists_and_maps_hold_at_most_fifty_entries(api):
    pid = api.person()
    assert list(refused(api, pid, 422, budget_lines=lines(*["1.00"] * 51))["details"]) == ["budget_lines"]
    many = {f"service_{i}": "1.00" for i in range(51)}
    assert list(refused(api, pid, 422, planned_weekly_hours=many)["details"]) == ["planned_weekly_hours"]
    assert list(refused(api, pid, 422, rate_overrides=many)["details"]) == ["rate_overrides"]
    assert api.get(f"/api/v1/people/{pid}/plans") == []
    fifty = {f"service_{i}": "1.00" for i in range(50)}
    api.plan(pid, budget_lines=lines(*["1.00"] * 50), planned_weekly_hours=fifty, rate_overrides=fifty)


def test_the_operation_checks_sizes_whoever_calls_it(app):
    with app.app_context():
        pid = create_person(db.session, name="Ana", council="Northshire", council_reference=None,
                            may_name_council=True).id
        with pytest.raises(Invalid) as e:
            add_plan(db.session, pid, effective_from=date(2026, 4, 1), annual_budget_pence=100,
                     rate_overrides={f"s{i}": "1" for i in range(51)})
        assert e.value.details == {"rate_overrides": ["at most 50 services"]}
        db.session.rollback()


def test_a_version_starting_on_the_day_of_an_earlier_one_is_refused_not_replacing_it(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-04-01", annual_budget="26000.00")
    err = refused(api, pid, 409, annual_budget="52000.00")
    assert err["code"] == "duplicate_plan_version"
    assert err["details"] == {"effective_from": ["a plan version already starts on this day"]}
    assert [p["annual_budget"] for p in api.get(f"/api/v1/people/{pid}/plans")] == ["26000.00"]
    assert dues(api, pid, "2026-04-01") == [("2026-04-01", "2000.00", "0.00")]
