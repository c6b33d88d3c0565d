"""queries from the person and their answers (history: never edited or removed), and spend
marked one_off (left out of the forecast's recent rate)

Revision ID: 0017_queries
Revises: 0017_web
"""
from alembic import op
import sqlalchemy as sa

# table -> the keys an INSERT OR REPLACE could collide on (SQLite would silently delete the old row)
IMMUTABLE = {"fund_queries": ["id = NEW.id"], "fund_query_answers": ["id = NEW.id"]}

revision = '0021_queries'
down_revision = '0020_web'
branch_labels = None
depends_on = None


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
                           BEGIN SELECT RAISE(ABORT, '{table} are history: they cannot be changed or removed'); END""")
        op.execute(f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
                       WHEN EXISTS (SELECT 1 FROM {table} WHERE {' OR '.join(keys)})
                       BEGIN SELECT RAISE(ABORT, '{table} are history: a row already written cannot be replaced'); END""")


def upgrade():
    op.create_table('fund_queries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('message', sa.String(length=2000), nullable=False),
    sa.Column('transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('spend_id', sa.Integer(), nullable=True),
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('statement_month', sa.Date(), nullable=True),
    sa.Column('raised_by', sa.Integer(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(CASE WHEN transaction_id IS NULL THEN 0 ELSE 1 END + CASE WHEN spend_id IS NULL THEN 0 ELSE 1 END + CASE WHEN delivery_id IS NULL THEN 0 ELSE 1 END + CASE WHEN statement_month IS NULL THEN 0 ELSE 1 END) <= 1', name=op.f('ck_fund_queries_one_item')),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_fund_queries_delivery_id_deliveries')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_fund_queries_person_id_people')),
    sa.ForeignKeyConstraint(['raised_by'], ['users.id'], name=op.f('fk_fund_queries_raised_by_users')),
    sa.ForeignKeyConstraint(['spend_id'], ['spend.id'], name=op.f('fk_fund_queries_spend_id_spend')),
    sa.ForeignKeyConstraint(['transaction_id'], ['transactions.id'], name=op.f('fk_fund_queries_transaction_id_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_queries'))
    )
    op.create_index('ix_fund_queries_person_raised', 'fund_queries', ['person_id', 'raised_at'], unique=False)
    op.create_table('fund_query_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('query_id', sa.Integer(), nullable=False),
    sa.Column('message', sa.String(length=2000), nullable=False),
    sa.Column('answered_by', sa.Integer(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answered_by'], ['users.id'], name=op.f('fk_fund_query_answers_answered_by_users')),
    sa.ForeignKeyConstraint(['query_id'], ['fund_queries.id'], name=op.f('fk_fund_query_answers_query_id_fund_queries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_query_answers'))
    )
    op.create_index(op.f('ix_fund_query_answers_query_id'), 'fund_query_answers', ['query_id'], unique=False)
    _guard_history()
    # A plain ADD COLUMN on both engines: a batch rebuild of `spend` on SQLite would drop its
    # immutability triggers (0006). It changes no row, so they do not fire.
    op.add_column('spend', sa.Column('one_off', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    # SQLite 3.35+ drops a column in place (the triggers on `spend` do not name it).
    op.drop_column('spend', 'one_off')
    # Dropping a table drops its triggers with it, on both engines.
    op.drop_index(op.f('ix_fund_query_answers_query_id'), table_name='fund_query_answers')
    op.drop_table('fund_query_answers')
    op.drop_index('ix_fund_queries_person_raised', table_name='fund_queries')
    op.drop_table('fund_queries')
