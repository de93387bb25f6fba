"""Failed downloads stay failed over the wire until resumed: a synchronization after the cause is
fixed leaves them failed; the resume_downloads playbook (check, apply, idempotent) brings them back,
and while the cause stands it fails the task, since the downloads fail again."""

from __future__ import annotations

import json
from pathlib import Path

from tests.lab_fixtures import inventory_file, lab_inventory, run_cli
from wsusauto.client.session import Session
from wsusauto.lab.topology import topology_from_dict
from wsusauto.operations import run_operation
from wsusauto.state.facts import SETUP_REGISTRY_PATH, gather_facts

PLAYBOOK = str(Path(__file__).resolve().parents[2] / "playbooks" / "resume-downloads.yml")
READERS = ["S-1-5-20", "S-1-5-32-545"]  # NETWORK SERVICE, Users


def _failed(session: Session) -> int:
    return gather_facts(session).update_server_status.updates_with_server_errors_count


def test_a_fixed_cause_and_a_sync_leave_failed_downloads_failed_until_resumed(make_lab):
    topology = topology_from_dict({"servers": [{"name": "wsus-root", "faults": ["content_acl_missing"]}]})
    lab = make_lab(topology)
    lab.handlers.servers["wsus-root"].set(SyncDurationSeconds=0.2)
    path = inventory_file(lab)
    inventory = lab_inventory(lab)
    with Session("wsus-root", inventory.connection_options(inventory.hosts["wsus-root"])) as session:
        assert _failed(session) == 12
        blocked = run_cli("run", PLAYBOOK, "-i", str(path), "--json")
        assert blocked.returncode == 2  # the folder still lacks Read: they fail again
        (task,) = json.loads(blocked.stdout)["hosts"]["wsus-root"]
        assert "12 of 12 resumed download(s) failed again" in task["message"]

        # The cause fixed by hand, then a synchronization: the failed downloads stay failed.
        session.invoke("grant_content_read", SetupRegistryPath=SETUP_REGISTRY_PATH, Sids=READERS)
        sync = run_operation(session, "synchronize", {"poll_interval": "1s", "timeout": "60s"})
        assert not sync.failed and _failed(session) == 12

        checked = run_cli("run", PLAYBOOK, "-i", str(path), "--check", "--json")
        (task,) = json.loads(checked.stdout)["hosts"]["wsus-root"]
        assert checked.returncode == 0 and task["changed"] and _failed(session) == 12
        applied = run_cli("run", PLAYBOOK, "-i", str(path), "--json")
        (task,) = json.loads(applied.stdout)["hosts"]["wsus-root"]
        assert applied.returncode == 0 and task["changed"]
        assert task["diff"] == {
            "before": {"UpdatesWithServerErrorsCount": 12},
            "after": {"UpdatesWithServerErrorsCount": 0},
        }
        status = gather_facts(session).update_server_status
        assert status.updates_with_server_errors_count == 0 and status.updates_needing_files_count == 0
        again = run_cli("run", PLAYBOOK, "-i", str(path), "--json")
        (task,) = json.loads(again.stdout)["hosts"]["wsus-root"]
        assert again.returncode == 0 and not task["changed"]
