# One entry point for people and CI: `make demo` and `make test` install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ENVIRONMENTS := dev staging prod
# The pooler the pooling tests and bench/tenant_transactions.py start (Debian bookworm's package).
PGBOUNCER_VERSION := 1.18.0-1+deb12u1
# The placeholder account checks synthesize with (cdk.context.json holds its zone and prefix-list
# lookups, so no AWS credentials are needed); a deploy uses the account in cdk.json.
SYNTH_ACCOUNT := 123456789012
CHECKOV_VENV := .venv-checkov

.PHONY: demo test lint typecheck unit integration infra synth checkov bench clean help pgbouncer

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

pgbouncer:  ## install the pinned PgBouncer (apt) when it is missing
	@if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer=$(PGBOUNCER_VERSION); \
	fi

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
	$(BIN)/mypy lambda/db_init lambda/shoppulse_data infra app.py tests bench

synth: $(VENV)/.dev-installed node_modules/.installed  ## cdk synth + cfn-lint for every environment
	for env in $(ENVIRONMENTS); do \
	  echo "synth $$env"; \
	  PATH="$(CURDIR)/$(BIN):$$PATH" npx --no-install cdk synth -c env=$$env -c account=$(SYNTH_ACCOUNT) \
	    --quiet --output cdk.out/$$env >/dev/null; \
	  $(BIN)/cfn-lint cdk.out/$$env/*.template.json; \
	done

# checkov's dependency tree clashes with the pinned boto3/cfn-lint: it gets its own virtualenv.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# Every failed check is fixed or skipped in the template metadata with a reason (infra/scanners.py).
checkov: synth $(CHECKOV_VENV)/.installed  ## checkov over every environment's synthesized template
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
	  $(foreach env,$(ENVIRONMENTS),-f cdk.out/$(env)/ShopPulseDb-$(env).template.json)

test: lint typecheck synth checkov pgbouncer  ## ruff, mypy, every test suite, synth + cfn-lint + checkov per env
	$(BIN)/pytest

BENCHMARKS := apply_vs_psql noop_update cold_start migration_under_load load_vs_psql_copy queries_at_scale tenant_transactions drift_vs_migra lint_vs_squawk splitter_speed

$(VENV)/.bench-installed: $(VENV)/.dev-installed requirements-bench.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-bench.txt
	touch $@

bench: $(VENV)/.bench-installed pgbouncer  ## benchmarks that print ratios (never part of make test)
	for name in $(BENCHMARKS); do echo "== $$name"; $(BIN)/python -m bench.$$name; done

clean:  ## stop the embedded PostgreSQL, then remove it, the virtualenvs, node_modules, synth output
	if [ -x $(BIN)/shoppulse-db ] && [ -d .shoppulse-db ]; then $(BIN)/shoppulse-db server stop; fi
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules cdk.out .shoppulse-db
