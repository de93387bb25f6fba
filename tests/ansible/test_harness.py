"""The harness runs Ansible as the tests mean it to: no ansible.cfg of the machine's or the user's
changes a run (a stdout callback, forks, a vars plugin would change what the tests read)."""

from __future__ import annotations

import subprocess

import pytest_timeout


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
