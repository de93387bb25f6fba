#!/usr/bin/env bash
# pypsrp's own test suite (its sdist ships it), run twice in the project's venv: stock, then with
# wsusauto's speed-ups installed (.ci/pypsrp_speedups_plugin.py). The speed-ups patch private names
# of pypsrp, pyspnego and http.client; they must leave every pypsrp test with the outcome it has
# stock, and stock must pass: any difference or any stock failure fails this script, with the list.
#
# Usage: .ci/pypsrp_suite.sh [PYTHON]   (default .venv/bin/python; `make pypsrp-suite` installs
# what pypsrp's tests need, the pypsrp-suite extra, first). The sdist is the installed pypsrp's
# version (pyproject.toml pins its minor version), fetched from PyPI with pip.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
python="${1:-.venv/bin/python}"
case "$python" in /*) ;; *) python="$root/$python" ;; esac

version="$("$python" -c 'import importlib.metadata as m; print(m.version("pypsrp"))')"
work="$root/build/pypsrp-suite"
rm -rf "$work"
mkdir -p "$work"
"$python" -m pip download --quiet --no-binary :all: --no-deps --dest "$work" "pypsrp==$version"
tar -xzf "$work/pypsrp-$version.tar.gz" -C "$work"
source_dir="$work/pypsrp-$version"
[ -d "$source_dir/tests" ] || { echo "pypsrp $version's sdist has no tests/ directory" >&2; exit 1; }

# One run: every test's outcome as "OUTCOME nodeid" lines (pytest's -rA summary), sorted, in $2.
# pypsrp's tests import the installed pypsrp (the sdist's own copy is not on the path), the one
# wsusauto runs with. Its tests expect requests' default certificate store: a CA bundle named in
# the environment (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, as CI images set) changes session.verify and
# fails two of them stock (test_build_session_default, test_build_session_cert_validate).
run_suite() {
    local label="$1" outcomes="$2"
    shift 2
    local log="$work/$label.log" status=0
    (
        cd "$source_dir"
        env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE PYTHONPATH="$root/.ci:$root${PYTHONPATH:+:$PYTHONPATH}" \
            "$python" -m pytest -q -rA -p no:cacheprovider -o addopts= "$@" tests
    ) >"$log" 2>&1 || status=$?
    awk '/ short test summary info /{summary=1; next} summary' "$log" |
        grep -E '^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) ' |
        sed -E 's/^(SKIPPED) \[[0-9]+\] ([^:]+:[0-9]+).*/\1 \2/; s/ - .*//' | sort >"$outcomes"
    echo "pypsrp $version's suite, $label: $(tail -n 1 "$log" | tr -d '=' | sed 's/^ *//')" >&2
    grep -E '^wsusauto speed-ups reached' "$log" >&2 || true
    # pytest: 0 all passed, 1 some failed; anything else (usage, internal error, the plugin
    # refusing to install the speed-ups) means the run itself did not happen as intended.
    if [ "$status" -gt 1 ]; then
        echo "pypsrp's suite ($label) did not run (pytest exit $status):" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
}

run_suite stock "$work/stock.txt"
run_suite sped-up "$work/sped-up.txt" -p pypsrp_speedups_plugin

failed=0
if grep -qE '^(FAILED|ERROR)' "$work/stock.txt"; then
    echo "pypsrp's suite fails stock (not the speed-ups; see $work/stock.log):" >&2
    grep -E '^(FAILED|ERROR)' "$work/stock.txt" >&2
    failed=1
fi
if ! diff -u "$work/stock.txt" "$work/sped-up.txt" >"$work/difference.txt"; then
    echo "with wsusauto's speed-ups, pypsrp's tests end differently (see $work/sped-up.log):" >&2
    grep -E '^[-+][A-Z]' "$work/difference.txt" >&2
    failed=1
fi
if [ "$failed" -eq 0 ]; then
    echo "pypsrp $version's suite: the same $(wc -l <"$work/stock.txt") outcomes stock and with the speed-ups" >&2
fi
exit "$failed"
