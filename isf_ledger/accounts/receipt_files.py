"""Receipt files: the evidence of a spend (a photo of a till receipt, an invoice PDF).

- Stored outside the database, in RECEIPT_FILES_DIR (app config), else ISF_RECEIPT_FILES_DIR,
  else `receipt-files` in the app's instance folder, each under its SHA-256 (ab/abcdef...): the
  same file twice is stored once, and a name never says anything a user chose.
- Checked by content, never by the name or the declared Content-Type: JPEG, PNG, GIF, WebP,
  HEIC/HEIF and PDF, by their magic bytes; at most 10 MB. Anything else is a 422 naming `file`.
- Written before the database commits, to a temporary name then renamed into place (atomic on
  one file system), so a committed row always finds its whole file. If the commit then fails,
  the file stays as an orphan; that is harmless: nothing refers to it, and the same content
  uploaded again reuses it.
- A folder that cannot be written (read-only, full, gone) is a 503 saying so, and nothing is
  written: the file store is written before the row, and the row is rolled back.
- A name with a NUL or another control character is a 422 naming `file`.
- One file per spend, never replaced (the row is history like the spend); the spend's reversal
  leaves its file in place.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from flask import current_app

from ..errors import Conflict, Invalid, LedgerError
from ..fields import has_control_characters
from ..locks import lock_key
from ..ledger.post import refuse_closed_fund
from ..models import ReceiptFile, Spend

MAX_BYTES = 10 * 1024 * 1024
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
              "image/heic": "heic", "image/heif": "heif", "application/pdf": "pdf"}
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
HEIF_BRANDS = {b"mif1", b"msf1"}


class FilesUnavailable(LedgerError):
    """The receipt-file folder cannot be written: the server's fault, not the file's (503)."""

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


def files_dir() -> Path:
    configured = current_app.config.get("RECEIPT_FILES_DIR") or os.environ.get("ISF_RECEIPT_FILES_DIR")
    return Path(configured or os.path.join(current_app.instance_path, "receipt-files"))


def path_of(sha256: str) -> Path:
    return files_dir() / sha256[:2] / sha256


def read_upload(stream) -> bytes:
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise Invalid("file", f"is larger than {MAX_BYTES // (1024 * 1024)} MB")
    if not data:
        raise Invalid("file", "is empty")
    return data


def _store(data: bytes, sha256: str) -> None:
    target = path_of(sha256)
    if target.exists() and target.stat().st_size == len(data):
        return  # the same content is already stored
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    except OSError as e:
        _unavailable(e)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            _unavailable(e)
        raise


def _unavailable(e: OSError):
    current_app.logger.error("receipt files cannot be written to %s: %s", files_dir(), e)
    raise FilesUnavailable("the receipt file could not be stored: the server's folder for receipt files cannot "
                           "be written (it is read-only or full). Nothing was saved; tell whoever runs the "
                           "server, and send the file again later.") from e


def attach_receipt_file(session, spend: Spend, data: bytes, original_name: str | None,
                        user_id: int | None = None) -> tuple[ReceiptFile, bool]:
    """Attach a file to a spend. Sending the same file again answers with it (False: nothing new);
    another file when one is attached is refused."""
    media_type = sniff(data[:64])
    if media_type is None:
        raise Invalid("file", "is not an image (JPEG, PNG, GIF, WebP, HEIC) or a PDF, whatever its name says")
    if has_control_characters(original_name or ""):
        raise Invalid("file", "the file's name must not contain control characters (such as NUL); rename it")
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
    _store(data, sha256)
    row = ReceiptFile(spend_id=spend.id, sha256=sha256, size_bytes=len(data), media_type=media_type,
                      original_name=name, created_by=user_id)
    session.add(row)
    session.flush()
    return row, True


def download_name(row: ReceiptFile) -> str:
    """The original name with the extension its content has (a .pdf that is a PNG is served as .png)."""
    stem = row.original_name.rsplit(".", 1)[0] if "." in row.original_name else row.original_name
    return f"{stem or 'receipt'}.{EXTENSIONS[row.media_type]}"
