# EchoPilot Ops. `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

.PHONY: run test test-fast lint format bench fuzz clean

$(BIN)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(BIN)/.dev: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(BIN)/.runtime $@

## Serve the API, admin and scheduler (embedded SQLite + ORM broker by default).
run: $(BIN)/.runtime
	bin/run

## Lint, type-check, check migrations, then run the whole test suite
## (set DATABASE_URL=postgres://… for PostgreSQL).
test: lint
	$(PY) manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

## Everything that starts no process of its own (no gunicorn, qcluster, Dovecot): about a minute.
test-fast: $(BIN)/.dev
	$(BIN)/pytest -m "not external" $(PYTEST_ARGS)

## ruff (lint and format) and mypy over the core and every service/selector module.
lint: $(BIN)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Print measured speed and memory figures next to their baselines.
bench: $(BIN)/.dev
	bin/bench $(BENCH_ARGS)

## Fuzz the API from its OpenAPI schema (schemathesis): no 5xx, documented answers.
fuzz: $(BIN)/.dev
	bin/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) .venv-fuzz var/test_*.sqlite3*
