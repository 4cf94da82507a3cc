# detente: the commands every user and developer needs.
#   make run    - create .venv (if missing), install detente with every extra, forecast the flagship scenario
#   make test   - create .venv with the test extras (if missing), run the whole test suite
#   make lint   - ruff (style, imports, bugs) and mypy (types) over the package
#   make bench  - every benchmark in benchmarks/, each target printed with its ratio
#   make docs-img - regenerate the pictures in docs/img from the flagship run (needs chromium)
# After installing, `detente warmup` compiles the numba kernels into numba's cache once, so
# that no forecast waits for the compiler; the package's modules are byte-compiled too, as pip
# does for a package it installs (an editable install does not, and every process then compiles
# the modules it imports again when PYTHONDONTWRITEBYTECODE is set).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP      := $(VENV)/.installed
TESTSTAMP  := $(VENV)/.installed-test

.PHONY: run test lint bench docs-img clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -m pip install --quiet -e '.[all]'
	@$(BIN)/python -m compileall -q src/detente
	@$(BIN)/detente warmup
	@touch $@

$(TESTSTAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -m pip install --quiet -e '.[all,test]'
	@$(BIN)/python -m compileall -q src/detente
	@$(BIN)/detente warmup
	@touch $@ $(STAMP)

run: $(STAMP)
	@$(BIN)/detente forecast

# the whole suite on two worker processes, each module's tests on one worker (docs/development.md)
test: $(TESTSTAMP)
	@$(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder

lint: $(TESTSTAMP)
	@$(BIN)/ruff check src tests benchmarks
	@$(BIN)/mypy

# every bench script, its output also saved in .bench/out.txt; then the summary of issue #17's
# targets (benchmarks/targets.py reads the TARGET lines the scripts print). A script that fails is
# named at the end, and the other scripts still run.
bench: $(TESTSTAMP)
	@mkdir -p .bench && : > .bench/out.txt
	@for f in benchmarks/bench_*.py; do \
		{ $(BIN)/python -u $$f 2>&1 || echo "BENCH FAILED $$f"; } | tee -a .bench/out.txt; \
	done
	@$(BIN)/python benchmarks/targets.py .bench/out.txt
	@! grep -q "^BENCH FAILED" .bench/out.txt

docs-img: $(TESTSTAMP)
	@$(BIN)/python scripts/docs_images.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
