# The README's two commands are `make demo` and `make test`; the rest are for contributors.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-unit lint typecheck stack-up stack-down stack-status bench clean

$(STAMP): pyproject.toml
	./scripts/install-system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)  ## system packages, virtualenv and Python dependencies

demo: setup  ## the main job: stack + whole pipeline on generated traffic
	$(BIN)/feedbackctl demo

test: setup  ## every test: unit, then integration and e2e against the real local stack
	./scripts/install-browser.sh
	$(BIN)/python -m pytest

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
	rm -rf $(VENV) lake out
