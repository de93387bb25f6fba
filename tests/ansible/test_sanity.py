"""``ansible-test sanity`` on the built collection, installed from its tarball, as a collection's
CI runs it: every sanity test that can run on this machine, which reaches PyPI and nothing else.

ansible-test needs the collection at ``.../ansible_collections/wsusauto/wsus`` (the installed copy
is), makes a virtual environment per test with its pinned requirements from PyPI (kept in
``build/ansible-test-home``, made once) and runs the tests on this Python, the controller's.
What does not run here, and why:

- ``pslint``: PSScriptAnalyzer needs PowerShell (pwsh), which no package registry this machine
  reaches provides. The collection ships no PowerShell anyway: its snippets are in the wsusauto
  wheel, parsed and linted by tests/unit/test_snippet_lint.py.

Nothing else is left out: ansible-test's docker and remote options (other Pythons, other
platforms) are not used, and its pip bootstrap comes from PyPI (ansible_test_get_pip.py).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ansible.conftest import PIP_TIMEOUT, ROOT, _unavailable

pytestmark = pytest.mark.slow

HOME = ROOT / "build" / "ansible-test-home"
# Needs PowerShell, which cannot be installed here (see above).
EXCLUDED = ("pslint",)
# The tests that must have run: a silent skip of one of these would hide what it checks.
MUST_RUN = {
    "action-plugin-docs",
    "ansible-doc",
    "compile",
    "import",
    "pep8",
    "pylint",
    "runtime-metadata",
    "validate-modules",
    "yamllint",
}
NO_INDEX = ("No matching distribution found", "Could not fetch URL", "does not have pip available")


def _home() -> Path:
    """ansible-test's home: its venvs and the pip bootstrap it would download, made once; the
    user's pip configuration (an index mirror) still applies."""
    cache = HOME / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    user_pip = Path.home() / ".config" / "pip"
    if user_pip.is_dir() and not (HOME / ".config" / "pip").exists():
        (HOME / ".config").mkdir(exist_ok=True)
        (HOME / ".config" / "pip").symlink_to(user_pip)
    return HOME


def _pip_version(ansible) -> str:
    """The pip version ansible-test bootstraps into its venvs (python_requirements.get_venv_packages)."""
    pattern = "lib/python*/site-packages/ansible_test/_internal/python_requirements.py"
    sources = list(ansible.venv.glob(pattern))
    assert len(sources) == 1, sources
    source = sources[0].read_text(encoding="utf-8")
    found = re.search(r"pip='([0-9.]+)'", source)
    assert found, "ansible-test no longer names the pip version it bootstraps"
    return found[1]


# ansible-test builds its venvs from PyPI (cold: pylint, yamllint, voluptuous, ...): its run may take
# a cold build on a slow index; the test's own limit is a little more, so ansible-test's timeout is
# the one that speaks. func_only: the session's Ansible venvs, built before the test, have their own.
@pytest.mark.timeout(PIP_TIMEOUT + 60, func_only=True)
def test_ansible_test_sanity_passes_on_the_built_collection(ansible, tmp_path):
    installed = ansible.collections / "ansible_collections" / "wsusauto" / "wsus"
    collection = tmp_path / "ansible_collections" / "wsusauto" / "wsus"
    shutil.copytree(installed, collection)  # tests/output lands in this copy, not the installed one
    home = _home()
    bootstrap = home / ".ansible" / "test" / "cache" / f"get_pip_{_pip_version(ansible).replace('.', '_')}.py"
    shutil.copyfile(Path(__file__).with_name("ansible_test_get_pip.py"), bootstrap)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"  # the harness venv's, made from this one
    skips = [arg for test in EXCLUDED for arg in ("--skip-test", test)]
    done = subprocess.run(
        [ansible.bin("ansible-test"), "sanity", "--python", python, "--color", "no", *skips],
        cwd=collection,
        capture_output=True,
        text=True,
        env={**ansible.env(), "HOME": str(home)},
        timeout=PIP_TIMEOUT,
    )
    output = done.stdout + done.stderr
    if done.returncode != 0 and any(sign in output for sign in NO_INDEX):
        _unavailable(f"ansible-test could not install its requirements from PyPI: {output.strip()[-400:]}")
    ran = set(re.findall(r'^Running sanity test "([\w-]+)"', output, re.M))
    errors = [line for line in output.splitlines() if line.startswith(("ERROR", "FATAL"))]
    assert done.returncode == 0, "\n".join(errors) or output[-4000:]
    assert ran >= MUST_RUN, f"did not run: {sorted(MUST_RUN - ran)}"
    assert not set(EXCLUDED) & ran
    assert "Skipping sanity test" not in output, output
