# SMO Live. `make run` serves the app; `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test test-clock check lint typecheck install install-test system-deps fuzz soak bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml $(wildcard realtime/media/_*.c) realtime/media/_dataplane.h | $(BIN)/python
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
	$(BIN)/pytest -q --durations=30

# The clock-shift check: the date-sensitive suites with the process clock at the hours and days
# where dates change (Moscow midnight is 21:00 UTC; the school year turns on 1 September).
CLOCK_INSTANTS ?= 2026-12-03T03:00:00Z 2026-12-03T10:00:00Z 2026-12-03T20:59:00Z 2026-12-03T21:01:00Z \
	2026-08-31T20:59:00Z 2026-08-31T21:01:00Z 2026-09-01T10:00:00Z
CLOCK_TESTS ?= tests/test_clock.py tests/test_preparation_registration.py tests/test_preparation_letters.py \
	tests/test_plan_meetings.py tests/test_plan_pages.py tests/test_protocol_workflow.py \
	tests/test_notifications_pages.py tests/test_competitions_flow.py tests/test_stats_pages.py \
	tests/test_questionnaires_feedback.py tests/test_topics_flow.py tests/test_analysis_pages.py \
	tests/test_ratelimit.py tests/test_harden_web.py
test-clock: $(TEST_STAMP)
	@for t in $(CLOCK_INSTANTS); do echo "== SMO_TEST_NOW=$$t"; \
	  SMO_TEST_NOW=$$t $(BIN)/pytest -q $(CLOCK_TESTS) || exit 1; done

fuzz: $(TEST_STAMP)
	SMO_FUZZ_EXAMPLES=20000 $(BIN)/pytest -q tests -k fuzz

soak: $(TEST_STAMP)
	$(BIN)/pytest -q -m slow --run-slow

bench: $(TEST_STAMP)
	@for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
	@echo "== bench/udp_send_floor.c"; $(CC) -O2 -o $(VENV)/udp_send_floor bench/udp_send_floor.c && $(VENV)/udp_send_floor

clean:
	rm -rf $(VENV) var/*.db .pytest_cache .mypy_cache .ruff_cache
