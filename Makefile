# detente: the two commands every user needs.
#   make run   - create .venv (if missing), install detente, forecast the flagship scenario
#   make test  - create .venv with test extras (if missing), run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP      := $(VENV)/.installed
TESTSTAMP  := $(VENV)/.installed-test

.PHONY: run test bench clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(TESTSTAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(STAMP)

run: $(STAMP)
	@$(BIN)/detente forecast

test: $(TESTSTAMP)
	@$(BIN)/python -m pytest

bench: $(TESTSTAMP)
	@for f in benchmarks/bench_*.py; do $(BIN)/python $$f; done

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
