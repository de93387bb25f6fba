"""The upstream connection test through a proxy, over the wire: a server that goes through a proxy
has the proxy's name and port tried (WSUS connects to the proxy, the proxy to the upstream), says
so, and never reports the upstream's port as closed from where it is not tried."""

from __future__ import annotations

from tests.lab_fixtures import lab_inventory
from wsusauto.diagnose import diagnose_fleet
from wsusauto.lab.topology import topology_from_dict

PROXY = {
    "UseProxy": True,
    "ProxyName": "proxy.branch.example",
    "ProxyServerPort": 3128,
    "AnonymousProxyAccess": True,
}


def _downstream(name: str, initial: dict | None = None, faults: list | None = None) -> dict:
    configured = {
        "SyncFromMicrosoftUpdate": False,
        "UpstreamWsusServerName": "wsus-root",
        "IsReplicaServer": True,
    }
    return {
        "name": name,
        "upstream": "wsus-root",
        "replica": True,
        "initial": {**configured, **(initial or {})},
        "faults": faults or [],
    }


def test_through_a_proxy_the_proxy_is_tried_and_named(make_lab):
    topology = topology_from_dict(
        {
            "servers": [
                {"name": "wsus-root", "faults": ["upstream_down"]},
                _downstream("wsus-01", initial=PROXY),  # its proxy answers; the upstream's port is its to try
                _downstream("wsus-02", faults=["proxy_down"]),
                _downstream("wsus-03"),  # direct: the closed upstream port is a finding
            ]
        }
    )
    lab = make_lab(topology)
    inventory = lab_inventory(lab)
    diagnosis = diagnose_fleet(inventory, inventory.select("all"), forks=4)
    through = diagnosis.evidence["wsus-01"].upstream_probe
    assert through.through_proxy and (through.proxy_name, through.proxy_port) == (
        "proxy.branch.example",
        3128,
    )
    assert through.proxy_resolved and through.port_tested and through.port_open
    assert "upstream-port" not in {f.check for f in diagnosis.findings["wsus-01"]}

    (down,) = [f for f in diagnosis.findings["wsus-02"] if f.check == "upstream-port"]
    assert down.title == (
        "this server goes through the proxy proxy.corp.example, whose port 8080 does not answer"
    )
    assert down.evidence["through_proxy"] is True and down.evidence["proxy_port"] == 8080
    assert "8530" not in down.title and "proxy settings" in down.remedy
    assert down.evidence["last_sync"]["error"] == "ProxyError"  # the failed sync is this finding's

    (direct,) = [f for f in diagnosis.findings["wsus-03"] if f.check == "upstream-port"]
    assert direct.title == "port 8530 of the upstream wsus-root does not answer from this server"
