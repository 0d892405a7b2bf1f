# Two entry points for newcomers: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/tagshare: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/tagshare

install: $(BIN)/tagshare

demo: install
	$(BIN)/tagshare demo

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check node protocol cli tests benchmarks tools
	$(BIN)/python tools/typecheck.py

.PHONY: install demo test lint
