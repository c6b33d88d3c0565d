"""Every write is idempotent by key: a replay returns the first result and writes nothing.

The key is stored with a hash of the request in the same database transaction as the write
it guards, under a unique constraint, so two racing requests with one key cannot both land;
a lock on the key makes the later ones wait for the first and answer as it did.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from copy import deepcopy
from functools import wraps

import sqlalchemy as sa
from flask import Response, g, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from .api_base import IDEMPOTENCY_KEY_DOC, unique_keys
from .db import db, utcnow
from .errors import BadRequest, Conflict, DuplicateKey
from .locks import lock_key

MAX_KEY_LENGTH = 200


class IdempotencyRecord(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # Keys belong to the user who sent them: one user's key neither blocks nor reveals another's.
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(sa.String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[int]
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def request_hash() -> str:
    """Who asked for what: the user, the method, the path and the body as parsed JSON (numbers as
    floats, as hashes already stored were made; a key given twice is never read as its last value)."""
    if request.mimetype == "multipart/form-data":
        body = _form_body()
        text = f"{g.user.id}\n{request.method}\n{request.full_path}\n{body}"
        return hashlib.sha256(text.encode()).hexdigest()
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw or b"null", object_pairs_hook=unique_keys), sort_keys=True,
                          separators=(",", ":"))
    except (ValueError, RecursionError, DuplicateKey):
        body = raw.decode("utf-8", "replace")
    text = f"{g.user.id}\n{request.method}\n{request.full_path}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def _form_body() -> str:
    """A form by its fields and its files' names and contents: the raw body's boundary differs
    on every send, so the same upload retried must not be hashed by it."""
    files = []  # a part may come without a name (None): sorted as text, never compared with None
    for name, upload in request.files.items(multi=True):
        digest = hashlib.sha256()
        for chunk in iter(lambda: upload.stream.read(1 << 20), b""):
            digest.update(chunk)
        upload.stream.seek(0)
        files.append([str(name), str(upload.filename), digest.hexdigest()])
    form = sorted([str(k), str(v)] for k, v in request.form.items(multi=True))
    return json.dumps({"form": form, "files": sorted(files)})


def _recorded(key: str):
    return sa.select(IdempotencyRecord).where(IdempotencyRecord.user_id == g.user.id, IdempotencyRecord.key == key)


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.request_hash != digest:
        raise Conflict("this Idempotency-Key was used for a different request",
                       {"Idempotency-Key": ["already used with another body, path or user"]},
                       code="idempotency_key_reused")
    resp = Response(record.body, status=record.status, mimetype="application/json")
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


@sa.event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session, transaction) -> None:
    """A commit or rollback (not a savepoint's) while a keyed write runs is marked: it would
    release the key's lock before the answer is stored (see write)."""
    if transaction.parent is None and session.info.get("isf_keyed_write"):
        session.info["isf_keyed_write_ended"] = True


def _run_once(view, args, kwargs):
    """The view in the key's transaction. Operations never commit or roll back (a savepoint is
    theirs to use): one that did would let a second request with the key run the write again."""
    info = db.session.info
    info["isf_keyed_write"], info["isf_keyed_write_ended"] = True, False
    try:
        resp = view(*args, **kwargs)
    finally:
        ended = info.pop("isf_keyed_write_ended", False)
        info.pop("isf_keyed_write", None)
    if ended:
        raise RuntimeError(f"{view.__name__} committed or rolled back inside its write: the Idempotency-Key's "
                           "lock was released before its answer was stored")
    return resp


def write(view):
    """Run a write once per Idempotency-Key, commit it, and remember its answer with the key."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key.strip()) <= MAX_KEY_LENGTH):
            raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
                             {"Idempotency-Key": ["bad length"]})
        if key is None:
            resp = view(*args, **kwargs)
            db.session.commit()
            return resp
        digest = request_hash()
        # Requests with one key queue here until the first commits. The lookup below comes after
        # the lock, in the same transaction, and on read committed it sees the first one's record.
        lock_key(db.session, f"idempotency:{g.user.id}:{key}")
        seen = db.session.scalar(_recorded(key))
        if seen is not None:
            db.session.rollback()
            return _replay(seen, digest)
        resp = _run_once(view, args, kwargs)
        if resp.status_code < 400:
            db.session.add(IdempotencyRecord(key=key, request_hash=digest, user_id=g.user.id,
                                             status=resp.status_code, body=resp.get_data(as_text=True)))
        try:
            db.session.commit()
        except IntegrityError:
            # Another request with this key committed first: answer as it did.
            db.session.rollback()
            seen = db.session.scalar(_recorded(key))
            if seen is None:
                raise
            return _replay(seen, digest)
        return resp

    # Document the header on every write in the OpenAPI document.
    wrapper._apidoc = deepcopy(getattr(view, "_apidoc", {}))
    manual = wrapper._apidoc.setdefault("manual_doc", {})
    manual["parameters"] = [*manual.get("parameters", []), IDEMPOTENCY_KEY_DOC]
    return wrapper
