# SMO Live. `make run` serves the app; `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test check lint typecheck install install-test system-deps fuzz soak bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(STAMP)
install-test: $(TEST_STAMP)

run: $(STAMP)
	$(BIN)/smo migrate
	$(BIN)/smo demo-data --if-empty
	$(BIN)/smo serve --host $(HOST) --port $(PORT)

lint: $(TEST_STAMP)
	$(BIN)/ruff check server realtime tests bench migrations
	$(BIN)/ruff format --check server realtime tests bench migrations

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

check: lint typecheck

# Debian packages: Chromium for the browser tests, fonts and libraries for the documents.
system-deps:
	@bash scripts/system-deps.sh

test: $(TEST_STAMP) system-deps check
	$(BIN)/pytest -q

fuzz: $(TEST_STAMP)
	SMO_FUZZ_EXAMPLES=20000 $(BIN)/pytest -q tests -k fuzz

soak: $(TEST_STAMP)
	$(BIN)/pytest -q -m slow --run-slow

bench: $(TEST_STAMP)
	@for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var/*.db .pytest_cache .mypy_cache .ruff_cache
