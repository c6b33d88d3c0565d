# Two commands for a fresh machine (see README.md):
#   make run    set up, migrate a SQLite file, load demo data, serve the app on http://127.0.0.1:5000
#   make test   set up, then run every test on SQLite and (when it answers) PostgreSQL
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
PEOPLE ?= 60
MONTHS ?= 12
PORT ?= 5000

.PHONY: setup run test postgres bench bench-shared schemathesis proof clean assets

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

# A developer's machine: a made-up secret key is fine here (the app refuses to start without
# ISF_SECRET_KEY anywhere else).
run: export ISF_ENV ?= development
run: setup
	$(BIN)/isf-ledger db upgrade
	$(BIN)/isf-ledger demo --people $(PEOPLE) --months $(MONTHS) --seed 1 --if-empty
	@# Every ended month's statements, in order (again: nothing new), so the pages have statements to show.
	$(BIN)/isf-ledger statements issue --through $$(date -d "$$(date +%Y-%m-01) -1 day" +%Y-%m) | tail -n 1
	@echo "An API token for the demo finance user (use it as: Authorization: Bearer TOKEN; each run gives a new one):"
	@if $(BIN)/isf-ledger users list | grep -q ' demo-finance '; then \
	  $(BIN)/isf-ledger users token demo-finance | tail -n 1; \
	else \
	  $(BIN)/isf-ledger users create --name demo-finance --role finance --password demo-finance-password | tail -n 1; \
	fi
	@# The web pages' demo sign-ins (README "Web pages"): the first demo person and a family member.
	@for who in demo-person demo-family; do \
	  $(BIN)/isf-ledger users list | grep -q " $$who " || \
	    $(BIN)/isf-ledger users create --name $$who --role person --person 1 --password "$$who-password" >/dev/null; \
	done
	@# A council reviewer for Northshire's people (the demo's largest council).
	@$(BIN)/isf-ledger users list | grep -q " demo-reviewer " || \
	  $(BIN)/isf-ledger users create --name demo-reviewer --role auditor --council "Northshire County Council" \
	    --password demo-reviewer-password >/dev/null
	@# Finance's, a broker's and an admin's sign-ins for their pages.
	@for who in broker admin; do \
	  $(BIN)/isf-ledger users list | grep -q " demo-$$who " || \
	    $(BIN)/isf-ledger users create --name demo-$$who --role $$who --password "demo-$$who-password" >/dev/null; \
	done
	@echo "Web pages: http://127.0.0.1:$(PORT)/login (demo-finance / demo-finance-password, demo-broker / demo-broker-password, demo-admin / demo-admin-password, demo-person / demo-person-password, demo-family / demo-family-password, demo-reviewer / demo-reviewer-password)"
	@echo "API description: http://127.0.0.1:$(PORT)/api/v1/openapi.json"
	$(BIN)/isf-ledger run --host 127.0.0.1 --port $(PORT)

# Start the machine's PostgreSQL if it is installed but stopped; carry on without it otherwise.
postgres:
	@if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
	  if [ -d /etc/postgresql ]; then \
	    pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; \
	    for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	  fi; \
	fi

test: setup postgres
	$(BIN)/pytest -n 2  # two workers, each with its own databases (tests/conftest.py)

# schemathesis over the OpenAPI document, in-process on SQLite, as finance: every phase, about
# 150 s in all (SCHEMATHESIS_ARGS="--max-time 600" for a longer look); fails on any 5xx.
schemathesis: setup
	$(BIN)/python tests/schemathesis_run.py $(SCHEMATHESIS_ARGS)

bench: setup postgres
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-shared: setup postgres
	$(BIN)/python -m bench.shared

# Load and faults on a fresh PostgreSQL database under gunicorn (see README, "Proof");
# PROOF_SECONDS (default 60) per level, PROOF_CLIENTS (default 16,64).
proof: setup postgres
	$(BIN)/pip install --quiet -e ".[proof]"
	$(BIN)/python -m proof.load

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis

# The pages' CSS, JS and fonts (isf_ledger/pages/static/, committed) rebuilt from assets/'s lock
# file: GOV.UK Frontend's Sass without GOV.UK's brand. Needs Node and npm; `make run` does not.
assets:
	cd assets && npm ci --no-audit --no-fund && node build.mjs
