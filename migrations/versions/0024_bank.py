"""the client bank account: what a completed reconciliation cleared

- bank_clearings: one row per completed reconciliation: the statement date it closed on and the
  highest transaction and bank line it saw, so the next reconciliation starts from it.
- bank_cleared_items: each movement and line at that reconciliation, `cleared` (for good: a
  movement is cleared once), `outstanding` or `unmatched` (carried forward). Both append-only.

Revision ID: 0024_bank
Revises: 0023_edges (the lead re-chains)
"""
from alembic import op
import sqlalchemy as sa

revision = '0024_bank'
down_revision = '0023_edges'
branch_labels = None
depends_on = None

IMMUTABLE = ("bank_clearings", "bank_cleared_items")
WHY = "a completed reconciliation is kept as it was"
SQLITE_TRIGGERS = [
    stmt for table in IMMUTABLE for stmt in (
        *(f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
              BEGIN SELECT RAISE(ABORT, '{WHY}: a row cannot be changed or removed'); END"""
          for verb in ("UPDATE", "DELETE")),
        f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
            WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id)
            BEGIN SELECT RAISE(ABORT, '{WHY}: a row already written cannot be replaced'); END""",
    )
]
# isf_refuse_change() comes from 0001.
POSTGRESQL_TRIGGERS = [
    stmt for table in IMMUTABLE for stmt in (
        f"""CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION isf_refuse_change()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION isf_refuse_change()""",
    )
]


def upgrade():
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        'bank_clearings',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('reconciliation_id', sa.Integer(), sa.ForeignKey('bank_reconciliations.id'), nullable=False,
                  unique=True),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('bank_date', sa.Date(), nullable=False),
        sa.Column('last_transaction_id', big, nullable=False),
        sa.Column('last_line_id', sa.Integer(), nullable=False),
    )
    op.create_table(
        'bank_cleared_items',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('clearing_id', sa.Integer(), sa.ForeignKey('bank_clearings.id'), nullable=False),
        sa.Column('state', sa.String(20), nullable=False),
        sa.Column('transaction_id', big, sa.ForeignKey('transactions.id'), nullable=True),
        sa.Column('line_id', sa.Integer(), sa.ForeignKey('bank_lines.id'), nullable=True),
        sa.Column('amount_pence', sa.BigInteger(), nullable=False),
    )
    op.create_index('ix_bank_cleared_items_clearing_id', 'bank_cleared_items', ['clearing_id'])
    op.create_index('ix_bank_cleared_items_cleared_transaction', 'bank_cleared_items', ['transaction_id'],
                    unique=True, sqlite_where=sa.text("state = 'cleared'"),
                    postgresql_where=sa.text("state = 'cleared'"))
    dialect = op.get_bind().dialect.name
    for stmt in POSTGRESQL_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(stmt)


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in reversed(IMMUTABLE):
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.drop_table(table)
