# Drift Monitoring — developer commands. Every target creates .venv itself.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help run test test-unit browser lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Every install takes its versions from constraints.txt, the one file that pins them. Stamp files re-run
# pip only when the pins or what a part needs (requirements files, pyprojects) change.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --constraint constraints.txt

$(VENV)/.dev-installed: $(BIN)/python constraints.txt requirements-dev.txt frontend/requirements.txt backend/pyproject.toml client/pyproject.toml detector/pyproject.toml
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.dev-installed requirements-test.txt
	$(PIP_INSTALL) -r requirements-test.txt
	touch $@

run: $(VENV)/.dev-installed ## Start database, identity provider, API with demo data and the dashboard (Ctrl-C stops all)
	$(BIN)/python -m sandbox.run_stack

test: $(VENV)/.test-installed browser ## Run the whole test suite in parallel
	$(BIN)/python -m pytest -n auto

test-unit: $(VENV)/.test-installed ## Run only the unit tests: no server, no database (seconds)
	$(BIN)/python -m pytest -n auto -m unit

# Never fails: where nothing can be installed, the browser test is skipped and says why.
browser: ## Install chromium + chromedriver for the dashboard's browser test, if missing and possible
	@sh scripts/install-browser.sh

lint: $(VENV)/.test-installed ## Check style with ruff
	$(PIP_INSTALL) ruff
	$(BIN)/python -m ruff check backend client frontend detector sandbox tests benchmarks

bench: $(VENV)/.test-installed ## Run the backend benchmark (minutes; results go to benchmarks/results/)
	$(BIN)/python benchmarks/backend_api.py

clean: ## Remove the virtual environment, run data and caches
	rm -rf $(VENV) .run .pytest_cache .cache
