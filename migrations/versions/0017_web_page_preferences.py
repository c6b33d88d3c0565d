"""page preferences: a user's text size on the web pages, kept across sign-ins

Revision ID: 0017_web
Revises: 0017_docs
"""
from alembic import op
import sqlalchemy as sa

revision = '0017_web'
down_revision = '0017_docs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'page_preferences',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('text_size', sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_page_preferences_user_id_users')),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_page_preferences')),
    )


def downgrade():
    op.drop_table('page_preferences')
