# The two commands: `make run` (set up, load the samples, then serve Dispatch on SQLite + the outbox)
# and `make test` (set up, then lint and run the whole test suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Dispatch needs Python 3.11 or newer (found " + sys.version.split()[0] + "); set PYTHON=python3.X")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dispatch init
	$(BIN)/dispatch articles import content
	$(BIN)/dispatch subscribers import subscribers/morning-briefing.csv --list morning-briefing --confirmed
	$(BIN)/dispatch feeds build
	$(BIN)/dispatch preview digest --list morning-briefing --since 2000-01-01 --out var/preview
	$(BIN)/dispatch send digest --list morning-briefing --yes
	$(BIN)/dispatch lists list
	$(BIN)/dispatch articles list
	$(BIN)/dispatch serve

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

test: lint
	$(BIN)/pytest -n 2 --dist loadfile  # two workers, one file at a time each

bench: $(STAMP)
	$(BIN)/python benchmarks/import_subscribers.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
