"""Playbook expressions end to end: what the lab receives, and what never reaches it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lab_fixtures import run_cli as wsusauto
from tests.lab_fixtures import small_topology
from wsusauto import exitcodes
from wsusauto.client.snippets import registry
from wsusauto.config.inventory import inventory_from_dict
from wsusauto.config.playbook import load_playbook
from wsusauto.execution.runner import Runner

ROOT = Path(__file__).resolve().parents[2]
EVERY_EXPRESSION = ROOT / "tests" / "data" / "every_expression.yml"


def record_invocations(lab: Any, monkeypatch: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(server, snippet name, parameters) of every pipeline the lab runs from now on."""
    by_text = {snippet.text: name for name, snippet in registry().items()}
    calls: list[tuple[str, str, dict[str, Any]]] = []
    answer = type(lab.handlers).__call__

    def recording(self: Any, invocation: Any) -> Any:
        calls.append((invocation.endpoint, by_text.get(invocation.script, "?"), dict(invocation.parameters)))
        return answer(self, invocation)

    monkeypatch.setattr(type(lab.handlers), "__call__", recording)
    return calls


def lab_inventory_data(lab: Any) -> dict:
    data = lab.inventory()
    hosts = data["all"]["children"]["wsus"]["hosts"]
    hosts["wsus-01"].update(site="Berlin", upstream_port_text="8531")
    hosts["wsus-02"].update(upstream_ssl="yes")
    data["all"]["children"]["root"] = {"hosts": {"wsus-root": {}}}
    data["all"]["children"]["branch"] = {
        "vars": {"proxy_user": "given", "proxy_port": 9999},
        "hosts": {"wsus-01": {}, "wsus-02": {}},
    }
    return data


@pytest.fixture
def lab_files(make_lab, tmp_path):
    lab = make_lab(small_topology(3))
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(lab_inventory_data(lab)))
    return lab, inventory


def test_every_filter_and_test_reaches_the_lab_as_the_expected_arguments(lab_files, monkeypatch):
    lab, inventory = lab_files
    calls = record_invocations(lab, monkeypatch)
    result = wsusauto("run", str(EVERY_EXPRESSION), "-i", str(inventory), "-e", "proxy_port=3128", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert lab.password not in result.stdout + result.stderr

    sent = {(server, name): parameters for server, name, parameters in calls if name.startswith("set_")}
    assert set(sent) == {
        (host, snippet) for host in ("wsus-01", "wsus-02") for snippet in ("set_update_source", "set_proxy")
    }  # the replica task was skipped by its expression; wsus-root is not in the play
    for host, port, ssl in (("wsus-01", 8531, False), ("wsus-02", 8530, True)):
        source = sent[(host, "set_update_source")]
        assert {"SyncFromMicrosoftUpdate", "UpstreamWsusServerName"} <= set(source["Members"])
        assert source["SyncFromMicrosoftUpdate"] is False
        assert source["UpstreamWsusServerName"] == "wsus-root"
        assert source["UpstreamWsusServerPortNumber"] == port  # "8531" | int, or d('8530') | int
        assert type(source["UpstreamWsusServerPortNumber"]) is int
        assert source["UpstreamWsusServerUseSsl"] is ssl  # default('no') | bool, or "yes" | bool
    for host, site in (("wsus-01", "berlin"), ("wsus-02", "hq")):
        proxy = sent[(host, "set_proxy")]
        assert proxy["UseProxy"] is True
        assert proxy["ProxyName"] == f"{site}.proxy.corp"
        assert proxy["ProxyServerPort"] == 3128  # -e above the play's vars above the inventory
        assert proxy["AnonymousProxyAccess"] is False  # proxy_user is defined: ternary's first value
        assert proxy["ProxyUserName"] == f"svc-branch-{host[len('wsus-') :]}"
        assert proxy["ProxyUserDomain"] == json.dumps({"site": site.upper()})
        assert proxy["SetPassword"] is True
        assert proxy["ProxyPassword"].reveal() == lab.password  # hostvars' secret, whole, as a SecureString
        assert lab.handlers.servers[host].has_proxy_password
    recap = json.loads(result.stdout)["recap"]
    assert recap["wsus-02"]["skipped"] == 1 and "wsus-root" not in recap


def test_every_shipped_playbook_still_runs(lab_files, monkeypatch):
    lab, inventory_path = lab_files
    monkeypatch.setenv("WSUS_PROXY_PASSWORD", "Shipped-Proxy-Pw-1")
    extra = {
        "set-proxy.yml": {"proxy_name": "proxy.corp", "proxy_user": "svc"},
        "set-update-source.yml": {"upstream": "wsus-root"},
        "stagger-schedules.yml": {"stagger_window": "18:00-12:00", "stagger_max_concurrent": 2},
        "decline-missing-updates.yml": {"decline_all_missing": True},  # it declines only when told which
    }
    limits = {"set-update-source.yml": "branch"}  # the root cannot be its own upstream
    shipped = sorted((ROOT / "playbooks").glob("*.yml"), key=lambda p: p.name != "designate-replicas.yml")
    assert len(shipped) >= 11
    for path in shipped:  # the hierarchy first, for real, so that diagnose finds it as the inventory says
        inventory = inventory_from_dict(lab_inventory_data(lab), str(inventory_path), extra.get(path.name))
        check = path.name != "designate-replicas.yml"
        result = Runner(inventory, load_playbook(path), check=check, limit=limits.get(path.name)).run()
        assert result.exit_code == exitcodes.OK, (path.name, result.document())
        assert result.recap, path.name


HOSTILE = [
    "{{ ''.__class__ }}",
    "{{ range(10**9) | list }}",
    "{{ cycler.__init__ }}",
    "{% include 'hostile.yml' %}",  # the playbook itself: a recursive include
    "{{ groups.all.append('evil') }}",
    "{{ ansible_password }}",  # a secret into a plain argument
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("expression", HOSTILE)
def test_hostile_expressions_fail_with_one_line_before_any_server_is_contacted(
    lab_files, tmp_path, monkeypatch, expression
):
    lab, inventory = lab_files
    calls = record_invocations(lab, monkeypatch)
    playbook = tmp_path / "hostile.yml"
    task = {"name": "hostile", "proxy": {"enabled": True, "name": "p", "user": expression}}
    playbook.write_text(yaml.safe_dump([{"name": "evil", "hosts": "all", "tasks": [task]}]))
    result = wsusauto("run", str(playbook), "-i", str(inventory))
    assert result.returncode == exitcodes.USAGE, result.stdout + result.stderr
    # the lab inventory's own warning (its password is in clear) aside, one line
    lines = [line for line in result.stderr.strip().splitlines() if "[warning" not in line]
    assert len(lines) == 1, lines
    # an include is refused as the file is read, the rest when the first host's arguments are
    where = "hostile.yml: play 1 (evil), task 1 (hostile)" + (
        "" if "include" in expression else ", host wsus-01"
    )
    assert where + ": " in lines[0]
    assert lab.password not in result.stdout + result.stderr
    assert calls == []  # nothing reached any server
