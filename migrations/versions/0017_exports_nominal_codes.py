"""exports: the provider's nominal codes and Sage 50 departments for the finance-system journals,
and a record of each journal file exported

Revision ID: 0017_exports
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

revision = '0017_exports'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'nominal_codes',
        sa.Column('account_kind', sa.String(length=40), nullable=False),
        sa.Column('code', sa.String(length=8), nullable=False),
        sa.Column('changed_by', sa.Integer(), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_nominal_codes_changed_by_users')),
        sa.PrimaryKeyConstraint('account_kind', name=op.f('pk_nominal_codes')),
    )
    op.create_table(
        'export_departments',
        sa.Column('option', sa.String(length=200), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('changed_by', sa.Integer(), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_export_departments_changed_by_users')),
        sa.PrimaryKeyConstraint('option', name=op.f('pk_export_departments')),
    )
    op.create_table(
        'export_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('format', sa.String(length=20), nullable=False),
        sa.Column('period_from', sa.Date(), nullable=False),
        sa.Column('period_to', sa.Date(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('exported_by', sa.Integer(), nullable=True),
        sa.Column('exported_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['exported_by'], ['users.id'], name=op.f('fk_export_runs_exported_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_export_runs')),
        sa.UniqueConstraint('format', 'period_from', 'period_to', 'sha256',
                            name=op.f('uq_export_runs_format_period_from_period_to_sha256')),
    )


def downgrade():
    op.drop_table('export_runs')
    op.drop_table('export_departments')
    op.drop_table('nominal_codes')
