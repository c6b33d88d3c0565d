"""councils' rule history and the audit log: both append-only, guarded by triggers as the postings are

Revision ID: 0011
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

IMMUTABLE = {"council_rule_changes": "rule changes are history", "audit_log": "the audit log is append-only"}
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
        BEGIN SELECT RAISE(ABORT, '{why}: it cannot be changed or removed'); END"""
    for table, why in IMMUTABLE.items() for verb in ("UPDATE", "DELETE")
] + [
    # INSERT OR REPLACE would delete the row it collides with without a DELETE trigger firing.
    f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
        WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id)
        BEGIN SELECT RAISE(ABORT, '{why}: a row already written cannot be replaced'); END"""
    for table, why in IMMUTABLE.items()
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

revision = '0011'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('council_rule_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('council_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('old_value', sa.String(length=40), nullable=False),
    sa.Column('new_value', sa.String(length=40), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('changed_by', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_council_rule_changes_changed_by_users')),
    sa.ForeignKeyConstraint(['council_id'], ['councils.id'], name=op.f('fk_council_rule_changes_council_id_councils')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_council_rule_changes'))
    )
    op.create_index('ix_council_rule_changes_council_field', 'council_rule_changes',
                    ['council_id', 'field', 'effective_from'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=True),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('path', sa.String(length=2000), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_log_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index(op.f('ix_audit_log_at'), 'audit_log', ['at'], unique=False)
    op.create_index(op.f('ix_audit_log_request_id'), 'audit_log', ['request_id'], unique=False)
    for stmt in POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(stmt)


def downgrade():
    # Dropping a table drops its triggers with it, on both engines (no row is deleted one by one).
    op.drop_index(op.f('ix_audit_log_request_id'), table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_at'), table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index('ix_council_rule_changes_council_field', table_name='council_rule_changes')
    op.drop_table('council_rule_changes')
