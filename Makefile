# The README's two commands are `make demo` and `make test`; the rest are for contributors.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COMPILED := .compiled/manifest.json

# The worker's join logic compiled with mypyc, out of tree (docs/compiled.md). Its module list is
# MODULES in plumbing/compiled/build.py; any stream_processors change reruns the build, which only
# compiles when one of those modules (or the toolchain) really changed, and otherwise takes a second.
COMPILED_INPUTS := $(wildcard stream_processors/*.py plumbing/compiled/*.py)

.PHONY: setup demo test test-unit test-cluster lint typecheck stack-up stack-down stack-status bench clean

# Each stage prints one line with its duration (scripts/setup-stage.sh); its output shows if it fails.
STAGE := ./scripts/setup-stage.sh

$(STAMP): pyproject.toml
	@$(STAGE) "system packages" env PYTHON=$(PYTHON) ./scripts/install-system-deps.sh
	@$(STAGE) "virtualenv" sh -c 'test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)'
	@$(STAGE) "pip install" sh -c '$(BIN)/python -m pip install -q --upgrade pip && \
		$(BIN)/python -m pip install -q -e ".[dev]"'
	@touch $(STAMP)

$(COMPILED): $(STAMP) $(COMPILED_INPUTS)
	@$(STAGE) "compiled build" $(BIN)/python -m plumbing.compiled build

setup: $(STAMP) $(COMPILED)  ## system packages, virtualenv, Python dependencies, compiled modules

demo: setup  ## the main job: stack + whole pipeline on generated traffic
	$(BIN)/feedbackctl demo

test: setup  ## every test: unit, then integration and e2e against the real local stack
	./scripts/install-browser.sh
	$(BIN)/python -m pytest

test-cluster: setup  ## only the fault tests on a private three-broker Kafka and Redis Cluster (make test runs them too)
	$(BIN)/python -m pytest -m cluster tests/e2e/test_cluster_faults.py

test-unit: setup
	$(BIN)/python -m pytest tests/unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

stack-up: setup
	$(BIN)/feedbackctl stack up

stack-down:
	$(BIN)/feedbackctl stack down

stack-status:
	$(BIN)/feedbackctl stack status

clean:
	-$(BIN)/feedbackctl stack down --purge
	rm -rf $(VENV) .compiled lake out
