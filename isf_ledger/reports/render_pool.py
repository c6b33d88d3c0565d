"""Drawing statements' PDFs, in a pool of processes at month end or here: one document that
cannot be made never stops the others (domain.md "Month end in order")."""
from __future__ import annotations

from concurrent.futures import BrokenExecutor
from typing import Iterable

from ..errors import Conflict


def render_guarded(doc: dict) -> bytes | str:
    """The document's PDF, or (a str) why it could not be made. Run in the render pool or here:
    one document that cannot be made never stops the others, and its exception (which may not
    pickle, breaking the pool) never leaves the worker."""
    from .render_pdf import render_pdf  # looked up at each call (a test may stand another in)
    try:
        return render_pdf(doc)
    except Exception as e:  # noqa: BLE001 - any failure is this one document's, reported by name
        return f"its PDF could not be made ({type(e).__name__}: {e})"[:500]


def render_later(docs: list[dict], pool=None) -> Iterable[bytes | str]:
    """The documents' PDFs (or why each could not be made): without a pool, rendered now; with
    one, handed to the pool at once and collected by iterating, so the caller reads the next
    figures while they are drawn. A pool that breaks (a worker died) leaves the rest to this
    process."""
    if pool is None:
        return [render_guarded(d) for d in docs]
    try:
        pending = pool.map(render_guarded, docs, chunksize=max(1, len(docs) // 8))
    except (BrokenExecutor, RuntimeError):  # broken, or shut down: draw them here
        return [render_guarded(d) for d in docs]
    return _collected(pending, docs)


def _collected(pending, docs: list[dict]) -> Iterable[bytes | str]:
    got = 0
    try:
        for out in pending:
            got += 1
            yield out
    except BrokenExecutor:
        for d in docs[got:]:
            yield render_guarded(d)


def render_one(doc: dict) -> bytes:
    """One document drawn now; one that cannot be made refuses the write (409), never a 500."""
    out = render_guarded(doc)
    if isinstance(out, str):
        raise Conflict(f"person {doc['person_id']}'s statement for {doc['month']} was not issued: {out}",
                       {"person_id": doc["person_id"], "month": doc["month"]}, code="document_not_made")
    return out
