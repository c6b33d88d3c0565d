"""statements: issued once, immutable snapshots numbered from one provider-wide sequence

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

# Issued statements are history: the database refuses to change or remove them (as 0001 does
# for the ledger); a correction is a new statement.
IMMUTABLE = ("statements", "statement_documents")
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} are immutable: issue a correction instead'); END"""
    for table in IMMUTABLE for verb in ("UPDATE", "DELETE")
] + [
    f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
        WHEN EXISTS (SELECT 1 FROM {table} WHERE {keys})
        BEGIN SELECT RAISE(ABORT, '{table} are immutable: a row already written cannot be replaced'); END"""
    for table, keys in {
        "statements": "id = NEW.id OR number = NEW.number OR replaces_id = NEW.replaces_id "
                      "OR (person_id = NEW.person_id AND month = NEW.month AND version = NEW.version)",
        "statement_documents": "statement_id = NEW.statement_id",
    }.items()
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


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['issued_by'], ['users.id'], name=op.f('fk_statements_issued_by_users')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_statements_person_id_people')),
    sa.ForeignKeyConstraint(['replaces_id'], ['statements.id'], name=op.f('fk_statements_replaces_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statements')),
    sa.UniqueConstraint('number', name=op.f('uq_statements_number')),
    sa.UniqueConstraint('person_id', 'month', 'version', name=op.f('uq_statements_person_id_month_version')),
    sa.UniqueConstraint('replaces_id', name=op.f('uq_statements_replaces_id'))
    )
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.create_index('ix_statements_month_person', ['month', 'person_id'], unique=False)

    op.create_table('statement_documents',
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_statement_documents_statement_id_statements')),
    sa.PrimaryKeyConstraint('statement_id', name=op.f('pk_statement_documents'))
    )
    for stmt in POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(stmt)


def downgrade():
    op.drop_table('statement_documents')
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.drop_index('ix_statements_month_person')

    op.drop_table('statements')
