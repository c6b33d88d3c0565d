"""monthly checkpoints of each person's pots by the kind of transaction, filled from the postings

The dashboard's plan-year use (support, shared support and spend, net of their reversals, from
each fund's plan-year start) summed a year of postings per fund; from these it reads a row a
month, and only the part months at either end from the postings.

Revision ID: 0013
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('account_kind_months',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('reverses_kind', sa.String(length=40), nullable=False),
    sa.Column('net_pence', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_account_kind_months_account_id_accounts')),
    sa.PrimaryKeyConstraint('account_id', 'month', 'kind', 'reverses_kind', name=op.f('pk_account_kind_months'))
    )
    # Existing books: the same sums ledger.post keeps from now on, from every person's postings.
    if op.get_bind().dialect.name == 'postgresql':
        month = "CAST(date_trunc('month', p.date) AS date)"
    else:
        month = "date(p.date, 'start of month')"
    op.execute(f"""
        INSERT INTO account_kind_months (account_id, month, kind, reverses_kind, net_pence)
        SELECT p.account_id, {month}, t.kind, COALESCE(o.kind, ''), SUM(p.amount_pence)
        FROM postings p
        JOIN accounts a ON a.id = p.account_id AND a.person_id IS NOT NULL
        JOIN transactions t ON t.id = p.transaction_id
        LEFT JOIN transactions o ON o.id = t.reverses_id
        GROUP BY p.account_id, {month}, t.kind, COALESCE(o.kind, '')""")


def downgrade():
    op.drop_table('account_kind_months')
