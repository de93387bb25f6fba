"""``ansible-doc wsusauto.wsus.<name>``, as a user types it, shows every plugin of the built
collection (installed from its tarball) with its documentation; ``ansible-doc -l`` lists them all.
(tests/ansible/test_plugin_specs.py holds each documentation to its plugin's argument spec.)"""

from __future__ import annotations

import pytest

from tests.ansible.conftest import ROOT

PLUGINS = sorted(p.stem for p in (ROOT / "collection" / "plugins" / "action").glob("*.py"))


def test_ansible_doc_lists_every_plugin_of_the_collection(ansible):
    done = ansible.run("ansible-doc", "-t", "module", "-l", "wsusauto.wsus")
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines() if line.startswith("wsusauto.wsus.")}
    assert PLUGINS and listed == {f"wsusauto.wsus.{name}" for name in PLUGINS}, done.stdout


@pytest.mark.parametrize("name", PLUGINS)
def test_ansible_doc_shows_the_plugins_documentation(ansible, name):
    done = ansible.run("ansible-doc", f"wsusauto.wsus.{name}")
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    text = done.stdout
    assert text.startswith(f"> MODULE wsusauto.wsus.{name} "), text[:200]
    assert "This module has a corresponding action plugin." in text  # it runs on the controller
    for section in ("ATTRIBUTES", "EXAMPLES", "RETURN VALUES"):
        assert f"\n{section}" in text, f"{name}: no {section}"
    assert f"wsusauto.wsus.{name}:" in text.split("\nEXAMPLES", 1)[1], f"{name}: no example uses it"
