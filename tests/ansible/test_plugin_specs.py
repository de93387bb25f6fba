"""Each action plugin's argument spec, its module's DOCUMENTATION (as ansible-doc reads it, with the
doc fragments) and its wsusauto operation's arguments say the same: names, types, required,
choices, defaults; a password is no_log and a Secret."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from wsusauto.config.secrets import Secret
from wsusauto.operations import OPERATIONS

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = sorted(p.stem for p in (ROOT / "collection" / "plugins" / "action").glob("*.py"))
# Ansible's option types for a wsusauto argument's kind (a Secret is a no_log string).
# ansible.module_utils.basic.PASSWORD_MATCH: an option whose name says password says whether it is one.
PASSWORD_MATCH = re.compile(r"^(?:.+[-_\s])?pass(?:[-_\s]?(?:word|phrase|wrd|wd)?)(?:[-_\s].+)?$", re.I)
TYPES = {str: {"str", "path"}, int: {"int"}, bool: {"bool"}, list: {"list"}, Secret: {"str"}}


@pytest.fixture(scope="module")
def specs(ansible):
    dump = Path(__file__).with_name("dump_plugin_specs.py")
    done = subprocess.run(
        [ansible.bin("python"), str(dump), str(ansible.collections), *PLUGINS],
        capture_output=True,
        text=True,
        env=ansible.env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def docs(ansible):
    done = ansible.run("ansible-doc", "--json", *(f"wsusauto.wsus.{name}" for name in PLUGINS))
    assert done.returncode == 0, done.stderr
    return {key.rsplit(".", 1)[-1]: value["doc"] for key, value in json.loads(done.stdout).items()}


def test_every_action_plugin_has_its_documentation(docs):
    assert PLUGINS and sorted(docs) == PLUGINS
    for name in PLUGINS:
        assert (ROOT / "collection" / "plugins" / "modules" / f"{name}.py").is_file(), name


@pytest.mark.parametrize("name", PLUGINS)
def test_the_argument_spec_and_the_documented_options_agree(name, specs, docs):
    spec, documented = specs[name]["argument_spec"], docs[name].get("options") or {}
    assert sorted(spec) == sorted(documented), name
    for option, rules in spec.items():
        doc = documented[option]
        where = f"{name} {option}"
        assert rules.get("type", "str") == doc.get("type", "str"), where
        assert bool(rules.get("required")) == bool(doc.get("required")), where
        assert rules.get("choices") == doc.get("choices"), where
        assert rules.get("default") == doc.get("default"), where
        assert rules.get("elements") == doc.get("elements"), where
        if PASSWORD_MATCH.search(option):  # what Ansible's modules warn about when no_log is unsaid
            assert "no_log" in rules, f"{where}: say whether it is a secret (no_log)"


@pytest.mark.parametrize("name", PLUGINS)
def test_the_options_are_the_operations_arguments(name, specs):
    plugin = specs[name]
    if not plugin["operation"]:
        pytest.skip(f"{name} runs no single wsusauto operation")
    operation = OPERATIONS[plugin["operation"]]
    spec, hidden = plugin["argument_spec"], set(plugin["hidden_arguments"])
    assert set(spec) | hidden == set(operation.arguments), name
    assert not set(spec) & hidden, name
    for option, rules in spec.items():
        argument = operation.arguments[option]
        where = f"{name} {option}"
        kinds = argument.kind if isinstance(argument.kind, tuple) else (argument.kind,)
        assert any(rules.get("type", "str") in TYPES[kind] for kind in kinds), where
        if Secret in kinds:
            assert rules.get("no_log") is True, f"{where}: a secret is no_log"
        if argument.required:
            assert rules.get("required") is True, where
        if argument.choices:
            assert set(rules.get("choices") or ()) == set(argument.choices), where
        if rules.get("default") is not None:
            assert argument.choices == () or rules["default"] in argument.choices, where
