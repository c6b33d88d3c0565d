"""page jobs: a long write started from a page (an import, a month end), its progress and outcome

Revision ID: 0025_ops
Revises: 0024_bank
"""
from alembic import op
import sqlalchemy as sa

revision = '0025_ops'
down_revision = '0024_bank'
branch_labels = None
depends_on = None

def upgrade():
    op.create_table(
        'page_jobs',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=255), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_page_jobs_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_page_jobs')),
    )

def downgrade():
    op.drop_table('page_jobs')
