"""A change of case only, through the real client: PowerShell's -ne ignores case, so a snippet that
tests ``$config.UpstreamWsusServerName -ne $UpstreamWsusServerName`` would skip the change on a real
server and the product would report that it "did not take effect". The lab compares as the shipped
snippet's own operator does (wsusauto.lab.member_compare), so these tests hold the snippets to a
case-sensitive test (-cne) for the string members they set."""

from __future__ import annotations

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.lab.member_compare import snippet_differs
from wsusauto.operations import run_operation

DOWNSTREAM = {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"}


@pytest.fixture(scope="module")
def lab(make_module_lab):
    servers = [
        {"name": "wsus-root"},
        {"name": "wsus-a", "upstream": "wsus-root", "initial": DOWNSTREAM},
        {
            "name": "wsus-b",
            "upstream": "wsus-root",
            "initial": {**DOWNSTREAM, "UseProxy": True, "ProxyName": "proxy.corp", "ProxyServerPort": 3128},
        },
    ]
    return make_module_lab({"servers": servers})


def session(lab, host: str) -> Session:
    inventory = lab_inventory(lab)
    return Session(host, inventory.connection_options(inventory.hosts[host]))


def test_an_upstream_name_changed_in_case_only_is_saved(lab):
    with session(lab, "wsus-a") as s:
        result = run_operation(s, "update_source", {"source": "upstream", "upstream": "WSUS-ROOT"})
    assert result.changed and [c.member for c in result.changes] == ["UpstreamWsusServerName"]
    assert lab.handlers.servers["wsus-a"].get("UpstreamWsusServerName") == "WSUS-ROOT"


def test_a_proxy_name_changed_in_case_only_is_saved(lab):
    with session(lab, "wsus-b") as s:
        result = run_operation(s, "proxy", {"enabled": True, "name": "Proxy.Corp", "port": 3128})
    assert result.changed and [c.member for c in result.changes] == ["ProxyName"]
    assert lab.handlers.servers["wsus-b"].get("ProxyName") == "Proxy.Corp"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("if ($config.ProxyName -ne $ProxyName) { }", False),
        ("if ($config.ProxyName -ine $ProxyName) { }", False),
        ("if ($config.ProxyName -cne $ProxyName) { }", True),
        ("# $config.ProxyName -ne $ProxyName\nif ($config.ProxyName -cne $ProxyName) { }", True),
    ],
)
def test_the_lab_compares_as_the_scripts_operator_does(script, expected):
    assert snippet_differs(script, "ProxyName", "proxy.corp", "Proxy.Corp") is expected
    assert snippet_differs(script, "ProxyName", "proxy.corp", "other") is True
    assert snippet_differs(script, "ProxyServerPort", 80, 80) is False
