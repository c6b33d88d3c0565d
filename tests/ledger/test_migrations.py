"""The schema comes from the migrations alone, and the models never drift from them."""
import sqlalchemy as sa

from isf_ledger import create_app
from isf_ledger.db import db


def test_models_and_migrations_agree(app):
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_downgrade_and_upgrade_again_from_empty(databases, backend):
    url = databases.fresh(backend)
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    runner = app.test_cli_runner()
    try:
        assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
        with app.app_context():
            assert "postings" not in sa.inspect(db.engine).get_table_names()
        assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
        with app.app_context():
            kinds = db.session.scalars(sa.text("SELECT kind FROM accounts WHERE person_id IS NULL ORDER BY kind")).all()
            assert kinds == ["client_money", "council_refunds", "council_voids", "fee_income", "interest_income", "provider_bank", "support_income",
                             "third_parties", "void"]
        assert runner.invoke(args=["db", "check"]).exit_code == 0
    finally:
        with app.app_context():
            db.engine.dispose()
        databases.drop(url)
