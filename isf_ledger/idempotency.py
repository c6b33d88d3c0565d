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
from typing import Callable, TypeVar

import sqlalchemy as sa
from flask import Response, g, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .api_base import IDEMPOTENCY_KEY_DOC, unique_keys
from .db import db, utcnow
from .errors import BadRequest, Conflict, DuplicateKey
from .locks import lock_key
from .work import unit_of_work

MAX_KEY_LENGTH = 200
T, R = TypeVar("T"), TypeVar("R")


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


class _Seen(Exception):
    """The key was answered before: the unit of work ends, keeping nothing."""

    def __init__(self, record: IdempotencyRecord):
        self.record = record


def once(key: str, work: Callable[[], T], answer: Callable[[T], tuple[int, str] | None],
         replay: Callable[[IdempotencyRecord], R]) -> T | R:
    """`work()` once per key and user, as one unit of work. Requests with one key queue on its
    lock until the first commits; the lookup comes after the lock, in the same transaction (on
    read committed it sees the first one's record), and a key answered before is answered by
    `replay(record)` without running. `answer(result)` (status and body, or None to keep none) is
    stored with the key in the work's own commit: the lock is held until the answer is stored."""
    digest = request_hash()
    try:
        with unit_of_work():
            lock_key(db.session, f"idempotency:{g.user.id}:{key}")
            seen = db.session.scalar(_recorded(key))
            if seen is not None:
                raise _Seen(seen)
            result = work()
            kept = answer(result)
            if kept is not None:
                db.session.add(IdempotencyRecord(key=key, request_hash=digest, user_id=g.user.id,
                                                 status=kept[0], body=kept[1]))
    except _Seen as e:
        return replay(e.record, digest)
    except IntegrityError:
        # Another request with this key committed first: answer as it did.
        seen = db.session.scalar(_recorded(key))
        if seen is None:
            raise
        return replay(seen, digest)
    return result


def write(view):
    """Run a write once per Idempotency-Key, commit it, and remember its answer with the key."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key.strip()) <= MAX_KEY_LENGTH):
            raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
                             {"Idempotency-Key": ["bad length"]})
        if key is None:
            with unit_of_work():
                return view(*args, **kwargs)
        return once(key, lambda: view(*args, **kwargs),
                    lambda resp: (resp.status_code, resp.get_data(as_text=True)) if resp.status_code < 400 else None,
                    _replay)

    # Document the header on every write in the OpenAPI document.
    wrapper._apidoc = deepcopy(getattr(view, "_apidoc", {}))
    manual = wrapper._apidoc.setdefault("manual_doc", {})
    manual["parameters"] = [*manual.get("parameters", []), IDEMPOTENCY_KEY_DOC]
    return wrapper
