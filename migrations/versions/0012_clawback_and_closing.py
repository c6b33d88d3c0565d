"""clawbacks and closed funds: notice, method and where a closed fund's balance went

Revision ID: 0012
Revises: 0010

Both tables are history: the database refuses UPDATE and DELETE on them (and on SQLite an
INSERT OR REPLACE over a row written), as 0006 does for spend.
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None

# table -> the keys an INSERT OR REPLACE could collide on (SQLite would silently delete the old row)
IMMUTABLE = {
    "clawbacks": ["id = NEW.id", "transaction_id = NEW.transaction_id", "receipt_id = NEW.receipt_id"],
    "fund_closings": ["id = NEW.id", "person_id = NEW.person_id", "statement_id = NEW.statement_id"],
}


def _guard_history():
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE:  # isf_refuse_change() comes from 0001
            op.execute(f"""CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table}
                           FOR EACH ROW EXECUTE FUNCTION isf_refuse_change()""")
            op.execute(f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                           FOR EACH STATEMENT EXECUTE FUNCTION isf_refuse_change()""")
        return
    for table, keys in IMMUTABLE.items():
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
                           BEGIN SELECT RAISE(ABORT, '{table} are immutable: post a reversal instead'); END""")
        op.execute(f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
                       WHEN EXISTS (SELECT 1 FROM {table} WHERE {' OR '.join(keys)})
                       BEGIN SELECT RAISE(ABORT, '{table} are immutable: a row already written cannot be replaced'); END""")


def upgrade():
    op.create_table('clawbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('amount_pence', sa.BigInteger(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('notice_given_on', sa.Date(), nullable=True),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('override_reason', sa.String(length=500), nullable=True),
    sa.Column('recoverable_pence', sa.BigInteger(), nullable=False),
    sa.Column('transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('receipt_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("method IN ('repayment', 'deduction')", name=op.f('ck_clawbacks_method')),
    sa.CheckConstraint('amount_pence > 0', name=op.f('ck_clawbacks_positive')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_clawbacks_created_by_users')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_clawbacks_person_id_people')),
    sa.ForeignKeyConstraint(['receipt_id'], ['receipts.id'], name=op.f('fk_clawbacks_receipt_id_receipts')),
    sa.ForeignKeyConstraint(['transaction_id'], ['transactions.id'], name=op.f('fk_clawbacks_transaction_id_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clawbacks')),
    sa.UniqueConstraint('receipt_id', name=op.f('uq_clawbacks_receipt_id')),
    sa.UniqueConstraint('transaction_id', name=op.f('uq_clawbacks_transaction_id'))
    )
    op.create_index(op.f('ix_clawbacks_person_id'), 'clawbacks', ['person_id'], unique=False)
    op.create_table('fund_closings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('destination', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('paid_out_pence', sa.BigInteger(), nullable=False),
    sa.Column('transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("destination IN ('council', 'transfer')", name=op.f('ck_fund_closings_destination')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_fund_closings_created_by_users')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_fund_closings_person_id_people')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_fund_closings_statement_id_statements')),
    sa.ForeignKeyConstraint(['transaction_id'], ['transactions.id'], name=op.f('fk_fund_closings_transaction_id_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_closings')),
    sa.UniqueConstraint('person_id', name=op.f('uq_fund_closings_person_id')),
    sa.UniqueConstraint('statement_id', name=op.f('uq_fund_closings_statement_id')),
    sa.UniqueConstraint('transaction_id', name=op.f('uq_fund_closings_transaction_id'))
    )
    _guard_history()


def downgrade():
    # Dropping a table drops its triggers on both engines.
    op.drop_table('fund_closings')
    op.drop_index(op.f('ix_clawbacks_person_id'), table_name='clawbacks')
    op.drop_table('clawbacks')
