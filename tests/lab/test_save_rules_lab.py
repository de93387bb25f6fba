"""WSUS's save rules on the lab, through the real client (wsus-api.md 1.2a, P5).

After a configuration Save() the server is ProcessingSave for a while; Save() and
StartSynchronization() then throw, and so do both Save()s while a synchronization runs. Every
writing snippet waits for the server to be free (bounded), or gives up with a message the product
reports as retryable, having changed nothing.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.client.snippets import registry
from wsusauto.config.inventory import inventory_from_dict
from wsusauto.config.playbook import playbook_from_data
from wsusauto.config.secrets import Secret
from wsusauto.errors import ServerBusy
from wsusauto.execution.runner import Runner
from wsusauto.lab import saves, sync
from wsusauto.operations import run_operation
from wsusauto.state.facts import facts_parameters

DOWNSTREAM = {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"}
NAMES = ("wsus-a", "wsus-b", "wsus-c", "wsus-d", "wsus-e", "wsus-f", "wsus-g")


@pytest.fixture(scope="module")
def lab(make_module_lab):
    servers = [{"name": "wsus-root"}] + [
        {"name": name, "upstream": "wsus-root", "initial": DOWNSTREAM} for name in NAMES
    ]
    return make_module_lab({"servers": servers})


def session(lab, host: str) -> Session:
    inventory = lab_inventory(lab)
    return Session(host, inventory.connection_options(inventory.hosts[host]))


def sync_running(server, seconds: float, monkeypatch) -> None:
    """A synchronization of ``seconds`` running on the server (the lab's own, as if scheduled). It
    starts at once: the start's lag is test_sync_start_lag_lab.py's subject, here only a wait."""
    server.set(SyncDurationSeconds=seconds)
    with monkeypatch.context() as quick:
        quick.setattr(sync, "START_DELAY_SECONDS", (0.1, 0.1))
        assert sync.start(server, manual=False)
    for _ in range(400):
        if server.get("SynchronizationStatus") == "Running":
            return
        time.sleep(0.05)
    raise AssertionError("the synchronization did not start")


WRITES = [
    ("update_source", "wsus-a", {"source": "upstream", "upstream": "wsus-root", "port": 8531}),
    ("replica", "wsus-b", {"enabled": True}),
    ("proxy", "wsus-c", {"enabled": True, "name": "proxy.corp", "port": 3128, "password": Secret("x")}),
    ("schedule", "wsus-d", {"automatic": True, "time": "03:00"}),
]


def end_the_sync_when_a_change_arrives(lab, host: str, monkeypatch) -> list[str]:
    """The host's synchronization status each time a ``set_*`` snippet reaches it; on the first,
    the running synchronization is let end (half a second on), so the change arrived during it
    whatever the machine's speed, and had to wait."""
    statuses: list[str] = []
    server = lab.handlers.servers[host]
    answer = type(lab.handlers).__call__

    def observing(self, invocation):
        snippet = registry().by_text(invocation.script)
        if invocation.endpoint == host and snippet is not None and snippet.name.startswith("set_"):
            statuses.append(server.get("SynchronizationStatus"))
            server.set(SyncDurationSeconds=0.5)
        return answer(self, invocation)

    monkeypatch.setattr(type(lab.handlers), "__call__", observing)
    return statuses


@pytest.mark.parametrize(("operation", "host", "args"), WRITES, ids=[w[0] for w in WRITES])
def test_a_change_during_a_synchronization_waits_for_its_end(lab, operation, host, args, monkeypatch):
    server = lab.handlers.servers[host]
    sync_running(server, 3600.0, monkeypatch)  # runs until the change arrives
    arrived = end_the_sync_when_a_change_arrives(lab, host, monkeypatch)
    with session(lab, host) as s:
        result = run_operation(s, operation, args)
    assert arrived[:1] == ["Running"]  # the change reached the server during the synchronization
    assert result.changed and not result.failed
    # The save came after the synchronization: it had ended, recorded, when the change was made.
    assert server.get("SynchronizationStatus") == "NotProcessing"
    assert [r["Result"] for r in server.db.sync_history(5)] == ["Succeeded"]


def end_the_save_when_a_write_arrives(lab, host: str, monkeypatch) -> list[tuple[str, str]]:
    """(snippet, configuration state) for each writing snippet that reaches the host; one that meets
    ProcessingSave lets that save's processing end half a second on, so it met the save whatever
    the machine's speed, and had to wait for it."""
    met: list[tuple[str, str]] = []
    server = lab.handlers.servers[host]
    answer = type(lab.handlers).__call__

    def observing(self, invocation):
        snippet = registry().by_text(invocation.script)
        writes = snippet is not None and snippet.name.startswith(("set_", "start_"))
        if invocation.endpoint == host and writes:
            met.append((snippet.name, server.configuration_state()))
            if met[-1][1] == "ProcessingSave":
                soon = server.clock() + dt.timedelta(seconds=0.5)
                server.set(**{saves.SAVE_PROCESSING_UNTIL: soon.isoformat()})
        return answer(self, invocation)

    monkeypatch.setattr(type(lab.handlers), "__call__", observing)
    return met


def test_a_configuration_save_processes_and_the_next_save_and_start_wait_for_it(lab, monkeypatch):
    monkeypatch.setattr(saves, "SAVE_PROCESSING_SECONDS", (3600.0, 3600.0))  # until the next write comes
    monkeypatch.setattr(sync, "START_DELAY_SECONDS", (0.1, 0.1))  # the start's lag is not this test's
    server = lab.handlers.servers["wsus-e"]
    met = end_the_save_when_a_write_arrives(lab, "wsus-e", monkeypatch)
    with session(lab, "wsus-e") as s:
        run_operation(s, "update_source", {"source": "upstream", "upstream": "wsus-root", "port": 8531})
        state = s.invoke("get_facts", read_only=True, **facts_parameters())["UpdateServerConfigurationState"]
        assert state == "ProcessingSave"  # the save's background process, as on a real server
        replica = run_operation(s, "replica", {"enabled": True})  # Save() again: waits
        assert replica.changed and server.get("IsReplicaServer") is True
        assert server.configuration_state() == "ProcessingSave"
        result = run_operation(s, "synchronize", {"poll_interval": "0.2s", "timeout": "60s"})
    assert not result.failed, result.message  # StartSynchronization() waited for the save too
    assert server.db.sync_history(1)[0]["Result"] == "Succeeded"
    assert met == [
        ("set_update_source", "Ready"),
        ("set_replica", "ProcessingSave"),
        ("start_synchronization", "ProcessingSave"),
    ]


def test_saving_while_busy_is_refused_by_the_lab_as_by_the_api(lab, monkeypatch):
    """The lab's own rules: Save() during ProcessingSave or a sync throws; so does starting a sync
    while a save processes. No wait (ReadyTimeoutSeconds 0)."""
    # The save processes for the whole test, however slow the machine (reset below).
    monkeypatch.setattr(saves, "SAVE_PROCESSING_SECONDS", (3600.0, 3600.0))
    server = lab.handlers.servers["wsus-f"]
    with session(lab, "wsus-f") as s:
        s.invoke("set_replica", IsReplicaServer=True, ReadyTimeoutSeconds=0)
        assert server.configuration_state() == "ProcessingSave"
        with pytest.raises(ServerBusy, match="configuration state is ProcessingSave"):
            s.invoke("set_replica", IsReplicaServer=False, ReadyTimeoutSeconds=0)
        with pytest.raises(ServerBusy, match="WSUS starts no synchronization"):
            s.invoke("start_synchronization", CategoryOnly=False, ReadyTimeoutSeconds=0)
        assert server.get("IsReplicaServer") is True  # nothing half-applied
        assert server.db.sync_history(1) == [] and server.get("SynchronizationStatus") == "NotProcessing"
    server.set(**{saves.SAVE_PROCESSING_UNTIL: None})  # the save's processing ends: leave the server idle


def test_busy_longer_than_the_wait_fails_retryable_and_changes_nothing(lab, monkeypatch):
    server = lab.handlers.servers["wsus-g"]
    before = server.get("SynchronizeAutomatically")
    sync_running(server, 3600.0, monkeypatch)  # a long synchronization
    inventory = inventory_from_dict(lab.inventory(), "<lab>", {"wsus_busy_wait": 2})
    playbook = playbook_from_data(
        [
            {
                "name": "schedule",
                "hosts": "wsus-g",
                "tasks": [{"name": "nightly", "schedule": {"automatic": True}}],
            }
        ]
    )
    result = Runner(inventory, playbook, processes=1).run()
    [task] = result.hosts["wsus-g"]
    assert task.status == "failed" and task.details == {"retryable": True}
    assert "WSUS is busy, nothing was changed; run it again later" in task.message
    assert "synchronization status is Running" in task.message
    assert result.document()["hosts"]["wsus-g"][0]["retryable"] is True
    assert server.get("SynchronizeAutomatically") == before
    server.set(SyncDurationSeconds=0.1)  # let it end
