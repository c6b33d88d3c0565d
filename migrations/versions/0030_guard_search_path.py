"""guards read the ledger's own tables: every isf_ trigger function's search_path is pinned

The trigger functions name tables without a schema (`postings`, `transactions`, `accounts`...),
and PostgreSQL looks in the session's temporary schema first. So the app's own connection
(README "Running on PostgreSQL": the role that owns nothing) could CREATE TEMP TABLE postings
holding two balanced legs, then insert one unbalanced leg and its header into the real tables:
the balance check read the temporary table and let it in. Each function now runs with the
schema it was made in first and pg_temp last (PostgreSQL's advice for functions others call).
A function made or replaced later needs the same SET (tests/ledger/test_least_privilege.py checks).

Revision ID: 0030_guard_search_path
Revises: 0029_fund_figures
"""
from alembic import op

revision = "0030_guard_search_path"
down_revision = "0029_fund_figures"
branch_labels = None
depends_on = None

# One ALTER FUNCTION for each of the ledger's functions in the migration's schema.
EACH_FUNCTION = """DO $$ DECLARE f record; BEGIN
  FOR f IN SELECT n.nspname AS schema, p.proname AS name, pg_get_function_identity_arguments(p.oid) AS args
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = current_schema() AND p.proname LIKE 'isf\\_%' LOOP
    EXECUTE format('ALTER FUNCTION %I.%I(%s) {action}', f.schema, f.name, f.args, f.schema);
  END LOOP;
END $$"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(EACH_FUNCTION.format(action="SET search_path = %I, pg_temp"))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(EACH_FUNCTION.format(action="RESET search_path"))
