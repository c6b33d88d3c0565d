"""Expected instalments across plan versions: a plan year holds its n instalments, due in advance
on a cycle that runs from the year's start, each at the rate of the version in force."""
from datetime import date, timedelta


def dues(api, pid, to, frm=None):
    q = f"to={to}" + (f"&from={frm}" if frm else "")
    return [(i["due"], i["council"], i["person"]) for i in api.get(f"/api/v1/people/{pid}/instalments?{q}")]


def pence(s):
    return int(s.replace(".", ""))


def every(start, days, n):
    first = date.fromisoformat(start)
    return [(first + timedelta(days=days * i)).isoformat() for i in range(n)]


def test_a_same_cycle_version_mid_year_does_not_restart_the_four_weekly_cycle(api):
    # Issue 12: the instalment of 2026-10-08 covers to 2026-11-04; a version from 2026-11-01
    # used to restart the cycle there, giving 14 instalments (28,000.00 on a 26,000.00 budget).
    pid = api.person()
    api.plan(pid, effective_from="2026-01-01", annual_budget="26000.00", payment_cycle="four_weekly")
    v2 = api.plan(pid, effective_from="2026-11-01", annual_budget="26000.00", payment_cycle="four_weekly")
    got = dues(api, pid, "2026-12-31")
    assert [d for d, _, _ in got] == every("2026-01-01", 28, 13)
    assert [c for _, c, _ in got] == ["2000.00"] * 13
    rows = api.get(f"/api/v1/people/{pid}/instalments?to=2026-12-31")
    assert [r["plan_id"] for r in rows][-2:] == [v2["id"]] * 2  # 2026-11-05 and 2026-12-03
    assert api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-12-31")["council"]["due"] == "26000.00"
    # The next plan year starts its thirteen afresh.
    assert dues(api, pid, "2027-01-01", frm="2027-01-01") == [("2027-01-01", "2000.00", "0.00")]


