"""Bounded scale: 300 lab endpoints, sharded across worker processes, facts from every one."""

from __future__ import annotations

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.execution.fleet import collect_facts

pytestmark = pytest.mark.slow


def test_facts_from_300_endpoints(make_lab):
    servers = [{"name": "wsus-root"}] + [
        {"name": f"wsus-{i:03d}", "upstream": "wsus-root", "replica": i % 2 == 0} for i in range(1, 300)
    ]
    lab = make_lab({"servers": servers}, workers=2)  # a /24 per 254 servers
    inventory = lab_inventory(lab)
    results = collect_facts(inventory, inventory.select("all"), forks=16)
    assert len(results) == 300
    failures = [(r.host, str(r.error)) for r in results if r.status != "ok"]
    assert failures == []
    assert [r.facts.name for r in results] == [s["name"] for s in servers]
