"""What every response carries, pages and API alike."""
from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Same-origin: no address leaves for another site, but the pages' own forms send a Referer,
    # which Flask-WTF's CSRF check asks for over HTTPS (no-referrer refused every sign-in there).
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, its signer made once per set of keys, not on every request
    (an API call without a cookie made one only to find there was nothing to read)."""

    _keys = _signer = None

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if keys != self._keys:
            self._signer, self._keys = super().get_signing_serializer(app), keys
        return self._signer


def init_app(app: Flask) -> None:
    app.session_interface = SessionCookies()

    @app.after_request
    def _security_headers(resp):
        given = {k.lower() for k in resp.headers.keys()}
        for k, v in SECURITY_HEADERS.items():
            if k.lower() not in given:  # as setdefault: what the view set stands
                resp.headers.add(k, v)
        return resp
