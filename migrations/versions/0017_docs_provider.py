"""provider details: the provider's own name, address, phone, e-mail and contact for questions,
shown on every statement and letter (one row)

Revision ID: 0017_docs
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

revision = '0017_docs'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'provider_details',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('address_lines', sa.JSON(), nullable=False),
        sa.Column('phone', sa.String(length=40), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('contact_name', sa.String(length=200), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.Integer(), nullable=True),
        sa.CheckConstraint('id = 1', name=op.f('ck_provider_details_one_row')),
        sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_provider_details_updated_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_details')),
    )


def downgrade():
    op.drop_table('provider_details')
