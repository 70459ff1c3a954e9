# Drift Monitoring — developer commands. Every target creates .venv itself.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help run test lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files re-run pip only when a requirements file changes.
$(VENV)/.dev-installed: $(BIN)/python requirements-dev.txt backend/requirements.txt frontend/requirements.txt client/pyproject.toml
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.dev-installed requirements-test.txt
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

run: $(VENV)/.dev-installed ## Start database, identity provider and API with demo data (Ctrl-C stops all)
	$(BIN)/python -m sandbox.run_stack

test: $(VENV)/.test-installed ## Run the whole test suite in parallel
	$(BIN)/python -m pytest -n auto

lint: $(VENV)/.test-installed ## Check style with ruff
	$(BIN)/python -m pip install --quiet ruff
	$(BIN)/python -m ruff check backend sandbox tests benchmarks

bench: $(VENV)/.test-installed ## Run the backend benchmark (minutes; results go to benchmarks/results/)
	$(BIN)/python benchmarks/backend_api.py

clean: ## Remove the virtual environment, run data and caches
	rm -rf $(VENV) .run .pytest_cache .cache
