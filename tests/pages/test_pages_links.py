"""Every link a page offers its reader opens: each role's pages are walked from `/`, following
every link on this site, and none answers 403, 404 or 500 (a link to a page the reader may not
use is a dead end; the access table decides who may open what, and the pages offer only that)."""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import urldefrag, urlsplit

import pytest

import pages_book
from pages_book import sign_in
SKIP = ("/assets/", "/logout")  # files, and the sign-out form's target
MAX_PAGES = 120


def walk(client) -> dict[str, int]:
    """Every page reachable from `/` by links, with the status it answered: each path once, with
    the first query it was linked with (a table's sort links differ only in their query)."""
    seen: dict[str, int] = {}
    todo = {"/": "/"}
    while todo and len(seen) < MAX_PAGES:
        key, href = next(iter(todo.items()))
        del todo[key]
        r = client.get(href)
        seen[key] = r.status_code
        if r.status_code != 200 or r.mimetype != "text/html":
            continue
        for link in re.findall(r'<a [^>]*href="([^"]+)"', r.get_data(as_text=True)):
            link = urldefrag(unescape(link))[0]
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not link.startswith("/") or link.startswith(SKIP):
                continue
            if parts.path not in seen and parts.path not in todo:
                todo[parts.path] = link
    return seen


@pytest.mark.parametrize("role", ["finance", "broker", "person", "auditor", "admin"])
def test_every_link_each_role_is_offered_opens(api, monkeypatch, tmp_path, role):
    book = pages_book.build(api, monkeypatch, tmp_path)
    extra = {"person": ("--person", str(book.ana)), "auditor": ("--council", "Northshire")}.get(role, ())
    pages_book.user(api, "reader", "--role", role, *extra)
    seen = walk(sign_in(api.app.test_client(), "reader"))
    broken = {path: status for path, status in seen.items() if status not in (200, 302, 303)}
    assert not broken, broken
    # What each role reaches, so a page dropped from the navigation is noticed too.
    expected = {"finance": "/bank", "admin": "/admin/users", "broker": f"/people/{book.ana}/week",
                "person": f"/people/{book.ana}/this-month", "auditor": f"/people/{book.ana}/statements"}[role]
    assert expected in seen, sorted(seen)
