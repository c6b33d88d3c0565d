"""sessions ended at once, names corrected with history, anonymous requests counted

- users.session_epoch: a page session carries the epoch it was signed in under; signing out,
  disabling a user or giving them a new token moves it on, ending every session at once.
- person_name_changes: each correction of a person's name, who and when; history, append-only.
- audit_anonymous_windows: requests without a valid token, counted per window in one row (only
  the first few of a window get an audit_log row each); a count only grows and is never removed.

Revision ID: 0017_auth
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

revision = '0019_auth'
down_revision = '0018_docs'
branch_labels = None
depends_on = None

NAMES_WHY = "name changes are history"
SQLITE_TRIGGERS = [
    *(f"""CREATE TRIGGER person_name_changes_no_{verb.lower()} BEFORE {verb} ON person_name_changes
          BEGIN SELECT RAISE(ABORT, '{NAMES_WHY}: it cannot be changed or removed'); END"""
      for verb in ("UPDATE", "DELETE")),
    f"""CREATE TRIGGER person_name_changes_no_replace BEFORE INSERT ON person_name_changes
        WHEN EXISTS (SELECT 1 FROM person_name_changes WHERE id = NEW.id)
        BEGIN SELECT RAISE(ABORT, '{NAMES_WHY}: a row already written cannot be replaced'); END""",
    """CREATE TRIGGER audit_anonymous_windows_no_delete BEFORE DELETE ON audit_anonymous_windows
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: a count cannot be removed'); END""",
    """CREATE TRIGGER audit_anonymous_windows_only_grow BEFORE UPDATE ON audit_anonymous_windows
       WHEN NEW.requests < OLD.requests OR NEW.window_start IS NOT OLD.window_start
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: a count only grows'); END""",
    # No guard against INSERT OR REPLACE here (the counts are upserted, and SQLite fires BEFORE
    # INSERT triggers before the upsert's conflict): the app's connections set recursive_triggers,
    # so a REPLACE's hidden delete meets the DELETE trigger above.
]
# isf_refuse_change() comes from 0001.
POSTGRESQL_TRIGGERS = [
    """CREATE TRIGGER person_name_changes_immutable BEFORE UPDATE OR DELETE ON person_name_changes
       FOR EACH ROW EXECUTE FUNCTION isf_refuse_change()""",
    """CREATE TRIGGER person_name_changes_no_truncate BEFORE TRUNCATE ON person_name_changes
       FOR EACH STATEMENT EXECUTE FUNCTION isf_refuse_change()""",
    """CREATE FUNCTION isf_count_only_grows() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND NEW.requests >= OLD.requests AND NEW.window_start = OLD.window_start THEN
           RETURN NEW;
         END IF;
         RAISE EXCEPTION '% is append-only: a count only grows', TG_TABLE_NAME
           USING ERRCODE = 'restrict_violation';
       END $$""",
    """CREATE TRIGGER audit_anonymous_windows_only_grow BEFORE UPDATE OR DELETE ON audit_anonymous_windows
       FOR EACH ROW EXECUTE FUNCTION isf_count_only_grows()""",
    """CREATE TRIGGER audit_anonymous_windows_no_truncate BEFORE TRUNCATE ON audit_anonymous_windows
       FOR EACH STATEMENT EXECUTE FUNCTION isf_refuse_change()""",
]


def upgrade():
    op.add_column('users', sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'person_name_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('old_name', sa.String(length=200), nullable=False),
        sa.Column('new_name', sa.String(length=200), nullable=False),
        sa.Column('changed_by', sa.Integer(), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_person_name_changes_changed_by_users')),
        sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_person_name_changes_person_id_people')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_person_name_changes')),
    )
    op.create_index(op.f('ix_person_name_changes_person_id'), 'person_name_changes', ['person_id'], unique=False)
    op.create_table(
        'audit_anonymous_windows',
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('requests', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('window_start', name=op.f('pk_audit_anonymous_windows')),
    )
    for stmt in POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(stmt)


def downgrade():
    # Dropping a table drops its triggers with it, on both engines.
    op.drop_table('audit_anonymous_windows')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION isf_count_only_grows()")
    op.drop_index(op.f('ix_person_name_changes_person_id'), table_name='person_name_changes')
    op.drop_table('person_name_changes')
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column in place (3.35+): batch mode would copy `users` and drop the old
        # table, which the foreign keys that point at users refuse.
        op.execute("ALTER TABLE users DROP COLUMN session_epoch")
    else:
        op.drop_column('users', 'session_epoch')
