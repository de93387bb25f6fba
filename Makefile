# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: demo test test-fast lint pypsrp-suite bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

# The Kerberos extra compiles python-gssapi against MIT krb5's headers (Debian: libkrb5-dev), which a
# fresh machine may lack: then the Kerberos tests skip with one line, and everything else runs.
# .ci/run installs the headers and MIT's KDC first and requires those tests to run
# (WSUSAUTO_KERBEROS_TEST=required): there a failed build stops the install, with pip's error.
$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	if [ "$$WSUSAUTO_KERBEROS_TEST" = required ]; then \
		$(PY) -m pip install --quiet -e '.[kerberos]'; \
	else \
		$(PY) -m pip install --quiet -e '.[kerberos]' 2>/dev/null || \
		echo "python-gssapi did not build (no libkrb5-dev?): the Kerberos tests will skip" >&2; \
	fi
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
	$(PY) -m mypy

# pypsrp's own test suite, stock and with wsusauto's speed-ups installed: the same outcomes
# (.ci/pypsrp_suite.sh; pip fetches the installed pypsrp's sdist from PyPI). The pypsrp-suite
# extra is what pypsrp's tests import beyond pytest.
$(VENV)/.installed-pypsrp-suite: $(VENV)/.installed-test pyproject.toml
	$(PY) -m pip install --quiet -e '.[pypsrp-suite]'
	touch $@

pypsrp-suite: $(VENV)/.installed-pypsrp-suite
	.ci/pypsrp_suite.sh $(PY)

bench: $(VENV)/.installed-test
	$(PY) bench/lab_throughput.py
	$(PY) bench/runner.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
