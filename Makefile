# Two entry points: `make demo` (the guided tour) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m ember.tour
	$(PY) -m ember.demo_graph docs
	$(PY) -m ember.demo_digits demo_output

test: $(VENV)/.test-installed
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m ruff check src tests benchmarks
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n 2  # one worker per core

bench: $(VENV)/.test-installed
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) benchmarks/run.py

clean:
	rm -rf $(VENV)
