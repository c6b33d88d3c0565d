"""Settings: defaults here, then the config dict given to create_app, then the environment."""
from __future__ import annotations

import os
import secrets

import click

DEFAULTS = {
    "API_TITLE": "isf-ledger",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {"description": "Individual Service Funds held by a care provider. Money is a string "
                                "of pounds with two decimals; every write takes an Idempotency-Key."},
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
    },
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "JSON_SORT_KEYS": False,
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    # How long a SQLite writer waits for another's lock before the request answers 503.
    "SQLITE_BUSY_TIMEOUT_MS": 30000,
    # Hours of notice a person must give to bank a session (domain.md, "Hours").
    "BANKING_NOTICE_HOURS": 48,
    # Page writes larger than these run in the background with their progress (pages/jobs.py).
    "PAGE_IMPORT_INLINE_BYTES": 256 * 1024,
    "MONTH_END_INLINE_PEOPLE": 200,
}


def database_url(config: dict, instance_path: str) -> str:
    """DATABASE_URL from the config dict, else ISF_DATABASE_URL, else a SQLite file in the instance folder."""
    url = config.get("DATABASE_URL") or os.environ.get("ISF_DATABASE_URL")
    if url:
        return url
    os.makedirs(instance_path, exist_ok=True)
    return f"sqlite:///{os.path.join(instance_path, 'isf_ledger.db')}"


class ConfigError(click.ClickException):
    """A setting the app cannot start without. A ClickException, so every command line (isf-ledger,
    flask --app) prints its message as one line instead of a traceback."""


def development(config) -> bool:
    return bool(config.get("TESTING") or config.get("DEBUG") or os.environ.get("ISF_ENV") == "development")


MIN_SECRET_KEY_BYTES = 32


def secret_key(config) -> str:
    """SECRET_KEY from the config dict, else ISF_SECRET_KEY. Only in development or tests may it be
    made up: a made-up key changes at every start, signing everyone out, and differs per process.
    Outside development it must be at least MIN_SECRET_KEY_BYTES long: it signs the session
    cookies, so a short one could be guessed offline from one cookie."""
    key = config.get("SECRET_KEY") or os.environ.get("ISF_SECRET_KEY")
    if key:
        if len(key.encode()) < MIN_SECRET_KEY_BYTES and not development(config):
            raise ConfigError(f"ISF_SECRET_KEY is {len(key.encode())} bytes long; it must be at least "
                              f"{MIN_SECRET_KEY_BYTES} bytes of random text, for example the output of: "
                              "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")
        return key
    if development(config):
        return secrets.token_urlsafe(32)
    raise ConfigError("no secret key: set ISF_SECRET_KEY to a long random value "
                      "(or ISF_ENV=development on a developer's machine)")


def setting(app, name: str, default=None):
    """A setting from the app's config, else the environment, else the default."""
    if app is not None and app.config.get(name) is not None:
        return app.config[name]
    return os.environ.get(name, default)
