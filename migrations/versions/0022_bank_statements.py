"""the client bank account: statements, their lines as received, and matches to the ledger

- bank_statements: one uploaded file, its format and closing balance.
- bank_lines: each line as the bank sent it; never changed or removed (triggers), and a line
  seen before (by `identity`) is not stored again.
- bank_matches: a line matched to a client-money movement; append-only, one line per movement.
- bank_reconciliations: a reconciliation completed at 0.00, who and when; append-only.

Revision ID: 0017_bank
Revises: 0019_auth (the lead re-chains)
"""
from alembic import op
import sqlalchemy as sa

revision = '0022_bank'
down_revision = '0021_queries'
branch_labels = None
depends_on = None

IMMUTABLE = ("bank_statements", "bank_lines", "bank_matches", "bank_reconciliations")
WHY = "bank statements are kept as received"
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
    op.create_table(
        'bank_statements',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('filename', sa.String(255), nullable=False),
        sa.Column('format', sa.String(30), nullable=False),
        sa.Column('closing_date', sa.Date(), nullable=True),
        sa.Column('closing_balance_pence', sa.BigInteger(), nullable=True),
        sa.Column('uploaded_by', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'bank_lines',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('statement_id', sa.Integer(), sa.ForeignKey('bank_statements.id'), nullable=False),
        sa.Column('line_no', sa.Integer(), nullable=False),
        sa.Column('account', sa.String(60), nullable=False),
        sa.Column('date', sa.Date(), nullable=False),
        sa.Column('amount_pence', sa.BigInteger(), nullable=False),
        sa.Column('description', sa.String(500), nullable=False),
        sa.Column('reference', sa.String(140), nullable=False),
        sa.Column('balance_pence', sa.BigInteger(), nullable=True),
        sa.Column('identity', sa.String(64), nullable=False, unique=True),
    )
    op.create_index('ix_bank_lines_statement_id', 'bank_lines', ['statement_id'])
    op.create_index('ix_bank_lines_date', 'bank_lines', ['date'])
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        'bank_matches',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('line_id', sa.Integer(), sa.ForeignKey('bank_lines.id'), nullable=False),
        sa.Column('transaction_id', big, sa.ForeignKey('transactions.id'), nullable=False, unique=True),
        sa.Column('how', sa.String(20), nullable=False),
        sa.Column('matched_by', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('matched_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_bank_matches_line_id', 'bank_matches', ['line_id'])
    op.create_table(
        'bank_reconciliations',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('as_of', sa.Date(), nullable=False, unique=True),
        sa.Column('bank_balance_pence', sa.BigInteger(), nullable=False),
        sa.Column('client_money_held_pence', sa.BigInteger(), nullable=False),
        sa.Column('completed_by', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
    )
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
