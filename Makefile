# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: demo test test-fast lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m wsusauto.demo

test: $(VENV)/.installed-test
	$(PY) -m pytest -q

test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -q -m 'not slow'

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.installed-test
	$(PY) bench/lab_throughput.py
	$(PY) bench/runner.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
