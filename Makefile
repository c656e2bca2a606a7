# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[plot]'
	touch $@

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,all]'
	touch $@

demo: $(STAMP)
	$(BIN)/resolve demo

test: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench_scoring.py
	$(BIN)/python benchmarks/bench_mmrm.py
	$(BIN)/python benchmarks/bench_mmrm_structures.py
	$(BIN)/python benchmarks/bench_mmrm_batch.py --jobs 1
	$(BIN)/python benchmarks/bench_mmrm_batch.py --jobs 2
	$(BIN)/python benchmarks/bench_analysis.py
	$(BIN)/python benchmarks/bench_demo.py
	$(BIN)/python benchmarks/bench_lrj_images.py
	$(BIN)/python benchmarks/bench_lrj_latency.py
	$(BIN)/python benchmarks/bench_web_load.py --think 2

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
