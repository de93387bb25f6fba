"""The harness runs Ansible as the tests mean it to: no ansible.cfg of the machine's or the user's
changes a run (a stdout callback, forks, a vars plugin would change what the tests read)."""

from __future__ import annotations

import re
import subprocess

import pytest
import pytest_timeout
import yaml

from tests.ansible.conftest import ANSIBLE_REQUIREMENTS, ROOT


def test_no_ansible_cfg_of_the_user_or_the_machine_is_read(ansible, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".ansible.cfg").write_text("[defaults]\nforks = 3\nstdout_callback = minimal\n", encoding="utf-8")
    done = subprocess.run(
        [ansible.bin("ansible-config"), "dump", "--only-changed"],
        capture_output=True,
        text=True,
        env=ansible.env({"HOME": str(home)}),
        cwd=str(home),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "DEFAULT_FORKS" not in done.stdout and "DEFAULT_STDOUT_CALLBACK" not in done.stdout, done.stdout
    assert "COLLECTIONS_PATHS" in done.stdout, done.stdout  # the harness's own settings are there


def test_the_session_venv_builds_do_not_count_in_a_test_s_global_timeout(ansible, request):
    """pytest-timeout's global 300 s would count the session fixture's cold venv builds in the first
    test that asks for them; the Ansible tests are timed on their body only (func_only)."""
    settings = pytest_timeout._get_item_settings(request.node)
    assert settings.func_only is True
    assert settings.timeout == pytest_timeout.get_env_settings(request.config).timeout  # not raised


@pytest.mark.parametrize("install", ["ansible", "ansible_oldest"])
def test_each_install_runs_the_ansible_core_line_it_stands_for(install, request):
    """``ansible`` is the line the tests are written for (its sanity ignore file exists),
    ``ansible_oldest`` the line of requires_ansible (collection/meta/runtime.yml)."""
    runner = request.getfixturevalue(install)
    done = runner.run("ansible", "--version")
    assert done.returncode == 0, done.stderr
    found = re.search(r"\[core (\d+)\.(\d+)\.", done.stdout.splitlines()[0])
    assert found, done.stdout
    line = f"{found[1]}.{found[2]}"
    if install == "ansible":
        assert f"ansible-core>={line},<" in ANSIBLE_REQUIREMENTS[0]
        assert (ROOT / "collection" / "tests" / "sanity" / f"ignore-{line}.txt").is_file()
    else:
        runtime = yaml.safe_load((ROOT / "collection" / "meta" / "runtime.yml").read_text(encoding="utf-8"))
        assert runtime["requires_ansible"] == f">={line}.0"
