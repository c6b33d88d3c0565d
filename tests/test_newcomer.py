"""What a newcomer meets on a fresh clone (issue 21 item 15): the sample import goes into the
demo that `make run` builds, the README's links lead to files in the clone, and its commands say
how to run them."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from isf_ledger import clock
from isf_ledger.demo import load as demo
from isf_ledger.db import db

ROOT = Path(__file__).resolve().parent.parent
# The day the sample was written for: its deliveries are in the month before, inside the demo's year.
DAY = date(2026, 12, 1)


def make_run_demo_args() -> list[str]:
    """`make run`'s demo command, with the Makefile's defaults for its variables."""
    makefile = (ROOT / "Makefile").read_text()
    defaults = dict(re.findall(r"^(\w+) \?= (\S+)$", makefile, re.M))
    [line] = [ln for ln in makefile.splitlines() if "isf-ledger demo " in ln]
    words = line.split("isf-ledger ", 1)[1].split()
    return [re.sub(r"\$\((\w+)\)", lambda m: defaults[m.group(1)], w) for w in words]


@pytest.mark.slow  # the demo of 60 people: 15-35 s
def test_the_sample_deliveries_import_cleanly_into_the_make_run_demo(app, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: DAY)
    monkeypatch.setattr(demo, "uk_today", lambda: DAY)
    runner = app.test_cli_runner()
    args = make_run_demo_args()
    assert args[:2] == ["demo", "--people"], args
    made = runner.invoke(args=args)
    assert made.exit_code == 0, made.output
    result = runner.invoke(args=["import", "deliveries", str(ROOT / "docs" / "sample-deliveries.csv")])
    assert result.exit_code == 0, result.output
    assert "6 rows: 6 written, 0 skipped, 1 people" in result.output
    with app.app_context():
        rows = db.session.execute(sa.text(
            "SELECT p.council_reference, d.status, d.domain FROM deliveries d JOIN people p ON p.id = d.person_id "
            "WHERE d.external_id LIKE 'V-881%' ORDER BY d.external_id")).all()
    assert [r[1] for r in rows] == ["delivered", "refused", "unplanned", "banked", "bank_used", "provider_cancelled"]
    assert {r[0] for r in rows} == {"ECC-224244"}
    again = runner.invoke(args=["import", "deliveries", str(ROOT / "docs" / "sample-deliveries.csv")])
    assert again.exit_code == 0 and "0 written, 6 skipped" in again.output


def test_the_readme_links_only_to_files_in_the_clone():
    readme = (ROOT / "README.md").read_text()
    assert "../shared/" not in readme
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not re.match(r"[a-z]+:", target):
            assert (ROOT / target).exists(), target
    assert "(docs/contract.md)" in readme
    assert (ROOT / "docs" / "contract.md").read_text().startswith("# The ISF ledger: domain rules and contract")


def test_the_readme_says_how_to_run_the_commands():
    readme = (ROOT / "README.md").read_text()
    assert "ISF_ENV=development .venv/bin/isf-ledger" in readme
    # No bare `isf-ledger ...` in a shell block: it is not on PATH in a fresh clone.
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            assert not line.startswith("isf-ledger "), line
