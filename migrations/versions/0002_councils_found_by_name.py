"""councils are found by their name whatever its case or spacing

Revision ID: 0002
Revises: 0001
"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _key(name: str) -> str:
    # as isf_ledger.accounts.councils.name_key, frozen here so the migration never changes
    visible = "".join(" " if unicodedata.category(c) in ("Zs", "Zl", "Zp", "Cc") else c
                      for c in name if unicodedata.category(c) not in ("Cf", "Co", "Cn"))
    return unicodedata.normalize("NFKC", " ".join(visible.split())).casefold()


def upgrade():
    with op.batch_alter_table("councils") as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=200), nullable=True))
    conn = op.get_bind()
    for cid, name in conn.execute(sa.text("SELECT id, name FROM councils")).all():
        conn.execute(sa.text("UPDATE councils SET name_key = :k WHERE id = :i"), {"k": _key(name), "i": cid})
    with op.batch_alter_table("councils") as batch_op:
        batch_op.alter_column("name_key", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_councils_name_key"), ["name_key"])


def downgrade():
    with op.batch_alter_table("councils") as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_councils_name_key"), type_="unique")
        batch_op.drop_column("name_key")
