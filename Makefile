# Dari: every target installs what it needs first (idempotent; fast when already installed).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.dari-installed
NODE_STAMP := node_modules/.dari-installed
ARTIFACTS := contracts/out/artifacts.json
SOL := $(shell find contracts -name '*.sol' -not -path 'contracts/out/*' 2>/dev/null)
DEMO_DIR := .dari/demo
PYTEST_ARGS ?=

.PHONY: install contracts test lint demo bench clean

install: $(PY_STAMP) $(NODE_STAMP) $(ARTIFACTS)

$(PY_STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "Python 3.11 is required (found $$($(PYTHON) --version))" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node 20 and npm" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(ARTIFACTS): $(SOL) contracts/compile.js $(NODE_STAMP)
	node contracts/compile.js
	@touch $@

contracts: $(ARTIFACTS)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

demo: install
	@$(BIN)/dari devnet down --dir $(DEMO_DIR) >/dev/null 2>&1 || true
	$(BIN)/dari devnet up --dir $(DEMO_DIR) --detach && $(BIN)/dari demo --dir $(DEMO_DIR); status=$$?; $(BIN)/dari devnet down --dir $(DEMO_DIR) >/dev/null; exit $$status

bench: install
	$(BIN)/dari bench

clean:
	rm -rf $(VENV) node_modules contracts/out .dari .pytest_cache .mypy_cache .ruff_cache
