"""receipt files kept in the database: every app server in front of one database reads every file

Revision ID: 0026_receipt_files
Revises: 0025_ops

Until now a receipt file's bytes lay in a folder on the app server's disk (RECEIPT_FILES_DIR, else
ISF_RECEIPT_FILES_DIR, else instance/receipt-files, under ab/abcdef...). This makes the table that
keeps them (history: the database refuses UPDATE and DELETE) and carries over every file it finds
in that folder with the right hash. A file it cannot find (another server's folder) is named in the
log; `isf-ledger receipt-files load FOLDER` carries it over later. The folder is left as it was.
"""
import hashlib
import logging
import os
from pathlib import Path

from alembic import op
import sqlalchemy as sa

revision = "0026_receipt_files"
down_revision = "0025_ops"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
TABLE = "receipt_file_contents"


def _legacy_folder() -> Path | None:
    configured = os.environ.get("ISF_RECEIPT_FILES_DIR")
    try:
        from flask import current_app
        configured = current_app.config.get("RECEIPT_FILES_DIR") or configured
        return Path(configured or os.path.join(current_app.instance_path, "receipt-files"))
    except RuntimeError:  # no app (offline SQL)
        return Path(configured) if configured else None


def _carry_over(bind) -> None:
    folder = _legacy_folder()
    if folder is None or not folder.is_dir():
        return
    contents = sa.table(TABLE, sa.column("sha256", sa.String), sa.column("content", sa.LargeBinary),
                        sa.column("created_at"))
    wanted = [r[0] for r in bind.execute(sa.text("SELECT DISTINCT sha256 FROM spend_receipt_files"))]
    loaded, missing = 0, []
    for sha256 in wanted:
        path = folder / sha256[:2] / sha256
        data = path.read_bytes() if path.is_file() else None
        if data is None or hashlib.sha256(data).hexdigest() != sha256:
            missing.append(sha256)
            continue
        bind.execute(contents.insert().values(sha256=sha256, content=data, created_at=sa.func.current_timestamp()))
        loaded += 1
    log.info("receipt files: %d carried over from %s into the database", loaded, folder)
    for sha256 in missing:
        log.warning("receipt file %s is not in %s: carry it over with `isf-ledger receipt-files load FOLDER`",
                    sha256, folder)


def upgrade():
    op.create_table(TABLE,
                    sa.Column('sha256', sa.String(length=64), nullable=False),
                    sa.Column('content', sa.LargeBinary(), nullable=False),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_receipt_file_contents')))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # isf_refuse_change() comes from 0001
        op.execute(f"""CREATE TRIGGER {TABLE}_immutable BEFORE UPDATE OR DELETE ON {TABLE}
                       FOR EACH ROW EXECUTE FUNCTION isf_refuse_change()""")
        op.execute(f"""CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
                       FOR EACH STATEMENT EXECUTE FUNCTION isf_refuse_change()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER {TABLE}_no_{verb.lower()} BEFORE {verb} ON {TABLE}
                           BEGIN SELECT RAISE(ABORT, '{TABLE} are immutable: a receipt file is never replaced'); END""")
        op.execute(f"""CREATE TRIGGER {TABLE}_no_replace BEFORE INSERT ON {TABLE}
                       WHEN EXISTS (SELECT 1 FROM {TABLE} WHERE sha256 = NEW.sha256)
                       BEGIN SELECT RAISE(ABORT, '{TABLE} are immutable: a row already written cannot be replaced'); END""")
    from alembic import context
    if not context.is_offline_mode():
        _carry_over(bind)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_immutable ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")
    op.drop_table(TABLE)
