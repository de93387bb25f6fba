"""What the collection's docs hand a user to paste is valid where it goes.

- ``collection/docs/awx-credential-type.yml``: AWX's own rules for a custom credential type's
  ``inputs`` and ``injectors`` (AWX's ``CredentialTypeInputField`` and
  ``CredentialTypeInjectorField`` schemas, the reserved names, and every injector template
  rendered with ``StrictUndefined`` against the declared inputs as AWX checks it on save); then the
  injection as AWX does it for a job, for a password and for a keytab: the password in the
  environment the inventory names, the keytab's file where ``awx_keytab.yml`` decodes it from.
- ``collection/docs/inventory.yml``: wsusauto reads it (every host's connection), and its
  hierarchy is valid with the tiers ``sync_tree.yml`` goes through.
- ``collection/docs/execution-environment.yml``: names the wheel and the tarball of this release.
- The example playbooks never gather facts over psrp (Ansible's setup module on the servers).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tests.awx_credential import inject, load_credential_type
from wsusauto.config.hierarchy import validate, waves
from wsusauto.config.inventory import connection_options, load_inventory
from wsusauto.execution.prepare import intended_hierarchy

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "collection"
DOCS = COLLECTION / "docs"

# AWX's CredentialTypeInputField / CredentialTypeInjectorField (awx/main/fields.py) and ENV_BLOCKLIST.
FIELD_KEYS = {
    "id",
    "type",
    "format",
    "choices",
    "label",
    "help_text",
    "multiline",
    "secret",
    "ask_at_runtime",
    "default",
}
FIELD_ID = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
FILE_KEY = re.compile(r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$")
ENV_KEY = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
EXTRA_VAR_KEY = re.compile(r"^[a-zA-Z_\{\}]+[a-zA-Z0-9_\{\}]*$")
ENV_BLOCKLIST = {
    "VIRTUAL_ENV", "PATH", "PYTHONPATH", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID",
    "INVENTORY_UPDATE_ID", "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES",
    "CALLBACK_QUEUE", "CALLBACK_CONNECTION", "CACHE", "JOB_CALLBACK_DEBUG", "INVENTORY_HOSTVARS",
    "AWX_HOST", "PROJECT_REVISION", "SUPERVISOR_CONFIG_PATH",
}  # fmt: skip


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def credential_type() -> dict[str, Any]:
    return load_credential_type()


class _Namespace:
    pass


def test_the_credential_type_inputs_are_what_awx_accepts(credential_type):
    assert credential_type["kind"] in ("cloud", "net")  # the kinds a custom credential type may have
    inputs = credential_type["inputs"]
    assert set(inputs) <= {"fields", "required"}
    ids = [field["id"] for field in inputs["fields"]]
    assert len(ids) == len(set(ids)) and "tower" not in ids
    for field in inputs["fields"]:
        assert set(field) <= FIELD_KEYS and {"id", "label"} <= set(field), field
        assert FIELD_ID.match(field["id"]) and field.get("type", "string") in ("string", "boolean"), field
        assert all(isinstance(field.get(k, False), bool) for k in ("multiline", "secret", "ask_at_runtime"))
    assert set(inputs["required"]) <= set(ids)
    secret = {field["id"] for field in inputs["fields"] if field.get("secret")}
    assert {"password", "keytab_base64"} <= secret  # never shown back by AWX, masked in job output


def test_every_injector_template_uses_only_declared_inputs(credential_type):
    injectors = credential_type["injectors"]
    assert set(injectors) <= {"file", "env", "extra_vars"}
    assert all(FILE_KEY.match(key) for key in injectors["file"])
    assert all(ENV_KEY.match(key) and not key.startswith("ANSIBLE_") for key in injectors["env"])
    assert not set(injectors["env"]) & ENV_BLOCKLIST
    assert all(EXTRA_VAR_KEY.match(key) for key in injectors["extra_vars"])
    # As AWX validates on save: every template rendered with StrictUndefined over the inputs' ids
    # and tower.filename.<name> for each multi-file injector.
    namespace: dict[str, Any] = {field["id"]: "EXAMPLE" for field in credential_type["inputs"]["fields"]}
    tower = _Namespace()
    tower.filename = _Namespace()  # type: ignore[attr-defined]
    for key in injectors["file"]:
        assert "." in key, "multi-file syntax, so more files can follow"
        setattr(tower.filename, key.split(".", 1)[1], "EXAMPLE_FILENAME")  # type: ignore[attr-defined]
    namespace["tower"] = tower
    strict = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for kind in ("file", "env", "extra_vars"):
        for key, template in injectors[kind].items():
            assert isinstance(template, str) and str(template).isascii(), (kind, key)
            strict.from_string(template).render(namespace)
    # ... and a template naming an input that does not exist is refused the same way.
    with pytest.raises(Exception, match="undefined"):
        strict.from_string("{{ keytab }}").render(namespace)


def test_a_password_reaches_the_variable_the_inventory_names(credential_type, tmp_path):
    injected = inject(credential_type, {"username": r"CORP\svc-wsus", "password": "s3cret!"}, tmp_path)
    assert injected.extra_vars == {"ansible_user": r"CORP\svc-wsus"}
    inventory = _yaml(DOCS / "inventory.yml")
    assert injected.env[inventory["all"]["vars"]["wsusauto_password_env"]] == "s3cret!"
    # no keytab given: awx_keytab.yml finds an empty file and does nothing
    assert Path(injected.env["WSUSAUTO_KEYTAB_BASE64_FILE"]).read_text() == ""


def test_a_keytab_lands_next_to_the_file_awx_keytab_decodes(credential_type, tmp_path):
    injected = inject(
        credential_type,
        {"username": "svc-wsus@CORP.EXAMPLE.COM", "password": "", "keytab_base64": "BQIAAAA3AAEAC0NPUlA="},
        tmp_path,
    )
    env = injected.env
    encoded = Path(env["WSUSAUTO_KEYTAB_BASE64_FILE"])
    assert encoded.read_text() == "BQIAAAA3AAEAC0NPUlA=" and encoded.parent == tmp_path / "env"
    # MIT krb5's FILE: keytab, in the job's private directory (AWX removes it after the job)
    assert env["KRB5_CLIENT_KTNAME"] == f"FILE:{encoded}.keytab"
    assert env["WSUSAUTO_WINRM_PASSWORD"] == ""  # the keytab inventory names no password source
    play = _yaml(COLLECTION / "playbooks" / "awx_keytab.yml")[0]
    script = play["tasks"][0]["ansible.builtin.shell"]
    assert "WSUSAUTO_KEYTAB_BASE64_FILE" in script and "${KRB5_CLIENT_KTNAME#FILE:}" in script


def test_the_example_inventory_is_read_by_wsusauto_with_the_tiers_sync_tree_goes_through(monkeypatch):
    monkeypatch.setenv("WSUSAUTO_WINRM_PASSWORD", "example")
    inventory = load_inventory(DOCS / "inventory.yml")
    for host in inventory.hosts.values():
        options = connection_options(host)
        assert options.auth == "negotiate" and options.password is not None
    nodes = intended_hierarchy(inventory, {})
    validate(nodes)
    assert waves(nodes) == [
        ["wsus-root.corp.example.com"],
        ["wsus-eu.corp.example.com", "wsus-us.corp.example.com"],
        ["wsus-eu-01.corp.example.com", "wsus-eu-02", "wsus-us-01.corp.example.com"],
    ]
    # the regions are groups, listed one after the other (sync_tree's batches follow that order)
    assert [name for name in inventory.groups if name.startswith("region_")] == ["region_eu", "region_us"]


def test_the_execution_environment_names_this_release_wheel_and_tarball():
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version is not None
    galaxy = _yaml(COLLECTION / "galaxy.yml")
    assert galaxy["version"] == version[1]  # the collection and its library are one release
    requirements = (COLLECTION / "requirements.txt").read_text().split()
    assert f"wsusauto=={version[1]}" in requirements
    ee = _yaml(DOCS / "execution-environment.yml")
    assert ee["version"] == 3
    sources = {entry["src"] for entry in ee["additional_build_files"]}
    tarball = f"{galaxy['namespace']}-{galaxy['name']}-{galaxy['version']}.tar.gz"
    assert {f"wsusauto-{version[1]}-py3-none-any.whl", tarball} <= sources
    assert ee["dependencies"]["galaxy"]["collections"] == [
        {"name": f"/build/collections/{tarball}", "type": "file"}
    ]
    assert f"wsusauto[kerberos]=={version[1]}" in ee["dependencies"]["python"]


def test_no_example_play_gathers_facts_over_psrp():
    playbooks = sorted((COLLECTION / "playbooks").glob("*.yml"))
    assert {p.stem for p in playbooks} >= {
        "designate_hierarchy",
        "stagger_schedules",
        "sync_tree",
        "diagnose",
    }
    for path in playbooks:
        for play in _yaml(path):
            assert play.get("gather_facts") is False, f"{path.name}: {play['name']}"


def _table_names(readme: str, heading: str) -> list[str]:
    """The first column's names (``| `name` | ... |``) of the table under ``heading``."""
    section = readme.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([\w.]+)` \|", section, re.M)


def test_the_collection_readme_lists_every_plugin_and_example_playbook():
    readme = (COLLECTION / "README.md").read_text(encoding="utf-8")
    plugins = sorted(p.stem for p in (COLLECTION / "plugins" / "action").glob("*.py"))
    assert sorted(_table_names(readme, "The plugins")) == plugins
    playbooks = sorted(p.stem for p in (COLLECTION / "playbooks").glob("*.yml"))
    assert sorted(_table_names(readme, "The example playbooks")) == playbooks


def test_the_credential_type_shown_in_awx_md_is_the_file_beside_it_without_help_texts(credential_type):
    """docs/awx.md shows the inputs and injectors to paste, and says the file has them with help texts."""
    blocks = re.findall(r"```yaml\n(.*?)```", (DOCS / "awx.md").read_text(encoding="utf-8"), re.S)
    shown = [yaml.safe_load(b) for b in blocks if b.startswith("inputs:")]
    assert len(shown) == 1, blocks
    fields = [{k: v for k, v in f.items() if k != "help_text"} for f in credential_type["inputs"]["fields"]]
    assert shown[0]["inputs"] == {**credential_type["inputs"], "fields": fields}
    assert shown[0]["injectors"] == credential_type["injectors"]
