"""sign-in failures: failed attempts per name, so the web sign-in can lock a name out across
processes

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sign_in_failures',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failures')),
    )
    op.create_index('ix_sign_in_failures_name_at', 'sign_in_failures', ['name', 'at'], unique=False)


def downgrade():
    op.drop_index('ix_sign_in_failures_name_at', table_name='sign_in_failures')
    op.drop_table('sign_in_failures')
