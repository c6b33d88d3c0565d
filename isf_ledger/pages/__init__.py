"""The web pages: signing in and out, the signed-in home for each role, and the pages for a
person and their family (people.py). What every page stands on is in frame.py (who may see it,
the provider, text size, errors as pages) and forms.py (forms over the API's schemas).

The look is GOV.UK Frontend's components without GOV.UK's brand, compiled from its Sass into
static/ (`make assets`; see assets/), and its Jinja macros (govuk-frontend-jinja).

The pages keep who is signed in in Flask's signed session cookie (HttpOnly, SameSite=Lax, and
Secure outside development and tests). Every form POST carries a CSRF token (Flask-WTF's
CSRFProtect), under test settings too; the JSON API is exempt, as it reads no cookie: a Bearer
token is something a forged cross-site request cannot send.
"""
from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader

from .. import config as cfg
from . import (admin, audit, bank, broker, finance, finance_forms, finance_shared, frame, home, imports,  # noqa: F401 - they
               jobs, month_end, people, queries, review)  # register their pages on bp
from .frame import error_page, init_errors  # noqa: F401 - create_app calls init_errors
from .home import nav_links
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
    app.jinja_loader = ChoiceLoader([app.jinja_loader, PrefixLoader(
        {"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")})])
    app.jinja_env.globals.update(provider=frame.provider, text_size=frame.text_size, nav_links=nav_links)

    @app.errorhandler(CSRFError)
    def _csrf_refused(e: CSRFError):
        return error_page(400, "The form was not sent from this site or has expired. "
                               "Go back, reload the page and try again.")
