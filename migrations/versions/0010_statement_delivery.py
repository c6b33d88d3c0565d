"""statement delivery: preferences with history, a log of each statement sent, the month's print
batch, and APScheduler's job store

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

# A preference is history (where a past statement was meant to go): never edited, a change is a
# new row. The delivery log itself changes status as it goes, so it has no such trigger.
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER statement_delivery_preferences_no_{verb.lower()} BEFORE {verb}
        ON statement_delivery_preferences
        BEGIN SELECT RAISE(ABORT, 'delivery preferences are never edited: record a new one from a date'); END"""
    for verb in ("UPDATE", "DELETE")
]
# isf_refuse_change() comes from 0001.
POSTGRESQL_TRIGGERS = [
    """CREATE TRIGGER statement_delivery_preferences_immutable BEFORE UPDATE OR DELETE
       ON statement_delivery_preferences FOR EACH ROW EXECUTE FUNCTION isf_refuse_change()""",
    """CREATE TRIGGER statement_delivery_preferences_no_truncate BEFORE TRUNCATE
       ON statement_delivery_preferences FOR EACH STATEMENT EXECUTE FUNCTION isf_refuse_change()""",
]

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # APScheduler 3.x's SQLAlchemyJobStore table, as it would make it.
    op.create_table('apscheduler_jobs',
    sa.Column('id', sa.Unicode(length=191), nullable=False),
    sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
    sa.Column('job_state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apscheduler_jobs'))
    )
    op.create_index(op.f('ix_apscheduler_jobs_next_run_time'), 'apscheduler_jobs', ['next_run_time'], unique=False)

    op.create_table('statement_print_batches',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('letters', sa.Integer(), nullable=False),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_statement_print_batches'))
    )
    op.create_table('statement_delivery_preferences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('address_lines', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_statement_delivery_preferences_created_by_users')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_statement_delivery_preferences_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_delivery_preferences'))
    )
    op.create_index('ix_statement_delivery_preferences_person', 'statement_delivery_preferences',
                    ['person_id', 'effective_from'], unique=False)

    op.create_table('statement_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('preference_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('address', sa.String(length=1000), nullable=False),
    sa.Column('address_key', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['preference_id'], ['statement_delivery_preferences.id'], name=op.f('fk_statement_deliveries_preference_id_statement_delivery_preferences')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_statement_deliveries_statement_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_deliveries')),
    sa.UniqueConstraint('statement_id', 'address_key', name=op.f('uq_statement_deliveries_statement_id_address_key'))
    )
    op.create_index('ix_statement_deliveries_month_status', 'statement_deliveries', ['month', 'status'], unique=False)
    for stmt in POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(stmt)


def downgrade():
    # Dropping a table drops its triggers and indexes with it (no batch rebuild).
    op.drop_table('statement_deliveries')
    op.drop_table('statement_delivery_preferences')
    op.drop_table('statement_print_batches')
    op.drop_table('apscheduler_jobs')
