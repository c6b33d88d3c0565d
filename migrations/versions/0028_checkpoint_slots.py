"""provider accounts' monthly checkpoints split over slots: no one row every writer locks

Every delivery, receipt and spend moves client money (and support income, the provider's bank,
fee income), and ledger.post added it to that account's one row for the month, locked from then
until the write committed: every writer of every fund queued on it (under `make proof` at 16
clients most backends waited on that row). A provider account's month is now kept in up to
ledger.post.CHECKPOINT_SLOTS rows, the slot chosen by the writing fund; readers already sum.
Existing rows become slot 0.

(Written as 0027_checkpoint_slots, reverted, and re-chained after 0027_bank_interest.)

Revision ID: 0028_checkpoint_slots
Revises: 0027_bank_interest
"""
from alembic import op
import sqlalchemy as sa

revision = "0028_checkpoint_slots"
down_revision = "0027_bank_interest"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("account_months") as batch:
        batch.add_column(sa.Column("slot", sa.SmallInteger(), nullable=False, server_default="0"))
        batch.drop_constraint("pk_account_months", type_="primary")
        batch.create_primary_key("pk_account_months", ["account_id", "month", "slot"])


def downgrade():
    # The slots of a month summed back into one row.
    op.execute("CREATE TABLE account_months_merged AS SELECT account_id, month, SUM(net_pence) AS net_pence "
               "FROM account_months GROUP BY account_id, month")
    op.execute("DELETE FROM account_months")
    with op.batch_alter_table("account_months") as batch:
        batch.drop_constraint("pk_account_months", type_="primary")
        batch.drop_column("slot")
        batch.create_primary_key("pk_account_months", ["account_id", "month"])
    op.execute("INSERT INTO account_months (account_id, month, net_pence) "
               "SELECT account_id, month, net_pence FROM account_months_merged")
    op.execute("DROP TABLE account_months_merged")
