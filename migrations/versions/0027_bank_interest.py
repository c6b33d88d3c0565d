"""interest the bank pays on client money: shared among the funds or kept by the provider

- provider_details.bank_interest: `shared` (the default: among the funds, in proportion to their
  daily balances over the interest period) or `provider` (kept by the provider); the statements
  say which.
- bank_interest: one row per interest payment (its date, period, amount, how it was handled, the
  bank line it is, if named); bank_interest_shares: each fund's balance-days and share, with the
  transaction that paid it. Both append-only.
- the provider's `interest_income` account: interest the provider keeps.

Revision ID: 0027_bank_interest
Revises: 0026_receipt_files (the lead re-chains)
"""
from alembic import op
import sqlalchemy as sa

revision = '0027_bank_interest'
down_revision = '0026_receipt_files'
branch_labels = None
depends_on = None

IMMUTABLE = ("bank_interest", "bank_interest_shares")
WHY = "interest paid is kept as it was: post a reversal instead"
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
INTEREST_INCOME = ("interest_income", "Bank interest kept by the provider")


def upgrade():
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    with op.batch_alter_table('provider_details') as batch:
        batch.add_column(sa.Column('bank_interest', sa.String(20), nullable=False, server_default='shared'))
    op.create_table(
        'bank_interest',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('date', sa.Date(), nullable=False),
        sa.Column('period_from', sa.Date(), nullable=False),
        sa.Column('period_to', sa.Date(), nullable=False),
        sa.Column('amount_pence', sa.BigInteger(), nullable=False),
        sa.Column('handling', sa.String(20), nullable=False),
        sa.Column('kept_pence', sa.BigInteger(), nullable=False),
        sa.Column('line_id', sa.Integer(), sa.ForeignKey('bank_lines.id'), nullable=True, unique=True),
        sa.Column('kept_transaction_id', big, sa.ForeignKey('transactions.id'), nullable=True),
        sa.Column('transfer_transaction_id', big, sa.ForeignKey('transactions.id'), nullable=True),
        sa.Column('created_by', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("handling IN ('shared', 'provider')", name='ck_bank_interest_handling'),
        sa.CheckConstraint("amount_pence > 0", name='ck_bank_interest_amount'),
        sa.UniqueConstraint('period_from', 'period_to', name='uq_bank_interest_period_from_period_to'),
    )
    op.create_table(
        'bank_interest_shares',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('interest_id', sa.Integer(), sa.ForeignKey('bank_interest.id'), nullable=False),
        sa.Column('person_id', sa.Integer(), sa.ForeignKey('people.id'), nullable=False),
        sa.Column('balance_days_pence', sa.BigInteger(), nullable=False),
        sa.Column('share_pence', sa.BigInteger(), nullable=False),
        sa.Column('transaction_id', big, sa.ForeignKey('transactions.id'), nullable=True),
    )
    op.create_index('ix_bank_interest_shares_interest_id', 'bank_interest_shares', ['interest_id'])
    op.create_index('ix_bank_interest_shares_person_id', 'bank_interest_shares', ['person_id'])
    accounts = sa.table('accounts', sa.column('code', sa.String), sa.column('kind', sa.String),
                        sa.column('name', sa.String))
    op.bulk_insert(accounts, [{"code": f"provider:{INTEREST_INCOME[0]}", "kind": INTEREST_INCOME[0],
                               "name": INTEREST_INCOME[1]}])
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
    # The account this revision added goes with it; its guard (0004) is lifted for that statement.
    remove = "DELETE FROM accounts WHERE code = 'provider:interest_income'"
    if dialect == "postgresql":
        op.execute("ALTER TABLE accounts DISABLE TRIGGER accounts_immutable")
        op.execute(remove)
        op.execute("ALTER TABLE accounts ENABLE TRIGGER accounts_immutable")
    else:
        op.execute("DROP TRIGGER accounts_no_delete")
        op.execute(remove)
        op.execute("""CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts
        BEGIN SELECT RAISE(ABORT, 'accounts are immutable'); END""")
    with op.batch_alter_table('provider_details') as batch:
        batch.drop_column('bank_interest')
