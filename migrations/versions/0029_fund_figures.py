"""fund_figures: each fund's current dashboard figures, kept beside the ledger (models/figures.py)

A row a fund, worked out by the dashboard's slow path (reports.dashboard.fund_figures) and
marked stale (figures_on NULL, version + 1) by the triggers made here, in the same transaction
as any write the figures depend on. Rows are made here for every fund, stale: the first read of
today's dashboard (or `isf-ledger figures rebuild`) works them out. Each column the dashboard
sorts by has an index each way, ties by person id ascending (as the slow path sorts).

Revision ID: 0029_fund_figures
Revises: 0028_checkpoint_slots
"""
from alembic import op
import sqlalchemy as sa

revision = "0029_fund_figures"
down_revision = "0028_checkpoint_slots"
branch_labels = None
depends_on = None

SORTED = ("name_key", "council_key", "available", "weeks_held", "surplus", "overdrawn", "arrears", "contingency",
          "bank_value", "spent", "alert_count")
ALERTS = ("overdrawn", "underspending", "overspending", "many_refusals", "many_provider_cancellations", "arrears",
          "queries_overdue")
# (table, the columns of a written row the persons are found from, the persons a written row
# touches: SQL over `{rows} r`, the rows written). Every insert, update and delete of these marks
# those funds' rows stale.
WATCHED = (
    ("postings", ("account_id",), "SELECT a.person_id FROM {rows} r JOIN accounts a ON a.id = r.account_id"),
    ("deliveries", ("person_id",), "SELECT r.person_id FROM {rows} r"),
    ("delivery_reversals", ("delivery_id",),
     "SELECT d.person_id FROM {rows} r JOIN deliveries d ON d.id = r.delivery_id"),
    ("receipts", ("person_id",), "SELECT r.person_id FROM {rows} r"),
    ("plan_versions", ("person_id",), "SELECT r.person_id FROM {rows} r"),
    ("plan_services", ("plan_id",), "SELECT v.person_id FROM {rows} r JOIN plan_versions v ON v.id = r.plan_id"),
    ("budget_lines", ("plan_id",), "SELECT v.person_id FROM {rows} r JOIN plan_versions v ON v.id = r.plan_id"),
    ("fund_queries", ("person_id",), "SELECT r.person_id FROM {rows} r"),
    ("fund_query_answers", ("query_id",), "SELECT q.person_id FROM {rows} r JOIN fund_queries q ON q.id = r.query_id"),
    ("council_rule_changes", ("council_id",), "SELECT p.id FROM {rows} r JOIN people p ON p.council_id = r.council_id"),
    ("councils", ("id",), "SELECT p.id FROM {rows} r JOIN people p ON p.council_id = r.id"),
    ("people", ("id",), "SELECT r.id FROM {rows} r"),
    ("funds", ("person_id",), "SELECT r.person_id FROM {rows} r"),
    ("rates", ("id",), "SELECT person_id FROM fund_figures"),  # the rate card: every fund
)
MARK = "UPDATE fund_figures SET figures_on = NULL, version = version + 1 WHERE person_id IN ({who})"
# SQLite: a row already stale is left alone (each posting of a transaction would rewrite it
# otherwise, doubling a bulk post's time): the version guards a refresh worked out while a write
# commits, which SQLite cannot interleave, since a refresh holds the write lock from its first
# read (reports.current.WRITES, BEGIN IMMEDIATE) and every writer takes it up front.
MARK_SQLITE = MARK + " AND figures_on IS NOT NULL"


def upgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    text = sa.String(400, collation="C") if pg else sa.String(400)  # code point order, as Python sorts
    money = dict(type_=sa.BigInteger(), nullable=False)
    op.create_table(
        "fund_figures",
        sa.Column("person_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("figures_on", sa.Date(), nullable=True),
        sa.Column("name", sa.String(400), nullable=False),
        sa.Column("name_key", text, nullable=False),
        sa.Column("council", sa.String(400), nullable=False),
        sa.Column("council_key", text, nullable=False),
        sa.Column("council_reference", sa.String(100), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        *(sa.Column(c, **money) for c in ("available", "contingency", "bank_value", "annual_budget", "weeks_held",
                                          "surplus")),
        sa.Column("surplus_lasting", sa.Boolean(), nullable=False),
        *(sa.Column(c, **money) for c in ("arrears", "overdrawn", "spent", "spent_on_support", "pace", "delivered",
                                          "refused", "provider_cancelled")),
        sa.Column("queries_overdue", sa.Integer(), nullable=False),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        *(sa.Column(f"alert_{a}", sa.Boolean(), nullable=False) for a in ALERTS),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_fund_figures")),
    )
    op.create_index(op.f("ix_fund_figures_figures_on"), "fund_figures", ["figures_on"])
    for col in SORTED:
        op.execute(f"CREATE INDEX ix_fund_figures_by_{col} ON fund_figures ({col}, person_id)")
        op.execute(f"CREATE INDEX ix_fund_figures_by_{col}_desc ON fund_figures ({col} DESC, person_id)")
    op.execute(_new_fund("SELECT person_id, 0, {values} FROM funds WHERE true"))
    for stmt in (_postgresql() if pg else _sqlite()):
        op.execute(stmt)


DEFAULTS = ("name", "name_key", "council", "council_key", "available", "contingency", "bank_value",
            "annual_budget", "weeks_held", "surplus", "surplus_lasting", "arrears", "overdrawn", "spent",
            "spent_on_support", "pace", "delivered", "refused", "provider_cancelled", "queries_overdue",
            "alert_count", *(f"alert_{a}" for a in ALERTS))


def _new_fund(rows: str) -> str:
    zero = {"name": "''", "name_key": "''", "council": "''", "council_key": "''", "surplus_lasting": "false",
            **{f"alert_{a}": "false" for a in ALERTS}}
    values = ", ".join(zero.get(c, "0") for c in DEFAULTS)
    cols = "person_id, version, " + ", ".join(DEFAULTS)
    return (f"INSERT INTO fund_figures ({cols}) {rows.format(values=values)} "
            "ON CONFLICT (person_id) DO UPDATE SET figures_on = NULL, version = fund_figures.version + 1")


def _sqlite():
    # A new fund gets its row (stale); SQLite has row triggers only, over NEW and OLD.
    yield ("CREATE TRIGGER fund_figures_new_fund AFTER INSERT ON funds BEGIN "
           + _new_fund("SELECT NEW.person_id, 0, {values} WHERE true") + "; END")
    for table, cols, who in WATCHED:
        for verb, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
            rows = "(SELECT " + ", ".join(f"{row}.{c} AS {c}" for c in cols) + ")"
            name = f"fund_figures_{table}_{verb.lower()}_{row.lower()}"
            yield (f"CREATE TRIGGER {name} AFTER {verb} ON {table} BEGIN "
                   f"{MARK_SQLITE.format(who=who.format(rows=rows))}; END")


PG_PREFIX = "zz_fund_figures_"


def _postgresql():
    # Once a statement, over its rows (an import of many deliveries marks each fund once).
    yield ("CREATE FUNCTION isf_fund_figures_new_fund() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
           + _new_fund("SELECT person_id, 0, {values} FROM new_rows WHERE true") + "; RETURN NULL; END $$")
    yield ("CREATE TRIGGER fund_figures_new_fund AFTER INSERT ON funds REFERENCING NEW TABLE AS new_rows "
           "FOR EACH STATEMENT EXECUTE FUNCTION isf_fund_figures_new_fund()")
    for table, _, who in WATCHED:
        for verb, refs, rows in (("INSERT", "NEW TABLE AS new_rows", ("new_rows",)),
                                 ("UPDATE", "NEW TABLE AS new_rows OLD TABLE AS old_rows", ("new_rows", "old_rows")),
                                 ("DELETE", "OLD TABLE AS old_rows", ("old_rows",))):
            fn = f"isf_fund_figures_{table}_{verb.lower()}"
            body = "; ".join(MARK.format(who=who.format(rows=r)) for r in rows)
            yield f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NULL; END $$"
            # Named to sort after every guard: PostgreSQL fires a table's triggers of one kind in name
            # order, and marking a row stale waits for its lock, so a write a guard refuses (a leg
            # joining another session's open transaction) must be refused before it waits.
            yield (f"CREATE TRIGGER {PG_PREFIX}{table}_{verb.lower()} AFTER {verb} ON {table} REFERENCING {refs} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}()")


def downgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute("DROP TRIGGER IF EXISTS fund_figures_new_fund ON funds")
        op.execute("DROP FUNCTION IF EXISTS isf_fund_figures_new_fund()")
        for table, _, _ in WATCHED:
            for verb in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {PG_PREFIX}{table}_{verb} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS isf_fund_figures_{table}_{verb}()")
    else:
        op.execute("DROP TRIGGER IF EXISTS fund_figures_new_fund")
        for table, _, _ in WATCHED:
            for verb, row in (("insert", "new"), ("update", "new"), ("update", "old"), ("delete", "old")):
                op.execute(f"DROP TRIGGER IF EXISTS fund_figures_{table}_{verb}_{row}")
    op.drop_table("fund_figures")
