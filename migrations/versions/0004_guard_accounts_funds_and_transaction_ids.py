"""guard accounts and funds; transaction ids allocated from a table of their own

Accounts say whose money a posting is: changing one moves a person's history into another's
fund. Funds may only move forward (a statement issued, the fund closed). Transaction ids come
from `transaction_ids`, written in the same database transaction as the postings; a posting for
an id never allocated is refused, so postings planted for "the next id" can never be folded
into a transaction the app writes (on SQLite AUTOINCREMENT never hands out an id again).

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

IMMUTABLE = ("accounts", "transaction_ids")

# A fund changes only as the engine moves it: issued_through later (never back), closed_on set
# once, opened_on earlier (a plan dated before the person was entered opens the fund at its
# start: accounts/plans.py). Who it belongs to never changes.
FUND_CHANGE_REFUSED = """
    NEW.id IS DISTINCT FROM OLD.id OR NEW.person_id IS DISTINCT FROM OLD.person_id
    OR NEW.opened_on IS NULL OR NEW.opened_on > OLD.opened_on
    OR (OLD.issued_through IS NOT NULL AND (NEW.issued_through IS NULL OR NEW.issued_through < OLD.issued_through))
    OR (OLD.closed_on IS NOT NULL AND NEW.closed_on IS DISTINCT FROM OLD.closed_on)"""
FUND_MESSAGE = ("funds are immutable but as the engine moves them: issued_through to a later date, "
                "closed_on set once, opened_on earlier; person_id never changes")

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} are immutable'); END"""
    for table in IMMUTABLE for verb in ("UPDATE", "DELETE")
] + [
    # INSERT OR REPLACE would delete the row it collides with (see 0001).
    f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
        WHEN EXISTS (SELECT 1 FROM {table} WHERE {keys})
        BEGIN SELECT RAISE(ABORT, '{table} are immutable: a row already written cannot be replaced'); END"""
    for table, keys in {"accounts": "id = NEW.id OR code = NEW.code",
                        "transaction_ids": "id = NEW.id",
                        "funds": "id = NEW.id OR person_id = NEW.person_id"}.items()
] + [
    """CREATE TRIGGER funds_no_delete BEFORE DELETE ON funds
       BEGIN SELECT RAISE(ABORT, 'funds are immutable: close the fund instead'); END""",
    # SQLite compares dates as text: a value that is not a date is refused too.
    f"""CREATE TRIGGER funds_forward_only BEFORE UPDATE ON funds
        WHEN {FUND_CHANGE_REFUSED.replace('IS DISTINCT FROM', 'IS NOT')}
          OR (NEW.issued_through IS NOT NULL AND date(NEW.issued_through) IS NOT NEW.issued_through)
          OR (NEW.closed_on IS NOT NULL AND date(NEW.closed_on) IS NOT NEW.closed_on)
          OR date(NEW.opened_on) IS NOT NEW.opened_on
        BEGIN SELECT RAISE(ABORT, '{FUND_MESSAGE}'); END""",
    """CREATE TRIGGER postings_allocated BEFORE INSERT ON postings
       WHEN NOT EXISTS (SELECT 1 FROM transaction_ids WHERE id = NEW.transaction_id)
       BEGIN SELECT RAISE(ABORT, 'transaction id not allocated: postings go in only through the posting engine'); END""",
]

# One query, so one snapshot: a concurrent writer's commit cannot fall between "allocated?"
# and "header written?" and let a leg join another session's transaction.
PG_POSTINGS_SEALED = """CREATE OR REPLACE FUNCTION isf_postings_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
   DECLARE bad record;
   BEGIN
     SELECT p.transaction_id, i.id IS NULL AS unallocated INTO bad
       FROM new_postings p LEFT JOIN transaction_ids i ON i.id = p.transaction_id
       LEFT JOIN transactions t ON t.id = p.transaction_id
      WHERE i.id IS NULL OR t.id IS NOT NULL LIMIT 1;
     IF FOUND AND bad.unallocated THEN
       RAISE EXCEPTION 'transaction id % not allocated: postings go in only through the posting engine',
         bad.transaction_id USING ERRCODE = 'restrict_violation';
     ELSIF FOUND THEN
       RAISE EXCEPTION 'transaction % already posted: its postings are fixed', bad.transaction_id
         USING ERRCODE = 'restrict_violation';
     END IF;
     RETURN NULL;
   END $$"""
PG_POSTINGS_SEALED_0001 = """CREATE OR REPLACE FUNCTION isf_postings_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
   DECLARE bad record;
   BEGIN
     SELECT p.transaction_id INTO bad
       FROM new_postings p JOIN transactions t ON t.id = p.transaction_id LIMIT 1;
     IF FOUND THEN
       RAISE EXCEPTION 'transaction % already posted: its postings are fixed', bad.transaction_id
         USING ERRCODE = 'restrict_violation';
     END IF;
     RETURN NULL;
   END $$"""

POSTGRESQL_TRIGGERS = [
    f"""CREATE FUNCTION isf_funds_forward() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP <> 'UPDATE' THEN
           RAISE EXCEPTION 'funds are immutable: close the fund instead' USING ERRCODE = 'restrict_violation';
         END IF;
         IF {FUND_CHANGE_REFUSED} THEN
           RAISE EXCEPTION '{FUND_MESSAGE}' USING ERRCODE = 'restrict_violation';
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER funds_forward_only BEFORE UPDATE OR DELETE ON funds
       FOR EACH ROW EXECUTE FUNCTION isf_funds_forward()""",
    """CREATE TRIGGER funds_no_truncate BEFORE TRUNCATE ON funds
       FOR EACH STATEMENT EXECUTE FUNCTION isf_funds_forward()""",
    PG_POSTINGS_SEALED,
] + [
    stmt for table in IMMUTABLE for stmt in (
        f"""CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION isf_refuse_change()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION isf_refuse_change()""",
    )
]


def upgrade():
    op.create_table('transaction_ids',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transaction_ids')),
    sqlite_autoincrement=True
    )
    # Every id already used is allocated; on SQLite the counter also starts past any posting's
    # transaction id, so postings planted before this migration stay headerless.
    op.execute("INSERT INTO transaction_ids (id) SELECT id FROM transactions")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'transaction_ids', 0 "
                   "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'transaction_ids')")
        op.execute("UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT COALESCE(MAX(transaction_id), 0) FROM postings)) "
                   "WHERE name = 'transaction_ids'")
    for stmt in POSTGRESQL_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(stmt)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_POSTINGS_SEALED_0001)
        for table in IMMUTABLE + ("funds",):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS funds_forward_only ON funds")
        op.execute("DROP FUNCTION IF EXISTS isf_funds_forward()")
    else:
        for table in IMMUTABLE:
            for verb in ("update", "delete", "replace"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        for name in ("funds_no_replace", "funds_no_delete", "funds_forward_only", "postings_allocated"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('transaction_ids')
