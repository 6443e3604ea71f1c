# PayFlow: the two commands of the quick start are `make run` and `make test`.
# Everything the project needs is installed by the project: uv (into .payflow/tools when it is
# not on PATH), Python packages (into .venv), the embedded MongoDB-compatible and Redis servers.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS := .payflow/tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
RUN := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help install run test test-unit test-integration test-e2e lint typecheck bench diagram demo clean

help:
	@echo "make run    install everything, start every service on embedded stores (Ctrl-C stops all)"
	@echo "make test   install everything, run the whole test suite"
	@echo "make demo   a guided tour through the Python client, against a running make run"
	@echo "make lint | typecheck | bench | diagram | clean"
	@echo "make bench BENCH_ARGS=\"--transfers 500 --concurrency 10\"   (see: make bench BENCH_ARGS=--help)"

$(TOOLS)/bin/uv:
	@command -v uv >/dev/null 2>&1 || { \
	  echo "uv not found: installing it into $(TOOLS)"; \
	  $(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv; }

.venv/.synced: pyproject.toml uv.lock $(wildcard apps/*/pyproject.toml libs/*/pyproject.toml) | $(TOOLS)/bin/uv
	$(UV) sync --frozen --all-packages
	@touch $@

install: .venv/.synced

run: install
	$(RUN) python -m payflow_devstack run

test: install
	$(RUN) lint-imports
	$(RUN) pytest $(PYTEST_ARGS)

test-unit: install
	$(RUN) pytest -m "not integration and not e2e" $(PYTEST_ARGS)

test-integration: install
	$(RUN) pytest -m integration $(PYTEST_ARGS)

test-e2e: install
	$(RUN) pytest tests/e2e $(PYTEST_ARGS)

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

typecheck: install
	$(RUN) mypy

bench: install
	$(RUN) python -m payflow_testing.bench $(BENCH_ARGS)

demo: install
	$(RUN) python -m payflow_client.demo

diagram: install
	$(RUN) python -m payflow_orchestrator.domain.diagram > docs/saga-diagram.md

clean:
	rm -rf .payflow/data .payflow/run .payflow/logs
