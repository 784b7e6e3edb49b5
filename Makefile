# Trading Floor: one entry point for running, testing and benchmarking.
# Everything installs into .venv from the package registries; no API key is needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export LANGSMITH_TRACING ?= false
export LANGGRAPH_CLI_NO_ANALYTICS ?= 1
export LANGGRAPH_NO_VERSION_CHECK ?= true

.PHONY: install browser postgres run ui test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

## setup.py compiles market/_book_core.pyx (the fast matching engine), the background market's modules and the
## ledger's settlement path (market/compiled_twin.py) in place: a change to one of them reinstalls.
TWIN_SOURCES := market/background/market_maker.py market/background/noise_trader.py market/background/value_trader.py \
                market/background/population.py market/fundamentals.py \
                $(wildcard market/background/*.pxd market/fundamentals.pxd) \
                ledger/settlement.py ledger/background_fills.py ledger/lots.py ledger/records.py ledger/fillids.py \
                ledger/packed_history.py ledger/id_numbers.py ledger/state.py
$(STAMP): pyproject.toml constraints.txt setup.py market/_book_core.pyx $(TWIN_SOURCES) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,ray]'
	touch $(STAMP)

install: $(STAMP)

## make run: the main job, offline: a new 200-cycle scripted run on the embedded SQLite default (runs/floor.db).
run: $(STAMP)
	$(BIN)/trading-floor run --cycles 200 --new

## make ui: the Chainlit chat UI on http://127.0.0.1:8000 (offline, no key), on the same database as `make run`.
ui: $(STAMP)
	$(BIN)/trading-floor ui

## Debian's chromium drives the browser tests (Playwright's own browser download does not work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)) >/dev/null; \
	  elif command -v sudo >/dev/null 2>&1; then (sudo apt-get install -y -q chromium || (sudo apt-get update -q && sudo apt-get install -y -q chromium)) >/dev/null; \
	  else echo "chromium is missing and cannot be installed here: the browser tests will fail"; fi; }

## PostgreSQL 15 (Debian) for the tests of the PostgreSQL backend: each test session starts a throwaway
## server of its own from these binaries (tests/pg_server.py: initdb in a temp dir, unix socket only).
postgres:
	@test -x /usr/lib/postgresql/15/bin/initdb || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get install -y -q postgresql-15 || (apt-get update -q && apt-get install -y -q postgresql-15)) >/dev/null; \
	  elif command -v sudo >/dev/null 2>&1; then (sudo apt-get install -y -q postgresql-15 || (sudo apt-get update -q && sudo apt-get install -y -q postgresql-15)) >/dev/null; \
	  else echo "PostgreSQL 15 is missing and cannot be installed here: the PostgreSQL tests will fail"; fi; }

## make test: install everything and run the whole test suite.
test: $(STAMP) browser postgres
	$(BIN)/python -m pytest -q

## make bench: speed and memory figures, each printed against a baseline measured in the same run.
bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
