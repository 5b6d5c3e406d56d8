# Maximus: `make up` starts the stack, `make test` runs the tests. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM_STAMP := cli-proxy/node_modules/.installed

.PHONY: bootstrap install up down status test test-unit test-compose lint bench clean

# System packages first (redis-server, prometheus, npm...: services/maximus/system_packages.toml), before any
# slow step: installed when that needs no password, else one line names the command to run. Instant when
# nothing is missing.
bootstrap:
	@$(PYTHON) services/maximus/bootstrap.py

# The venv is rebuilt only when the project's pins change.
$(STAMP): pyproject.toml | bootstrap
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[vision,dev]'
	touch $(STAMP)

# The official CLIs for the power tier, at the versions locked in cli-proxy/package-lock.json (optional: needs
# npm). Claude Code's install script fetches its native binary: scripts must run.
$(NPM_STAMP): cli-proxy/package-lock.json | bootstrap
	@if command -v npm >/dev/null; then \
		npm ci --prefix cli-proxy --no-audit --no-fund --loglevel=error && touch $(NPM_STAMP); \
	else echo "npm not found: the power tier's CLIs are not installed"; fi

install: bootstrap $(STAMP) $(NPM_STAMP)

up: install
	$(BIN)/maximus up

down:
	@if [ -x $(BIN)/maximus ]; then $(BIN)/maximus down; else echo "nothing to stop (not installed)"; fi

status: install
	$(BIN)/maximus status

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The stack in containers (tests/compose/run.sh): starts a Docker engine where none answers and this machine
# allows it (root, Debian), stops what it started; skips with the reason where impossible.
test-compose: install
	tests/compose/run.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	@set -e; for module in $$(ls bench/*.py 2>/dev/null | grep -v '/_' | sed 's|/|.|; s|\.py$$||'); do \
		echo "== $$module"; $(BIN)/python -m $$module; done

clean: down
	rm -rf .run
