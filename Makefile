# Everything installs into .venv from requirements.txt; the targets create it as needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# CPython 3.14 and 3.15, and MicroPython, on WebAssembly (package.json): npm installs them from the lock file.
NODE_STAMP := node_modules/.package-lock.json
# Checks of the built pages, not needed to build them (checks/package.json): Lighthouse, the Nu HTML checker.
CHECKS_STAMP := checks/node_modules/.package-lock.json
export NO_MKDOCS_2_WARNING := 1

.PHONY: serve test build bench lighthouse clean

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed to build the site (PYTHON=$(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js and npm are needed (CPython 3.14 and 3.15, and MicroPython, run on WebAssembly under Node)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CHECKS_STAMP): checks/package.json checks/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js and npm are needed (Lighthouse runs under Node)"; exit 1; }
	cd checks && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Serve the site on http://127.0.0.1:8000, rebuilding as files change: only the edited
## page (--dirty), with example results cached by code and interpreter (mkdocs.serve.yml).
serve: $(STAMP) $(NODE_STAMP)
	PYLIVE_CACHE=.cache/pylive PYLIVE_QUICK=1 PYLIVE_FULL_SITE=false $(BIN)/mkdocs serve -f mkdocs.serve.yml --dirty --dev-addr 127.0.0.1:8000

## Run the whole test suite (page code, transcripts, snippets, engine, strict build, browser).
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest

## The strict build into site/, exactly as CI does it (no cache).
build: $(STAMP) $(NODE_STAMP)
	$(BIN)/mkdocs build --strict

## Time a clean build, a build with execution off, and an edit shown by `make serve`.
bench: $(STAMP) $(NODE_STAMP)
	$(BIN)/python scripts/bench_build.py

## Lighthouse's scores (phone, throttled) of the heaviest pages of a strict build, served
## gzip-compressed, against the machine's Chromium: performance 85, the others 100.
lighthouse: $(STAMP) $(NODE_STAMP) $(CHECKS_STAMP)
	$(BIN)/python scripts/lighthouse.py

clean:
	rm -rf site .cache node_modules checks/node_modules
