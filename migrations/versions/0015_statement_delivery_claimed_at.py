"""statement delivery: when a sender claimed a row, so a row still on its way is not flagged for
a person to check

Revision ID: 0015
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN on both engines (statement_deliveries has no guard triggers to keep).
    op.add_column('statement_deliveries', sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('statement_deliveries') as batch_op:
        batch_op.drop_column('claimed_at')
