# Everything installs into .venv from requirements.txt; the targets create it as needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export NO_MKDOCS_2_WARNING := 1

.PHONY: serve test build bench clean

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed to build the site (PYTHON=$(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

## Serve the site on http://127.0.0.1:8000, rebuilding pages as they change: only the
## edited page (--dirty), with example results cached by code and interpreter.
serve: $(STAMP)
	PYLIVE_CACHE=.cache/pylive PYLIVE_QUICK=1 $(BIN)/mkdocs serve --dirty --dev-addr 127.0.0.1:8000

## Run the whole test suite (page code, transcripts, snippets, engine, strict build, browser).
test: $(STAMP)
	$(BIN)/python -m pytest

## The strict build into site/, exactly as CI does it (no cache).
build: $(STAMP)
	$(BIN)/mkdocs build --strict

## Time a clean build, a build with execution off, and an edit shown by `make serve`.
bench: $(STAMP)
	$(BIN)/python scripts/bench_build.py

clean:
	rm -rf site .cache
