"""imports: deliveries carry the rostering system's visit id; files applied are remembered by hash

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('delivery_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('written', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_delivery_imports_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_imports')),
    sa.UniqueConstraint('sha256', name=op.f('uq_delivery_imports_sha256'))
    )
    # Plain ALTER TABLE ADD COLUMN and CREATE INDEX, never batch mode: on SQLite a batch rebuilds
    # the table and loses the triggers that keep deliveries immutable.
    op.add_column('deliveries', sa.Column('external_id', sa.String(length=100), nullable=True))
    op.create_index('uq_deliveries_external_id', 'deliveries', ['external_id'], unique=True)


def downgrade():
    op.drop_index('uq_deliveries_external_id', table_name='deliveries')
    op.drop_column('deliveries', 'external_id')  # SQLite 3.35+ drops a column in place
    op.drop_table('delivery_imports')
