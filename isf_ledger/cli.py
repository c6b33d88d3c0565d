"""The `isf-ledger` command: the app's own CLI (db, users, demo, audit, ...) with the app built."""
from flask.cli import FlaskGroup

from . import create_app


def main() -> None:
    FlaskGroup(create_app=lambda: create_app(), help=__doc__).main(prog_name="isf-ledger")
