# Drift Monitoring — developer commands. Every target creates .venv itself.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help run test browser lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files re-run pip only when a requirements file changes.
$(VENV)/.dev-installed: $(BIN)/python requirements-dev.txt backend/requirements.txt frontend/requirements.txt client/pyproject.toml detector/pyproject.toml
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.dev-installed requirements-test.txt
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

run: $(VENV)/.dev-installed ## Start database, identity provider, API with demo data and the dashboard (Ctrl-C stops all)
	$(BIN)/python -m sandbox.run_stack

test: $(VENV)/.test-installed browser ## Run the whole test suite in parallel
	$(BIN)/python -m pytest -n auto

# Never fails: where nothing can be installed, the browser test is skipped and says why.
browser: ## Install chromium + chromedriver for the dashboard's browser test, if missing and possible
	@sh scripts/install-browser.sh

lint: $(VENV)/.test-installed ## Check style with ruff
	$(BIN)/python -m pip install --quiet ruff
	$(BIN)/python -m ruff check backend client frontend detector sandbox tests benchmarks

bench: $(VENV)/.test-installed ## Run the backend benchmark (minutes; results go to benchmarks/results/)
	$(BIN)/python benchmarks/backend_api.py

clean: ## Remove the virtual environment, run data and caches
	rm -rf $(VENV) .run .pytest_cache .cache
