"""decline_missing_updates over the lab: the updates a downstream server failed to download because
its upstream does not have them are canceled and declined, by id or all of them, on an autonomous
server only; --check changes nothing; a second run changes nothing; the next sync succeeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lab_fixtures import inventory_file, lab_inventory
from tests.lab_fixtures import run_cli as wsusauto
from wsusauto.client.session import Session
from wsusauto.errors import RemoteError
from wsusauto.lab import update_api
from wsusauto.lab.evidence import retired_update
from wsusauto.operations import run_operation

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "decline-missing-updates.yml"
RETIRED = [retired_update(n)["UpdateId"] for n in range(5)]  # the fault's updates, gone upstream


def _downstream(name, **extra):
    initial = {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"}
    initial.update(extra.pop("initial", {}))
    return {"name": name, "upstream": "wsus-root", "initial": initial, **extra}


@pytest.fixture(scope="module")
def lab(make_module_lab):
    missing = {"name": "updates_missing_upstream", "on_upstream": False}
    topology = {
        "servers": [
            {"name": "wsus-root"},
            _downstream("wsus-auto", faults=[missing]),
            _downstream("wsus-rep", replica=True, initial={"IsReplicaServer": True}, faults=[missing]),
            _downstream("wsus-fine"),
        ]
    }
    lab = make_module_lab(topology, time_scale=10)  # saves process and syncs start late, 10x
    lab.inventory_path = inventory_file(lab)
    return lab


def _updates(lab, host):
    return {u["UpdateId"]: u for u in lab.handlers.servers[host].updates() if u["UpdateId"] in RETIRED}


def _run(lab, *extra):
    result = wsusauto("run", str(PLAYBOOK), "-i", str(lab.inventory_path), "--json", *extra)
    assert result.stdout, result.stderr
    return result, json.loads(result.stdout)


def _result(document, host):
    (only,) = document["hosts"][host]
    return only


def test_named_updates_are_canceled_and_declined_the_rest_stay(lab):
    named = f"decline_updates=[{RETIRED[0]}, {RETIRED[1].upper()}]"
    before = _updates(lab, "wsus-auto")
    assert all(u["State"] == "Failed" and not u["IsDeclined"] for u in before.values())

    check, planned = _run(lab, "--limit", "wsus-auto,wsus-root", "-e", named, "--check")
    assert check.returncode == 0, check.stdout
    assert _updates(lab, "wsus-auto") == before  # --check changed nothing
    applied, done = _run(lab, "--limit", "wsus-auto,wsus-root", "-e", named)
    assert applied.returncode == 0, applied.stderr

    diff = _result(done, "wsus-auto")["diff"]
    assert _result(planned, "wsus-auto")["diff"] == diff
    assert sorted(diff["after"]) == sorted(f"Updates[{i}]" for i in RETIRED[:2])
    assert all(d == {"Title": before[i]["Title"], "IsDeclined": True} for i, d in _by_id(diff["after"]))
    after = _updates(lab, "wsus-auto")
    for update_id in RETIRED[:2]:
        assert after[update_id]["IsDeclined"] and after[update_id]["State"] == "Canceled"
    for update_id in RETIRED[2:]:  # not named: untouched
        assert after[update_id] == before[update_id]
    assert not _result(done, "wsus-root")["changed"]  # nothing failed there

    again, second = _run(lab, "--limit", "wsus-auto,wsus-root", "-e", named)
    assert again.returncode == 0 and not _result(second, "wsus-auto")["changed"]


def _by_id(after):
    return [(member[len("Updates[") : -1], value) for member, value in after.items()]


def test_all_missing_declines_the_rest_and_the_next_sync_succeeds(lab):
    # Those the test before declined stay as they are (all five when this test runs alone).
    rest = [i for i, u in _updates(lab, "wsus-auto").items() if not u["IsDeclined"]]
    assert rest
    check, planned = _run(lab, "-e", "decline_all_missing=true", "--check")
    assert sorted(_result(planned, "wsus-auto")["diff"]["after"]) == sorted(f"Updates[{i}]" for i in rest)
    applied, done = _run(lab, "-e", "decline_all_missing=true")
    assert all(u["IsDeclined"] for u in _updates(lab, "wsus-auto").values())
    assert not _result(done, "wsus-fine")["changed"]
    assert _result(done, "wsus-fine")["status"] == "ok"

    # The replica is refused with the reason, and nothing of its state changed.
    refused = _result(done, "wsus-rep")
    assert refused["status"] == "failed" and "inherits approvals" in refused["message"]
    assert not any(u["IsDeclined"] for u in _updates(lab, "wsus-rep").values())
    assert applied.returncode == check.returncode == 2  # the replica's refusal

    again, second = _run(lab, "-e", "decline_all_missing=true")
    assert again.returncode == 2  # the replica, still refused
    assert sum(c["changed"] for c in second["recap"].values()) == 0

    inventory = lab_inventory(lab)
    with Session("wsus-auto", inventory.connection_options(inventory.hosts["wsus-auto"])) as session:
        sync = run_operation(session, "synchronize", {"timeout": "2m", "poll_interval": "1s"})
    assert not sync.failed, sync.message


def test_an_update_the_upstream_has_is_left_alone_with_the_reason(lab):
    # wsus-auto has updates its upstream has too (the catalog both started with).
    here = {u["UpdateId"]: u for u in lab.handlers.servers["wsus-auto"].updates()}
    there = next(u["UpdateId"] for u in lab.handlers.servers["wsus-root"].updates() if u["UpdateId"] in here)
    result, document = _run(lab, "--limit", "wsus-auto,wsus-root", "-e", f"decline_updates=[{there}]")
    assert result.returncode == 0, result.stdout
    auto = _result(document, "wsus-auto")
    assert not auto["changed"] and any(f"{there} left alone" in w for w in auto["warnings"])
    assert not {u["UpdateId"]: u for u in lab.handlers.servers["wsus-auto"].updates()}[there]["IsDeclined"]


def test_without_the_upstream_in_the_play_nothing_is_declined(lab):
    server = lab.handlers.servers["wsus-rep"]
    before = {u["UpdateId"]: u["IsDeclined"] for u in server.updates()}
    result, document = _run(lab, "--limit", "wsus-rep", "-e", "decline_all_missing=true")
    assert result.returncode == 2 and "replica" in _result(document, "wsus-rep")["message"]
    assert {u["UpdateId"]: u["IsDeclined"] for u in server.updates()} == before


def test_bad_ids_are_one_clear_line_before_anything_runs(lab):
    result = wsusauto(
        "run", str(PLAYBOOK), "-i", str(lab.inventory_path), "-e", "decline_updates=[not-a-guid]"
    )
    assert result.returncode == 1 and "must be a list of update ids" in result.stderr
    both = wsusauto(
        "run",
        str(PLAYBOOK),
        "-i",
        str(lab.inventory_path),
        "-e",
        f"decline_updates=[{RETIRED[0]}]",
        "-e",
        "decline_all_missing=true",
    )
    assert both.returncode == 1 and "either updates" in both.stderr


def test_the_lab_refuses_declines_on_a_replica_and_looks_each_update_up_by_id(lab):
    server = lab.handlers.servers["wsus-rep"]
    inventory = lab_inventory(lab)
    with Session("wsus-rep", inventory.connection_options(inventory.hosts["wsus-rep"])) as session:
        with pytest.raises(RemoteError, match="replica"):
            session.invoke("decline_updates", UpdateIds=RETIRED[:1], Apply=True)
        before = update_api.materialised(server)
        read = session.invoke("decline_updates", read_only=True, UpdateIds=RETIRED[:2], Apply=False)
    assert update_api.materialised(server) - before == 2  # GetUpdate per id, not GetUpdates()
    assert len(read["Updates"]) == 2 and not any(u["IsDeclined"] for u in read["Updates"])
