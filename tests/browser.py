"""Browser tests' foundation: Debian's Chromium driven by Playwright (pytest-playwright), the app
on a live server on 127.0.0.1 and a free port, axe-core run on every page, screenshots kept.

A browser test module imports what it uses:

    from browser import browser_type_launch_args, browser_context_args, live, check_page  # noqa: F401

`live` serves the test's app (its database: SQLite; the same pages run on both engines in the
Flask client's tests) from a thread and gives its base URL. `check_page(page, name)` runs axe-core
with the WCAG 2.0, 2.1 and 2.2 A and AA tags on the page as it is, at 320 px wide and at 200% zoom
(a 1280 px window zoomed to 200% lays out as 640 CSS px at two device pixels each), fails on any
violation or any console error (a CSP refusal shows there), and saves a screenshot of each in
test-artifacts/screenshots/. Where no Chromium is found the browser tests skip, and the run's
header says so (CHROMIUM_PROBLEM, read by conftest.py).
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent
AXE = HERE / "axe.min.js"  # from npm's axe-core (assets/package-lock.json), copied by make assets
SCREENSHOTS = HERE.parent / "test-artifacts" / "screenshots"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("ISF_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


CHROMIUM = chromium_path()
CHROMIUM_PROBLEM = None if CHROMIUM else "no Chromium found (apt-get install chromium, or set ISF_CHROMIUM)"


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if CHROMIUM is None:
        pytest.skip(f"browser tests skipped: {CHROMIUM_PROBLEM}")
    return {"executable_path": CHROMIUM, "args": LAUNCH_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args():
    return {"viewport": {"width": 1280, "height": 800}, "locale": "en-GB", "accept_downloads": True}


@pytest.fixture
def live(app, backend):
    """The app served on 127.0.0.1 at a free port while the test runs; its base URL."""
    if backend != "sqlite":
        pytest.skip("the browser tests run on SQLite; test_pages_*.py run the same pages on both engines")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def watch(page) -> list[str]:
    """Collect the page's console errors (a CSP refusal, a script that failed, a missing file)."""
    errors: list[str] = []

    def console(msg):
        # A page answered 401, 403 or 404 on purpose is logged as a failed load: the files a page
        # loads are checked by their responses below instead.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(msg.text)

    def response(resp):
        if resp.request.resource_type != "document" and resp.status >= 400:
            errors.append(f"{resp.status} for {resp.url}")

    page.on("console", console)
    page.on("response", response)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.add_init_script(path=str(AXE))  # run by the browser itself, so the page's CSP stays as served
    return errors


def axe_violations(page) -> list[dict]:
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]


def check_page(page, name: str, errors: list[str] | None = None) -> None:
    """axe finds nothing on the page as it is: at the test's width, at 320 px and at 200% zoom.
    Screenshots of each go to test-artifacts/screenshots/NAME-*.png."""
    # A click that submits waits only until the next page starts to arrive: axe reads it whole.
    page.wait_for_load_state("load")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    found = {}
    for label, viewport in (("1280", size), ("320", {"width": 320, "height": 640}),
                            ("zoom200", {"width": 640, "height": 400})):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        violations = axe_violations(page)
        if violations:
            found[label] = violations
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= viewport["width"], f"{name} at {label}: the page is {scroll} px wide (it scrolls sideways)"
    page.set_viewport_size(size)
    assert not found, f"axe found violations on {name}: {found}"
    if errors is not None:
        assert errors == [], f"console errors on {name}: {errors}"


def focus_is_visible(page) -> bool:
    """The focused element is drawn differently from unfocused ones: GOV.UK's yellow focus (or an
    outline, or a box shadow)."""
    return page.evaluate("""() => {
        const el = document.activeElement;
        if (!el || el === document.body) return false;
        const s = getComputedStyle(el);
        return s.backgroundColor === 'rgb(255, 221, 0)' || (s.outlineStyle !== 'none' && s.outlineWidth !== '0px')
            || s.boxShadow !== 'none';
    }""")


def tab_to(page, text: str, tries: int = 60) -> None:
    """Press Tab until the focus is on the control whose text is `text`, the focus visible at
    every stop (past the last control the focus leaves the page, then comes back at the top)."""
    for _ in range(tries):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement === document.body"):
            continue
        assert focus_is_visible(page), (text, page.url, page.evaluate("document.activeElement.outerHTML")[:300])
        if page.evaluate("(document.activeElement.textContent || '').trim()") == text:
            return
    raise AssertionError(f"{text!r} cannot be reached with the keyboard")
