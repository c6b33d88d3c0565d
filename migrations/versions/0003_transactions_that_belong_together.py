"""transactions that belong together: a fee follows its receipt and is reversed with it

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE_NO_UPDATE = """CREATE TRIGGER transactions_no_update BEFORE UPDATE ON transactions
        BEGIN SELECT RAISE(ABORT, 'transactions are immutable: post a reversal instead'); END"""
# Fees already written follow their receipt; history is rewritten here once, by the migration,
# with the guard lifted for that one statement.
BACKFILL = """UPDATE transactions SET follows_id = (
                SELECT r.transaction_id FROM receipts r WHERE r.fee_transaction_id = transactions.id)
              WHERE id IN (SELECT fee_transaction_id FROM receipts WHERE fee_transaction_id IS NOT NULL)"""


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    # A plain ADD COLUMN: a batch rebuild of `transactions` would drop its triggers with it.
    if postgresql:
        op.add_column("transactions", sa.Column(
            "follows_id", sa.BigInteger(),
            sa.ForeignKey("transactions.id", name=op.f("fk_transactions_follows_id_transactions")), nullable=True))
    else:  # Alembic will not add a constraint on SQLite; SQLite itself will, inline
        op.execute("ALTER TABLE transactions ADD COLUMN follows_id INTEGER "
                   "CONSTRAINT fk_transactions_follows_id_transactions REFERENCES transactions (id)")
    op.create_index(op.f("ix_transactions_follows_id"), "transactions", ["follows_id"], unique=False)
    if postgresql:
        op.execute("ALTER TABLE transactions DISABLE TRIGGER transactions_immutable")
        op.execute(BACKFILL)
        op.execute("ALTER TABLE transactions ENABLE TRIGGER transactions_immutable")
    else:
        op.execute("DROP TRIGGER transactions_no_update")
        op.execute(BACKFILL)
        op.execute(SQLITE_NO_UPDATE)


def downgrade():
    op.drop_index(op.f("ix_transactions_follows_id"), table_name="transactions")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("fk_transactions_follows_id_transactions"), "transactions", type_="foreignkey")
        op.drop_column("transactions", "follows_id")
    else:
        # SQLite drops a column in place since 3.35, when no constraint names it; the FK does, so
        # the column stays (unused) rather than rebuilding the guarded table.
        pass
