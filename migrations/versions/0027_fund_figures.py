"""fund_figures: each fund's current dashboard figures, kept as the ledger changes

Revision ID: 0027_fund_figures
Revises: 0026_receipt_files

A row a fund (models/figures.py). ledger.post keeps its money in the postings' transaction; the
triggers made here mark a row stale (and raise its version) whenever something else it depends
on is written, in the same transaction as that write. Rows are made here for every fund, stale:
the first read of the dashboard (or `isf-ledger audit --rebuild-figures`) works them out. Each
column the dashboard sorts by has an index each way (ties by person id, as the slow path sorts).
"""
from alembic import op
import sqlalchemy as sa

revision = "0027_fund_figures"
down_revision = "0026_receipt_files"
branch_labels = None
depends_on = None

STALE = "1900-01-01"
SORTED = ("name_key", "council_key", "available", "weeks_held", "surplus", "overdrawn", "arrears", "contingency",
          "bank_value", "spent")
# (table, the persons its new rows touch: over the statement's new rows `n` on PostgreSQL, over
# the new row NEW on SQLite, which has row triggers only): a new row marks them stale.
INSERTS = (
    ("deliveries", "SELECT n.person_id FROM new_rows n", "SELECT NEW.person_id"),
    ("delivery_reversals", "SELECT d.person_id FROM new_rows n JOIN deliveries d ON d.id = n.delivery_id",
     "SELECT d.person_id FROM deliveries d WHERE d.id = NEW.delivery_id"),
    ("receipts", "SELECT n.person_id FROM new_rows n", "SELECT NEW.person_id"),
    ("transactions", "SELECT n.person_id FROM new_rows n WHERE n.reverses_id IS NOT NULL",
     "SELECT NEW.person_id WHERE NEW.reverses_id IS NOT NULL"),
    ("fund_queries", "SELECT n.person_id FROM new_rows n", "SELECT NEW.person_id"),
    ("fund_query_answers", "SELECT q.person_id FROM new_rows n JOIN fund_queries q ON q.id = n.query_id",
     "SELECT q.person_id FROM fund_queries q WHERE q.id = NEW.query_id"),
    ("plan_versions", "SELECT n.person_id FROM new_rows n", "SELECT NEW.person_id"),
    ("council_rule_changes", "SELECT p.id FROM new_rows n JOIN people p ON p.council_id = n.council_id",
     "SELECT p.id FROM people p WHERE p.council_id = NEW.council_id"),
    ("rates", "SELECT person_id FROM fund_figures", "SELECT person_id FROM fund_figures"),
)
# (table, columns, the persons a changed row touches, as SQL over NEW): row triggers on UPDATE OF.
UPDATES = (
    ("funds", "closed_on", "SELECT NEW.person_id"),
    ("people", "name, council_id, council_reference", "SELECT NEW.id"),
    ("councils", "name", "SELECT p.id FROM people p WHERE p.council_id = NEW.id"),
)
MARK = f"UPDATE fund_figures SET stale_on = '{STALE}', version = version + 1 WHERE person_id IN ({{who}})"


def upgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    text = sa.String(400, collation="C") if pg else sa.String(400)  # code point order, as Python sorts
    money = dict(type_=sa.BigInteger(), nullable=False, server_default="0")
    op.create_table(
        "fund_figures",
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id"), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("figures_on", sa.Date(), nullable=False, server_default=STALE),
        sa.Column("stale_on", sa.Date(), nullable=False, server_default=STALE),
        sa.Column("name_key", text, nullable=False, server_default=""),
        sa.Column("council_key", text, nullable=False, server_default=""),
        *(sa.Column(c, **money) for c in ("available", "contingency", "bank_value", "annual_budget")),
        sa.Column("weeks_held", sa.BigInteger(), nullable=False, server_default=str(-10**11)),
        *(sa.Column(c, **money) for c in ("threshold", "surplus", "overdrawn", "arrears", "spent",
                                          "spent_on_support")),
        sa.Column("year_start", sa.Date(), nullable=True),
        sa.Column("year_start_day", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("year_days", sa.Integer(), nullable=False, server_default="0"),
        *(sa.Column(c, sa.Boolean(), nullable=False, server_default=sa.false())
          for c in ("lasting", "many_refusals", "many_cancellations")),
        sa.Column("queries_overdue", sa.Integer(), nullable=False, server_default="0"),
    )
    for col in SORTED:
        op.execute(f"CREATE INDEX ix_fund_figures_{col} ON fund_figures ({col}, person_id)")
        op.execute(f"CREATE INDEX ix_fund_figures_{col}_desc ON fund_figures ({col} DESC, person_id)")
    op.create_index("ix_fund_figures_stale_on", "fund_figures", ["stale_on"])
    op.execute("INSERT INTO fund_figures (person_id) SELECT person_id FROM funds")
    for stmt in (_postgresql() if pg else _sqlite()):
        op.execute(stmt)


def _sqlite():
    yield ("CREATE TRIGGER fund_figures_new_fund AFTER INSERT ON funds BEGIN "
           "INSERT INTO fund_figures (person_id) VALUES (NEW.person_id); END")
    for table, _, who in INSERTS:
        yield f"CREATE TRIGGER fund_figures_{table} AFTER INSERT ON {table} BEGIN {MARK.format(who=who)}; END"
    for table, cols, who in UPDATES:
        yield (f"CREATE TRIGGER fund_figures_{table}_changed AFTER UPDATE OF {cols} ON {table} BEGIN "
               f"{MARK.format(who=who)}; END")


def _postgresql():
    yield ("CREATE FUNCTION isf_fund_figures_new_fund() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
           "INSERT INTO fund_figures (person_id) VALUES (NEW.person_id); RETURN NEW; END $$")
    yield ("CREATE TRIGGER fund_figures_new_fund AFTER INSERT ON funds FOR EACH ROW "
           "EXECUTE FUNCTION isf_fund_figures_new_fund()")
    for table, who, _ in INSERTS:
        # Once a statement, over its new rows (an import of many deliveries marks each fund once).
        yield (f"CREATE FUNCTION isf_fund_figures_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               f"{MARK.format(who=who)}; RETURN NULL; END $$")
        yield (f"CREATE TRIGGER fund_figures_{table} AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
               f"FOR EACH STATEMENT EXECUTE FUNCTION isf_fund_figures_{table}()")
    for table, cols, who in UPDATES:
        yield (f"CREATE FUNCTION isf_fund_figures_{table}_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               f"{MARK.format(who=who)}; RETURN NEW; END $$")
        yield (f"CREATE TRIGGER fund_figures_{table}_changed AFTER UPDATE OF {cols} ON {table} FOR EACH ROW "
               f"EXECUTE FUNCTION isf_fund_figures_{table}_changed()")


def downgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    names = ["new_fund"] + [t for t, _, _ in INSERTS] + [f"{t}_changed" for t, _, _ in UPDATES]
    tables = ["funds"] + [t for t, _, _ in INSERTS] + [t for t, _, _ in UPDATES]
    for name, table in zip(names, tables):
        op.execute(f"DROP TRIGGER IF EXISTS fund_figures_{name}" + (f" ON {table}" if pg else ""))
        if pg:
            op.execute(f"DROP FUNCTION IF EXISTS isf_fund_figures_{name}()")
    op.drop_table("fund_figures")
