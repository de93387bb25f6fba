"""Exact attempt counts and intervals of the documented policy against the lab's sync failures."""

from __future__ import annotations

import time

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.operations.synchronize import Synchronize

DOWNSTREAM = {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"}


@pytest.fixture(scope="module")
def lab(make_module_lab):
    servers = [
        {"name": "wsus-root"},
        {"name": "wsus-hidden", "faults": ["upstream_unresolvable"]},
        {"name": "wsus-off", "faults": ["upstream_down"]},
        {"name": "ok", "upstream": "wsus-root", "initial": DOWNSTREAM},
        {
            "name": "flaky",
            "upstream": "wsus-root",
            "initial": DOWNSTREAM,
            "faults": [{"name": "transient_sync_failure", "attempts": 1}],
        },
        {
            "name": "deferred",
            "upstream": "wsus-root",
            "faults": [{"name": "transient_sync_failure", "attempts": 9}],
            "initial": {
                **DOWNSTREAM,
                "SynchronizeAutomatically": True,
                "SynchronizeAutomaticallyTimeOfDay": "04:30:00",
            },
        },
        {
            "name": "proxy",
            "upstream": "wsus-root",
            "initial": DOWNSTREAM,
            "faults": ["proxy_credentials_expired"],
        },
        {"name": "mismatch", "upstream": "wsus-root", "initial": DOWNSTREAM, "faults": ["storage_mismatch"]},
        {
            "name": "missing",
            "upstream": "wsus-root",
            "initial": DOWNSTREAM,
            "faults": [{"name": "updates_missing_upstream", "attempts": 1}],
        },
        {
            "name": "unresolved",
            "upstream": "wsus-hidden",
            "initial": {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-hidden"},
        },
        {
            "name": "cut-off",
            "upstream": "wsus-off",
            "initial": {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-off"},
        },
    ]
    # The lab's clock 10x: each sync still starts a moment after StartSynchronization() and the
    # policy must still recognise its own, but three attempts no longer wait out 1-4 s each.
    lab = make_module_lab({"servers": servers}, time_scale=10)
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=0.2)
    return lab


def synchronize(lab, host):
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(min(seconds, 0.05))  # the lab's syncs are short; retry waits are only recorded

    inventory = lab_inventory(lab)
    with Session(host, inventory.connection_options(inventory.hosts[host])) as session:
        result = Synchronize(sleep=sleep).run(session, {"poll_interval": "0.1s", "retry_interval": "15m"})
    retry_waits = [w for w in waits if w > 60]
    return result, [a["result"] + ":" + a["error"] for a in result.details["attempts"]], retry_waits


@pytest.mark.parametrize(
    ("host", "attempts", "failed"),
    [
        ("ok", ["Succeeded:NotApplicable"], False),
        ("flaky", ["Failed:UssNotFound", "Succeeded:NotApplicable"], False),
        ("missing", ["Failed:LocalUpdateMissingForApproval", "Succeeded:NotApplicable"], False),
        ("deferred", ["Failed:UssNotFound"] * 3, True),
        ("unresolved", ["Failed:UssNotFound"] * 3, True),
        ("cut-off", ["Failed:UssCommunicationError"] * 3, True),
        ("proxy", ["Failed:ProxyError"], True),
        ("mismatch", ["Failed:UssOtherError"] * 3, True),
    ],
)
def test_attempts_and_intervals(lab, host, attempts, failed):
    result, seen, retry_waits = synchronize(lab, host)
    assert seen == attempts
    assert result.failed is failed
    assert len(retry_waits) == len(attempts) - 1  # a wait before each retry, none after the last
    assert all(14.5 * 60 <= w <= 15.5 * 60 for w in retry_waits)  # "approximately fifteen minutes"
    if host == "deferred":
        assert "next scheduled time" in result.message and "04:30 UTC" in result.message
    if host == "proxy":
        assert "retrying cannot fix this" in result.message
    if host == "mismatch":  # retried as any upstream error; the message points at the storage check
        assert "retrying cannot fix this" not in result.message and "storage-option" in result.message
