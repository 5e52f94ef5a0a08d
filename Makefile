# Quick start: `make run` (set up, migrate, start the bot) and `make test` (set up, run every check).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint unit postgres bench bench-outbox sandbox migrate clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

postgres:
	@bash scripts/ensure-postgres.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot handlers content migrations tests benchmarks

test: install postgres lint
	$(BIN)/pytest -q -p no:cacheprovider

unit: install
	$(BIN)/pytest -q tests/unit

migrate: install
	$(BIN)/twitchcheck migrate

run: install
	$(BIN)/twitchcheck run

sandbox: install
	$(BIN)/twitchcheck sandbox

bench: install
	$(BIN)/python -m benchmarks.checkin_throughput

# 2,000 people due at once, SQLite and two instances on PostgreSQL (a few minutes); the
# README's documented run: .venv/bin/python -m benchmarks.outbox_delivery --people 10000
bench-outbox: install postgres
	$(BIN)/python -m benchmarks.outbox_delivery

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
