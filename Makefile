# One entry point for people and CI: `make demo` and `make test` install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ENVIRONMENTS := dev staging prod

.PHONY: demo test lint typecheck unit integration infra synth bench clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip==25.3

$(VENV)/.cli-installed: $(BIN)/python requirements.txt requirements-cli.txt pyproject.toml
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-cli.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.cli-installed requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: $(VENV)/.cli-installed  ## apply schema + seeds to an embedded PostgreSQL and verify
	$(BIN)/shoppulse-db apply --seeds
	$(BIN)/shoppulse-db status

lint: $(VENV)/.dev-installed  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed  ## mypy --strict
	$(BIN)/mypy lambda/db_init infra app.py tests bench

synth: $(VENV)/.dev-installed node_modules/.installed  ## cdk synth + cfn-lint for every environment
	for env in $(ENVIRONMENTS); do \
	  echo "synth $$env"; \
	  PATH="$(CURDIR)/$(BIN):$$PATH" npx --no-install cdk synth -c env=$$env --quiet --output cdk.out/$$env >/dev/null; \
	  $(BIN)/cfn-lint cdk.out/$$env/*.template.json; \
	done

test: lint typecheck synth  ## ruff, mypy, every test suite, cdk synth + cfn-lint per environment
	$(BIN)/pytest

BENCHMARKS := apply_vs_psql noop_update cold_start migration_under_load load_vs_psql_copy queries_at_scale

bench: $(VENV)/.dev-installed  ## benchmarks that print ratios (never part of make test)
	for name in $(BENCHMARKS); do echo "== $$name"; $(BIN)/python -m bench.$$name; done

clean:  ## stop the embedded PostgreSQL, then remove it, the virtualenv, node_modules, synth output
	if [ -x $(BIN)/shoppulse-db ] && [ -d .shoppulse-db ]; then $(BIN)/shoppulse-db server stop; fi
	rm -rf $(VENV) node_modules cdk.out .shoppulse-db
