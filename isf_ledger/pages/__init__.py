"""The web pages: signing in and out, and the signed-in home page.

The pages keep who is signed in in Flask's signed session cookie (HttpOnly, SameSite=Lax, and
Secure outside development and tests). Every form POST carries a CSRF token (Flask-WTF's
CSRFProtect), under test settings too; the JSON API is exempt, as it reads no cookie: a Bearer
token is something a forged cross-site request cannot send.
"""
from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect

from .. import config as cfg
from .views import bp

csrf = CSRFProtect()


def init_app(app: Flask, api_blueprints) -> None:
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=not cfg.development(app.config),
                      WTF_CSRF_ENABLED=True, WTF_CSRF_CHECK_DEFAULT=True)
    csrf.init_app(app)
    for blueprint in api_blueprints:
        csrf.exempt(blueprint)
    app.register_blueprint(bp)

    @app.errorhandler(CSRFError)
    def _csrf_refused(e: CSRFError):
        return render_template("pages/error.html", title="The form has expired",
                               message="The form was not sent from this site or has expired. "
                                       "Go back, reload the page and try again."), 400
