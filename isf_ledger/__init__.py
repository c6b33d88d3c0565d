"""isf-ledger: Individual Service Funds held by a care provider, one restricted fund per person."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask_migrate import Migrate
from werkzeug.routing import IntegerConverter

from . import config as cfg
from .api_base import LedgerApi, unique_keys
from .db import db, normalise_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class ExactJSON(DefaultJSONProvider):
    """request.get_json() reads as the API's parser does (api_base.loads_exact): numbers with a
    fraction as Decimal, never float, so '12.5' and 12.5 mean the same; no key given twice."""

    def loads(self, s, **kw):
        kw.setdefault("parse_float", Decimal)
        kw.setdefault("object_pairs_hook", unique_keys)
        return super().loads(s, **kw)


class AsciiInt(IntegerConverter):
    """`<int:id>` for ASCII digits only: Werkzeug's `\\d+` also reads "٦٣" and "６３" as 63."""

    regex = r"[0-9]+"


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["int"] = AsciiInt  # before any route: ids in paths are ASCII digits only
    app.json_provider_class = ExactJSON
    app.json = ExactJSON(app)
    app.config.from_mapping(cfg.DEFAULTS)
    app.config.update(config or {})
    app.config["SECRET_KEY"] = cfg.secret_key(app.config)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_url(cfg.database_url(app.config, app.instance_path))
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A file on this machine: no connection to check before each request. sqlite3's `timeout`
        # is SQLite's busy timeout: how long a writer queues for the lock.
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        connect_args = {**options.get("connect_args", {}), "timeout": app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "pool_pre_ping": False, "connect_args": connect_args}

    db.init_app(app)
    Migrate(app, db, directory=str(MIGRATIONS if MIGRATIONS.is_dir() else "migrations"),
            render_as_batch=True, compare_type=True)

    from . import cli as ledger_cli
    from .auth import access, audit_log
    from .commands import users as users_cli
    from .api import audit_log as audit_log_api
    from . import errors, pages, provider, web
    from . import api as accounts_api
    from .commands import accounts as accounts_cli
    from .demo.load import demo_cmd  # the demo stands above the entry points: only the app knows it
    from .accounts.people import DIRECTORY
    from .api import shared_support as shared_api
    from .commands import shared_support as shared_cli
    from .api import reports as reports_api
    from .commands import reports as reports_cli
    from .api import finance as finance_api
    from .api import forecast as forecast_api
    from .models import statements as _reports_models  # noqa: F401 - its tables, for migrations
    from .api import exports as exports_api

    # Ids in paths are ASCII digits: Python's int() would also read "١٢" (Arabic-Indic digits).
    app.url_map.converters["int"] = AsciiInt
    api = LedgerApi(app)
    api_blueprints = [*accounts_api.BLUEPRINTS, shared_api.blp, reports_api.blp, audit_log_api.blp,
                      finance_api.dashboard_blp, finance_api.actuals_blp, exports_api.blp, provider.blp,
                      forecast_api.blp]
    for blueprint in api_blueprints:
        api.register_blueprint(blueprint)
    api.document_errors()
    pages.init_app(app, api_blueprints)  # the API reads Bearer tokens, no cookie: no CSRF token
    errors.init_app(app)  # after the Api, so the contract's error shape wins
    pages.init_errors(app)  # after errors: pages answer errors as pages, the API as JSON
    users_cli.init_app(app, DIRECTORY)
    access.init_app(app)  # the access table
    audit_log.init_app(app)  # request ids and the audit log
    accounts_cli.init_app(app)
    app.cli.add_command(demo_cmd)
    shared_cli.init_app(app)
    reports_cli.init_app(app)
    provider.init_app(app)
    finance_api.init_app(app)
    exports_api.init_app(app)
    web.init_app(app)
    ledger_cli.check_database_first(app)  # last, so it sees every command
    return app
