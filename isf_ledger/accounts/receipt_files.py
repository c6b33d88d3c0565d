"""Receipt files: the evidence of a spend (a photo of a till receipt, an invoice PDF).

- Kept in the database (`receipt_file_contents`, under the file's SHA-256: the same file twice is
  stored once), never on one server's disk: every app server in front of the one database reads
  every file, and the file commits or rolls back with its row. Files a version before 0026 kept
  in a folder are carried over by the migration, or by `isf-ledger receipt-files load FOLDER`.
- Checked by content, never by the name or the declared Content-Type: JPEG, PNG, GIF, WebP,
  HEIC/HEIF and PDF, by their magic bytes; at most 10 MB. Anything else is a 422 naming `file`.
- A database that cannot store the file (its disk is full) is a 503 saying so, and nothing is
  written.
- A name with a NUL or another control character is a 422 naming `file`.
- One file per spend, never replaced (the row is history like the spend); the spend's reversal
  leaves its file in place.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flask import current_app
from sqlalchemy.exc import OperationalError

from .. import dbstate
from ..errors import Conflict, Invalid, LedgerError
from ..fields import has_control_characters
from ..locks import lock_key
from ..ledger.post import refuse_closed_fund
from ..models import ReceiptFileContent
from ..models import ReceiptFile, Spend

MAX_BYTES = 10 * 1024 * 1024
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
              "image/heic": "heic", "image/heif": "heif", "application/pdf": "pdf"}
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
HEIF_BRANDS = {b"mif1", b"msf1"}


class FilesUnavailable(LedgerError):
    """The database cannot store the file (its disk is full): the server's fault, not the file's (503)."""

    status = 503
    code = "receipt_files_unavailable"


def sniff(head: bytes) -> str | None:
    """The media type the content is, from its first bytes; None for anything not accepted."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in HEIC_BRANDS:
            return "image/heic"
        if brand in HEIF_BRANDS:
            return "image/heif"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def legacy_folder(app=None) -> Path:
    """Where a version before 0026 kept receipt files: RECEIPT_FILES_DIR (app config), else
    ISF_RECEIPT_FILES_DIR, else `receipt-files` in the app's instance folder."""
    app = app or current_app
    configured = app.config.get("RECEIPT_FILES_DIR") or os.environ.get("ISF_RECEIPT_FILES_DIR")
    return Path(configured or os.path.join(app.instance_path, "receipt-files"))


def content_of(session, sha256: str) -> bytes | None:
    return session.query(ReceiptFileContent.content).filter_by(sha256=sha256).scalar()


def read_upload(stream) -> bytes:
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise Invalid("file", f"is larger than {MAX_BYTES // (1024 * 1024)} MB")
    if not data:
        raise Invalid("file", "is empty")
    return data


def _store(session, data: bytes, sha256: str) -> None:
    """The bytes under their hash, once (two uploads of the same content wait for each other)."""
    lock_key(session, f"receipt-file-content:{sha256}")
    if session.query(ReceiptFileContent.sha256).filter_by(sha256=sha256).first() is not None:
        return  # the same content is already stored
    session.add(ReceiptFileContent(sha256=sha256, content=data))
    try:
        session.flush()
    except OperationalError as e:
        if dbstate.kind(e) != "unavailable":
            raise  # busy or not migrated: the usual 503s
        current_app.logger.error("receipt file %s could not be stored: %s", sha256, dbstate.unreachable(session.get_bind(), e))
        raise FilesUnavailable("the receipt file could not be stored: the database cannot take it (its disk is "
                               "full or it cannot be written). Nothing was saved; tell whoever runs the "
                               "server, and send the file again later.") from e


def load_folder(session, folder: Path) -> dict:
    """Carry files an older version kept in `folder` (ab/abcdef..., under their SHA-256) into the
    database: each receipt file row whose bytes are not stored yet and whose file is there with
    the right hash. Answers the counts; run it again and it loads nothing new."""
    done = {"loaded": 0, "already": 0, "missing": [], "wrong_hash": []}
    missing_rows = (session.query(ReceiptFile.sha256).distinct()
                    .outerjoin(ReceiptFileContent, ReceiptFileContent.sha256 == ReceiptFile.sha256)
                    .filter(ReceiptFileContent.sha256.is_(None)).all())
    done["already"] = session.query(ReceiptFileContent).count()
    for (sha256,) in missing_rows:
        path = folder / sha256[:2] / sha256
        if not path.is_file():
            done["missing"].append(sha256)
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            done["wrong_hash"].append(sha256)
            continue
        session.add(ReceiptFileContent(sha256=sha256, content=data))
        session.flush()
        done["loaded"] += 1
    return done


def checked_media_type(data: bytes, original_name: str | None) -> str:
    """The file's media type, read from its content; Invalid naming `file` for anything not
    accepted (by content, whatever its name says) or a name with a control character."""
    media_type = sniff(data[:64])
    if media_type is None:
        raise Invalid("file", "is not an image (JPEG, PNG, GIF, WebP, HEIC) or a PDF, whatever its name says")
    if has_control_characters(original_name or ""):
        raise Invalid("file", "the file's name must not contain control characters (such as NUL); rename it")
    return media_type


def store_pending(session, data: bytes, original_name: str | None) -> tuple[str, str]:
    """Check a file and keep it in the database's file store before the spend it is for is recorded (the
    pages ask for the photo, then check the answers, then record): (its SHA-256, its media type).
    Until attach_receipt_file names it, it is an orphan, as after a failed commit: harmless."""
    media_type = checked_media_type(data, original_name)
    sha256 = hashlib.sha256(data).hexdigest()
    _store(session, data, sha256)
    return sha256, media_type


def pending_file(session, sha256: str) -> bytes | None:
    """A file kept by store_pending, or None if the store does not have it."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        return None
    return content_of(session, sha256)


def attach_receipt_file(session, spend: Spend, data: bytes, original_name: str | None,
                        user_id: int | None = None) -> tuple[ReceiptFile, bool]:
    """Attach a file to a spend. Sending the same file again answers with it (False: nothing new);
    another file when one is attached is refused."""
    media_type = checked_media_type(data, original_name)
    refuse_closed_fund(session, spend.person_id)  # before the file store is written
    sha256 = hashlib.sha256(data).hexdigest()
    lock_key(session, f"receipt-file:{spend.id}")
    existing = session.query(ReceiptFile).filter_by(spend_id=spend.id).one_or_none()
    if existing is not None:
        if existing.sha256 == sha256:
            return existing, False
        raise Conflict(f"spend {spend.id} already has its receipt file ({existing.original_name}); "
                       "a receipt file is never replaced", {"file": ["the spend already has a receipt file"]},
                       code="receipt_file_exists")
    name = (os.path.basename((original_name or "").replace("\\", "/")).strip() or "receipt")[:255]
    _store(session, data, sha256)
    row = ReceiptFile(spend_id=spend.id, sha256=sha256, size_bytes=len(data), media_type=media_type,
                      original_name=name, created_by=user_id)
    session.add(row)
    session.flush()
    return row, True


def download_name(row: ReceiptFile) -> str:
    """The original name with the extension its content has (a .pdf that is a PNG is served as .png)."""
    stem = row.original_name.rsplit(".", 1)[0] if "." in row.original_name else row.original_name
    return f"{stem or 'receipt'}.{EXTENSIONS[row.media_type]}"
