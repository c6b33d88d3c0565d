"""One unit of work for every entry point (isf_ledger/work.py): operations never commit or roll
back, the unit of work commits once, and a long job's steps are committed only through
`commit_step`, by the modules listed here with why."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sqlalchemy as sa

PACKAGE = Path(__file__).resolve().parent.parent / "isf_ledger"
# The operations and everything below them: never a commit or a rollback of the session's
# transaction (a savepoint's, from begin_nested(), is theirs). CLI commands and middleware that
# still live in these packages (users, the audit log, the provider) go through work.py as well.
OPERATIONS = ["accounts", "ledger", "reports", "workflows", "shared_support", "exports", "models", "auth",
              "provider.py", "money.py", "clock.py", "db.py", "dbstate.py", "config.py", "locks.py", "fields.py",
              "sheets.py", "api_base.py", "idempotency.py"]
# Long jobs that keep their work in steps, each commit_step saying why beside it.
STEPS = {
    "reports/sending.py": "sending is at most once: each row is claimed, committed, before its message leaves",
    "pages/signin.py": "a failed attempt counts before the password is checked; nothing is held while argon2 runs",
}
# Entry points that still end a transaction themselves rather than through work.py: the API's
# error handlers (errors.py is below work.py, which imports it) and the export view, which
# commits the record of a journal export but streams the books from the view's transaction.
ENTRY_POINTS = ["api", "pages", "commands", "scheduler.py", "web.py", "cli.py"]
STILL_DIRECT = {"errors.py", "api/exports.py"}


def _modules(names):
    for name in names:
        path = PACKAGE / name
        yield from (sorted(path.rglob("*.py")) if path.is_dir() else [path])


def _ends_transaction(path: Path) -> list[str]:
    """Each `x.commit()` / `x.rollback()` in the module, but a savepoint's (x = ...begin_nested())."""
    tree = ast.parse(path.read_text(), str(path))
    savepoints = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                  and isinstance(node.value, ast.IfExp | ast.Call)
                  and "begin_nested" in ast.unparse(node.value) for t in node.targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("commit", "rollback")
                and not (isinstance(node.func.value, ast.Name) and node.func.value.id in savepoints)):
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {ast.unparse(node)}")
    return found


def _calls(path: Path, name: str) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and (getattr(node.func, "id", None) == name or getattr(node.func, "attr", None) == name)]


def test_operations_never_commit_or_roll_back():
    found = [line for path in _modules(OPERATIONS) for line in _ends_transaction(path)]
    assert found == [], "operations never commit or roll back: their caller's unit_of_work does (work.py)"


def test_entry_points_end_transactions_through_the_unit_of_work():
    found = {str(path.relative_to(PACKAGE)) for path in _modules(ENTRY_POINTS + ["errors.py"])
             if _ends_transaction(path)}
    assert found == STILL_DIRECT


def test_only_the_listed_long_jobs_commit_in_steps():
    users = {str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
             if path.name != "work.py" and _calls(path, "commit_step")}
    assert users == set(STEPS)
    for name in STEPS:  # each step's commit says why beside it
        lines = (PACKAGE / name).read_text().splitlines()
        for n in _calls(PACKAGE / name, "commit_step"):
            assert "#" in lines[n - 1], f"{name}:{n}: say why this step is committed"


def test_the_unit_of_work_commits_once_and_refuses_an_early_commit(app):
    from isf_ledger.db import db
    from isf_ledger.errors import Conflict
    from isf_ledger.provider import ProviderRow
    from isf_ledger.work import commit_step, unit_of_work

    def name():
        db.session.rollback()
        return db.session.scalar(sa.select(ProviderRow.name))

    with app.app_context():
        with unit_of_work():
            db.session.merge(ProviderRow(id=1, name="Before"))
        before = name()
        assert before == "Before"
        with pytest.raises(Conflict):
            with unit_of_work():
                db.session.execute(sa.update(ProviderRow).values(name="Refused"))
                raise Conflict("refused")
        assert name() == before  # rolled back
        with pytest.raises(RuntimeError, match="committed or rolled back inside its unit of work"):
            with unit_of_work():
                db.session.execute(sa.update(ProviderRow).values(name="Too early"))
                db.session.commit()
                db.session.execute(sa.update(ProviderRow).values(name="Lost"))
        assert name() == "Too early"  # what came after the early commit went
        with unit_of_work():
            db.session.execute(sa.update(ProviderRow).values(name="Stepped"))
            commit_step(db.session)  # a long job's step is allowed
            db.session.execute(sa.update(ProviderRow).values(name="Kept"))
            with unit_of_work():  # a unit inside another joins it
                db.session.execute(sa.update(ProviderRow).values(name="Kept once"))
        assert name() == "Kept once"
