"""the restricted-fund ledger core

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 20:18:00.531169

"""
from alembic import op
import sqlalchemy as sa

# Tables whose rows, once written, are history: the database itself refuses to change them.
IMMUTABLE = ("postings", "transactions", "receipts", "plan_versions", "budget_lines", "rates")

PROVIDER_ACCOUNTS = [
    ("client_money", "Client money bank account"),
    ("provider_bank", "Provider's own bank account"),
    ("fee_income", "Management fee income"),
    ("support_income", "Income from support charged"),
    ("void", "Empty places borne by the provider"),
    ("council_refunds", "Refunds and recoveries paid to councils"),
    ("third_parties", "Payments to third parties"),
]

SQLITE_TRIGGERS = [
    # Postings go in first and their transaction's header last: the header must find them
    # balanced, and nothing may join a transaction once its header is written.
    """CREATE TRIGGER transactions_balanced BEFORE INSERT ON transactions
       WHEN (SELECT COUNT(*) FROM postings WHERE transaction_id = NEW.id) < 2
         OR (SELECT COALESCE(SUM(amount_pence), 0) FROM postings WHERE transaction_id = NEW.id) <> 0
       BEGIN SELECT RAISE(ABORT, 'unbalanced transaction: its postings must sum to zero'); END""",
    """CREATE TRIGGER postings_sealed BEFORE INSERT ON postings
       WHEN EXISTS (SELECT 1 FROM transactions WHERE id = NEW.transaction_id)
       BEGIN SELECT RAISE(ABORT, 'transaction already posted: its postings are fixed'); END""",
    # No cross-subsidy: a transaction touches at most one fund, the one it names.
    """CREATE TRIGGER transactions_one_fund BEFORE INSERT ON transactions
       WHEN EXISTS (SELECT 1 FROM postings p JOIN accounts a ON a.id = p.account_id
                     WHERE p.transaction_id = NEW.id AND a.person_id IS NOT NULL
                       AND (NEW.person_id IS NULL OR a.person_id <> NEW.person_id))
       BEGIN SELECT RAISE(ABORT, 'a transaction may move money in one fund only: no cross-subsidy'); END""",
] + [
    f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} are immutable: post a reversal instead'); END"""
    for table in IMMUTABLE for verb in ("UPDATE", "DELETE")
] + [
    # INSERT OR REPLACE deletes the row it collides with without firing DELETE triggers:
    # refuse any insert that would collide with a row already written.
    f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
        WHEN EXISTS (SELECT 1 FROM {table} WHERE {' OR '.join(keys)})
        BEGIN SELECT RAISE(ABORT, '{table} are immutable: a row already written cannot be replaced'); END"""
    for table, keys in {
        "postings": ["id = NEW.id"],
        "transactions": ["id = NEW.id", "reverses_id = NEW.reverses_id"],
        "receipts": ["id = NEW.id", "transaction_id = NEW.transaction_id",
                     "fee_transaction_id = NEW.fee_transaction_id"],
        "plan_versions": ["id = NEW.id", "(person_id = NEW.person_id AND version = NEW.version)"],
        "budget_lines": ["id = NEW.id"],
        "rates": ["id = NEW.id", "(service = NEW.service AND effective_from = NEW.effective_from)"],
    }.items()
]

POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION isf_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION '% are immutable: post a reversal instead', TG_TABLE_NAME
           USING ERRCODE = 'restrict_violation';
       END $$""",
    # Statement-level checks over the rows each INSERT adds (the engine inserts many at once).
    """CREATE FUNCTION isf_transactions_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE bad record;
       BEGIN
         SELECT t.id, COUNT(p.id) AS n, COALESCE(SUM(p.amount_pence), 0) AS total INTO bad
           FROM new_transactions t LEFT JOIN postings p ON p.transaction_id = t.id
          GROUP BY t.id HAVING COUNT(p.id) < 2 OR COALESCE(SUM(p.amount_pence), 0) <> 0 LIMIT 1;
         IF FOUND THEN
           RAISE EXCEPTION 'unbalanced transaction %: % postings summing to % pence', bad.id, bad.n, bad.total
             USING ERRCODE = 'check_violation';
         END IF;
         -- No cross-subsidy: a transaction touches at most one fund, the one it names.
         SELECT t.id INTO bad
           FROM new_transactions t JOIN postings p ON p.transaction_id = t.id JOIN accounts a ON a.id = p.account_id
          WHERE a.person_id IS NOT NULL AND (t.person_id IS NULL OR a.person_id <> t.person_id) LIMIT 1;
         IF FOUND THEN
           RAISE EXCEPTION 'transaction % may move money in one fund only: no cross-subsidy', bad.id
             USING ERRCODE = 'check_violation';
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE FUNCTION isf_postings_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE bad record;
       BEGIN
         SELECT p.transaction_id INTO bad
           FROM new_postings p JOIN transactions t ON t.id = p.transaction_id LIMIT 1;
         IF FOUND THEN
           RAISE EXCEPTION 'transaction % already posted: its postings are fixed', bad.transaction_id
             USING ERRCODE = 'restrict_violation';
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER transactions_balanced AFTER INSERT ON transactions
       REFERENCING NEW TABLE AS new_transactions
       FOR EACH STATEMENT EXECUTE FUNCTION isf_transactions_balanced()""",
    """CREATE TRIGGER postings_sealed AFTER INSERT ON postings
       REFERENCING NEW TABLE AS new_postings
       FOR EACH STATEMENT EXECUTE FUNCTION isf_postings_sealed()""",
] + [
    stmt for table in IMMUTABLE for stmt in (
        f"""CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION isf_refuse_change()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION isf_refuse_change()""",
    )
]


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('councils',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('surplus_threshold_weeks', sa.Integer(), nullable=True),
    sa.Column('payment_cycle', sa.String(length=20), nullable=True),
    sa.Column('bank_expiry_days', sa.Integer(), nullable=True),
    sa.Column('surplus_notice_days', sa.Integer(), nullable=True),
    sa.Column('contribution_spent_first', sa.Boolean(), nullable=True),
    sa.Column('voids_funded_by_council', sa.Boolean(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_councils')),
    sa.UniqueConstraint('name', name=op.f('uq_councils_name'))
    )
    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('council_id', sa.Integer(), nullable=False),
    sa.Column('council_reference', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['council_id'], ['councils.id'], name=op.f('fk_people_council_id_councils')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people')),
    sa.UniqueConstraint('council_id', 'council_reference', name=op.f('uq_people_council_id_council_reference'))
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_people_council_id'), ['council_id'], unique=False)

    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_accounts_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('code', name=op.f('uq_accounts_code'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_person_id'), ['person_id'], unique=False)

    op.create_table('funds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('issued_through', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_funds_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funds')),
    sa.UniqueConstraint('person_id', name=op.f('uq_funds_person_id'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('council_id', sa.Integer(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['council_id'], ['councils.id'], name=op.f('fk_users_council_id_councils')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_users_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_users_token_hash'))
    )
    op.create_table('account_months',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('net_pence', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_account_months_account_id_accounts')),
    sa.PrimaryKeyConstraint('account_id', 'month', name=op.f('pk_account_months'))
    )
    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_idempotency_keys_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('user_id', 'key', name=op.f('uq_idempotency_keys_user_id_key'))
    )
    op.create_table('plan_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('annual_budget_pence', sa.BigInteger(), nullable=False),
    sa.Column('payment_cycle', sa.String(length=20), nullable=True),
    sa.Column('management_fee_rate', sa.String(length=40), nullable=False),
    sa.Column('contingency_amount_pence', sa.BigInteger(), nullable=False),
    sa.Column('weekly_client_contribution_pence', sa.BigInteger(), nullable=False),
    sa.Column('planned_weekly_hours', sa.JSON(), nullable=False),
    sa.Column('rate_overrides', sa.JSON(), nullable=False),
    sa.Column('surplus_threshold_weeks', sa.Integer(), nullable=True),
    sa.Column('bank_expiry_days', sa.Integer(), nullable=True),
    sa.Column('surplus_notice_days', sa.Integer(), nullable=True),
    sa.Column('contribution_spent_first', sa.Boolean(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_plan_versions_created_by_users')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_plan_versions_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_versions')),
    sa.UniqueConstraint('person_id', 'version', name=op.f('uq_plan_versions_person_id_version'))
    )
    with op.batch_alter_table('plan_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_versions_person_id'), ['person_id'], unique=False)

    op.create_table('rates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=60), nullable=False),
    sa.Column('unit', sa.String(length=10), nullable=False),
    sa.Column('rate', sa.String(length=40), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_rates_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rates')),
    sa.UniqueConstraint('service', 'effective_from', name=op.f('uq_rates_service_effective_from'))
    )
    with op.batch_alter_table('rates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rates_service'), ['service'], unique=False)

    op.create_table('transactions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('service_date', sa.Date(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('reverses_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_transactions_created_by_users')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_transactions_person_id_people')),
    sa.ForeignKeyConstraint(['reverses_id'], ['transactions.id'], name=op.f('fk_transactions_reverses_id_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transactions')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_transactions_reverses_id'))
    )
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transactions_date'), ['date'], unique=False)
        batch_op.create_index(batch_op.f('ix_transactions_person_id'), ['person_id'], unique=False)

    op.create_table('budget_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=40), nullable=False),
    sa.Column('outcome', sa.String(length=500), nullable=False),
    sa.Column('annual_amount_pence', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plan_versions.id'], name=op.f('fk_budget_lines_plan_id_plan_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budget_lines'))
    )
    with op.batch_alter_table('budget_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_budget_lines_plan_id'), ['plan_id'], unique=False)

    op.create_table('postings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('amount_pence', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_pence <> 0', name=op.f('ck_postings_nonzero')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_postings_account_id_accounts')),
    sa.ForeignKeyConstraint(['transaction_id'], ['transactions.id'], name=op.f('fk_postings_transaction_id_transactions'), initially='DEFERRED', deferrable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postings'))
    )
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index('ix_postings_account_date_amount', ['account_id', 'date', 'amount_pence'], unique=False)
        batch_op.create_index('ix_postings_date_account_amount', ['date', 'account_id', 'amount_pence'], unique=False)
        batch_op.create_index(batch_op.f('ix_postings_transaction_id'), ['transaction_id'], unique=False)

    op.create_table('receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('amount_pence', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('fee_exempt', sa.Boolean(), nullable=False),
    sa.Column('fee_rate', sa.String(length=40), nullable=False),
    sa.Column('fee_pence', sa.BigInteger(), nullable=False),
    sa.Column('transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fee_transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['fee_transaction_id'], ['transactions.id'], name=op.f('fk_receipts_fee_transaction_id_transactions')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_receipts_person_id_people')),
    sa.ForeignKeyConstraint(['transaction_id'], ['transactions.id'], name=op.f('fk_receipts_transaction_id_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts')),
    sa.UniqueConstraint('fee_transaction_id', name=op.f('uq_receipts_fee_transaction_id')),
    sa.UniqueConstraint('transaction_id', name=op.f('uq_receipts_transaction_id'))
    )
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipts_person_id'), ['person_id'], unique=False)

    # ### end Alembic commands ###
    dialect = op.get_bind().dialect.name
    for stmt in POSTGRESQL_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(stmt)
    accounts = sa.table("accounts", sa.column("code"), sa.column("kind"), sa.column("name"))
    op.bulk_insert(accounts, [{"code": f"provider:{kind}", "kind": kind, "name": name}
                              for kind, name in PROVIDER_ACCOUNTS])


def downgrade():
    # History cannot be dropped while the triggers guard it.
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS transactions_balanced ON transactions")
        op.execute("DROP TRIGGER IF EXISTS postings_sealed ON postings")
        for fn in ("isf_refuse_change", "isf_transactions_balanced", "isf_postings_sealed"):
            op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipts_person_id'))

    op.drop_table('receipts')
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postings_transaction_id'))
        batch_op.drop_index('ix_postings_account_date_amount')
        batch_op.drop_index('ix_postings_date_account_amount')

    op.drop_table('postings')
    with op.batch_alter_table('budget_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_budget_lines_plan_id'))

    op.drop_table('budget_lines')
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transactions_person_id'))
        batch_op.drop_index(batch_op.f('ix_transactions_date'))

    op.drop_table('transactions')
    with op.batch_alter_table('rates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rates_service'))

    op.drop_table('rates')
    with op.batch_alter_table('plan_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_versions_person_id'))

    op.drop_table('plan_versions')
    op.drop_table('idempotency_keys')
    op.drop_table('account_months')
    op.drop_table('users')
    op.drop_table('funds')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_person_id'))

    op.drop_table('accounts')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_council_id'))

    op.drop_table('people')
    op.drop_table('councils')
    # ### end Alembic commands ###