def test_a_same_cycle_version_mid_year_keeps_twelve_monthly_instalments(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-01-15", annual_budget="12000.00", payment_cycle="monthly")
    api.plan(pid, effective_from="2026-11-01", annual_budget="12000.00", payment_cycle="monthly")
    got = dues(api, pid, "2027-01-14")
    assert [d for d, _, _ in got] == [f"2026-{m:02d}-15" for m in range(1, 13)]
    assert sum(pence(c) for _, c, _ in got) == 1200000


def test_a_same_cycle_version_mid_year_keeps_fifty_two_weekly_instalments(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-01-01", annual_budget="5200.00", payment_cycle="weekly")
    api.plan(pid, effective_from="2026-11-04", annual_budget="5200.00", payment_cycle="weekly")
    got = dues(api, pid, "2026-12-31")
    assert [d for d, _, _ in got] == every("2026-01-01", 7, 52)
    assert [c for _, c, _ in got] == ["100.00"] * 52


def test_a_budget_raised_mid_year_changes_the_instalments_due_from_its_date(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-01-01", annual_budget="12000.00", payment_cycle="monthly")
    api.plan(pid, effective_from="2026-07-01", annual_budget="24000.06", payment_cycle="monthly")
    got = dues(api, pid, "2026-12-31")
    assert [d for d, _, _ in got] == [f"2026-{m:02d}-01" for m in range(1, 13)]
    # 12,000.00 / 12 for January to June, 24,000.06 / 12 from July, its 6p on December's.
    assert [c for _, c, _ in got] == ["1000.00"] * 6 + ["2000.00"] * 5 + ["2000.06"]
    assert api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-12-31")["council"]["due"] == "18000.06"


def test_a_budget_raised_part_way_through_a_four_weekly_instalment_starts_at_the_next(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-01-01", annual_budget="26000.00", payment_cycle="four_weekly")
    api.plan(pid, effective_from="2026-11-01", annual_budget="39000.00", payment_cycle="four_weekly")
    got = dues(api, pid, "2026-12-31")
    assert [d for d, _, _ in got] == every("2026-01-01", 28, 13)
    assert [c for _, c, _ in got] == ["2000.00"] * 11 + ["3000.00"] * 2
    assert sum(pence(c) for _, c, _ in got) == 2800000


def test_nothing_falls_due_in_a_gap_between_versions(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-01-01", effective_to="2026-05-31", annual_budget="1000.00",
             payment_cycle="four_weekly")
    api.plan(pid, effective_from="2026-08-01", annual_budget="1000.00", payment_cycle="four_weekly")
    got = dues(api, pid, "2026-12-31")
    # The cycle keeps running from 2026-01-01: 06-18 is not due (its 28 days are all in the gap);
    # 07-16's 28 days reach the new version, so it falls due on the version's first day.
    assert [d for d, _, _ in got] == ["2026-01-01", "2026-01-29", "2026-02-26", "2026-03-26", "2026-04-23",
                                      "2026-05-21", "2026-08-01", "2026-08-13", "2026-09-10", "2026-10-08",
                                      "2026-11-05", "2026-12-03"]
    # 1,000.00 / 13 is 76.92; the year's 4p remainder on its last (thirteenth) instalment.
    assert [c for _, c, _ in got] == ["76.92"] * 11 + ["76.96"]
    assert api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-07-31")["council"]["due"] == "461.52"


def test_four_weekly_turning_weekly_pays_the_year_once(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-04-01", annual_budget="26000.00", payment_cycle="four_weekly")
    api.plan(pid, effective_from="2026-06-01", annual_budget="26000.00", payment_cycle="weekly")
    got = dues(api, pid, "2027-03-31")
    # Three four-weekly paid 3/13 of the year; 40 of 52 weekly remain, from the change.
    assert [d for d, _, _ in got] == every("2026-04-01", 28, 3) + every("2026-06-01", 7, 40)
    assert [c for _, c, _ in got] == ["2000.00"] * 3 + ["500.00"] * 40
    assert sum(pence(c) for _, c, _ in got) == 2600000


def test_weekly_turning_four_weekly_still_pays_the_rest_of_the_year(api):
    pid = api.person()
    api.plan(pid, effective_from="2026-01-01", annual_budget="5200.00", payment_cycle="weekly")
    api.plan(pid, effective_from="2026-12-01", annual_budget="5200.00", payment_cycle="four_weekly")
    got = dues(api, pid, "2026-12-31")
    # 48 weekly (to 2026-11-26) paid 12/13 of the year: one four-weekly is left.
    assert [d for d, _, _ in got] == every("2026-01-01", 7, 48) + ["2026-12-01"]
    assert [c for _, c, _ in got] == ["100.00"] * 48 + ["400.00"]


def test_a_council_changing_its_cycle_from_a_date_changes_the_cycle_from_that_date(api):
    # The plan leaves the cycle to the council: the council's cycle is read at each date, so a
    # change effective from 2026-06-01 is a change of cycle there, and the dates before it keep
    # the cycle the council had then (not its current value).
    pid = api.person()
    council = api.get("/api/v1/councils")[0]["id"]
    api.plan(pid, effective_from="2026-04-01", annual_budget="26000.00", payment_cycle=None)
    r = api.call("PATCH", f"/api/v1/councils/{council}", {"payment_cycle": "weekly", "effective_from": "2026-06-01"})
    assert r.status_code == 200, r.get_json()
    got = dues(api, pid, "2027-03-31")
    assert [d for d, _, _ in got] == every("2026-04-01", 28, 3) + every("2026-06-01", 7, 40)
    assert [c for _, c, _ in got] == ["2000.00"] * 3 + ["500.00"] * 40
    assert api.get(f"/api/v1/people/{pid}/arrears?as_of=2026-06-08")["council"]["due"] == "7000.00"


def test_a_plans_own_cycle_wins_over_the_councils_dated_change(api):
    pid = api.person()
    council = api.get("/api/v1/councils")[0]["id"]
    api.plan(pid, effective_from="2026-04-01", annual_budget="12000.00", payment_cycle="monthly")
    api.call("PATCH", f"/api/v1/councils/{council}", {"payment_cycle": "weekly", "effective_from": "2026-06-01"})
    got = dues(api, pid, "2027-03-31")
    assert [d for d, _, _ in got] == [f"{2026 + (m > 12)}-{(m - 1) % 12 + 1:02d}-01" for m in range(4, 16)]
