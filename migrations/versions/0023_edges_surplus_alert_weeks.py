"""surplus_alert_weeks: how long a surplus must stay above the threshold before the dashboard
alerts `underspending` (domain.md "Councils"), a council rule a plan may override

Revision ID: 0017_edges
Revises: 0018_docs
"""
from alembic import op
import sqlalchemy as sa

revision = '0023_edges'
down_revision = '0022_bank'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('councils', sa.Column('surplus_alert_weeks', sa.Integer(), nullable=True))
    op.add_column('plan_versions', sa.Column('surplus_alert_weeks', sa.Integer(), nullable=True))


def downgrade():
    op.drop_column('plan_versions', 'surplus_alert_weeks')
    op.drop_column('councils', 'surplus_alert_weeks')
