"""storage_option over the lab: the servers that differ from the root of their hierarchy take its
update storage option ("Synchronization issues": one option for the entire hierarchy), and Save()'s
rule that storing on Microsoft Update needs all update languages is kept by the lab as by WSUS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lab_fixtures import inventory_file, lab_inventory
from tests.lab_fixtures import run_cli as wsusauto
from wsusauto.client.session import Session
from wsusauto.errors import RemoteError
from wsusauto.operations import OperationRefused, run_operation
from wsusauto.state.facts import gather_facts

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "storage-option.yml"
ON_MU = {"HostBinariesOnMicrosoftUpdate": True, "AllUpdateLanguagesEnabled": True}


def _downstream(name: str, upstream: str, **extra):
    initial = {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": upstream}
    initial.update(extra.pop("initial", {}))
    return {"name": name, "upstream": upstream, "initial": initial, **extra}


@pytest.fixture(scope="module")
def lab(make_module_lab):
    lab = make_module_lab(
        {
            "servers": [
                {"name": "wsus-root"},  # stores locally
                _downstream("wsus-a", "wsus-root", faults=["storage_mismatch"]),  # on Microsoft Update
                _downstream("wsus-b", "wsus-root"),
                _downstream("wsus-a1", "wsus-a", replica=True, initial={"IsReplicaServer": True, **ON_MU}),
                {"name": "wsus-mu", "initial": ON_MU},  # a second hierarchy, on Microsoft Update
                _downstream("wsus-mu-all", "wsus-mu", initial={"AllUpdateLanguagesEnabled": True}),
                _downstream("wsus-mu-en", "wsus-mu"),  # English only: cannot store on Microsoft Update
            ]
        }
    )
    lab.inventory_path = inventory_file(lab)
    return lab


def _storage(lab) -> dict[str, bool]:
    return {n: s.get("HostBinariesOnMicrosoftUpdate") for n, s in lab.handlers.servers.items()}


def _run(lab, *extra):
    result = wsusauto("run", str(PLAYBOOK), "-i", str(lab.inventory_path), "--json", *extra)
    return result, json.loads(result.stdout) if result.stdout else None


def _changes(document):
    return {
        host: results[0]["diff"]["after"]
        for host, results in document["hosts"].items()
        if results and results[0]["changed"]
    }


def test_only_the_servers_that_differ_from_their_root_change(lab):
    before = _storage(lab)
    assert before["wsus-a"] and before["wsus-a1"] and not before["wsus-root"]

    # --limit without the root: the root's option is unknown, so nothing changes and it says why.
    limited, document = _run(lab, "--limit", "wsus-a")
    assert limited.returncode == 2
    assert "wsus-root" in document["hosts"]["wsus-a"][0]["message"]
    assert "is not known" in document["hosts"]["wsus-a"][0]["message"]
    assert _storage(lab) == before

    check, planned = _run(lab, "--check")
    assert _storage(lab) == before  # --check changed nothing
    applied, done = _run(lab)
    after = _storage(lab)

    expected = {
        "wsus-a": {"HostBinariesOnMicrosoftUpdate": False},
        "wsus-a1": {"HostBinariesOnMicrosoftUpdate": False},  # its root is wsus-root, not wsus-a
        "wsus-mu-all": {"HostBinariesOnMicrosoftUpdate": True},
    }
    assert _changes(planned) == expected and _changes(done) == expected
    assert after == {**before, "wsus-a": False, "wsus-a1": False, "wsus-mu-all": True}
    # English only: refused with Save()'s rule, unchanged, and the host fails (exit 2).
    refused = done["hosts"]["wsus-mu-en"][0]
    assert refused["status"] == "failed" and "AllUpdateLanguagesEnabled" in refused["message"]
    assert check.returncode == applied.returncode == 2

    again, second = _run(lab)
    assert again.returncode == 2 and _changes(second) == {}
    assert sum(c["changed"] for c in second["recap"].values()) == 0
    assert second["hosts"]["wsus-mu-en"][0]["status"] == "failed"  # still refused, still unchanged


def test_a_named_option_is_set_where_it_differs_and_refused_where_save_would_be(lab):
    inventory = lab_inventory(lab)
    with Session("wsus-mu-all", inventory.connection_options(inventory.hosts["wsus-mu-all"])) as session:
        check = run_operation(session, "storage_option", {"storage": "local"}, check=True)
        assert check.changed and gather_facts(session).host_binaries_on_microsoft_update
        first = run_operation(session, "storage_option", {"storage": "local"})
        again = run_operation(session, "storage_option", {"storage": "local"})
        assert first.changed and not again.changed
        assert first.diff == {
            "before": {"HostBinariesOnMicrosoftUpdate": True},
            "after": {"HostBinariesOnMicrosoftUpdate": False},
        }
        assert not gather_facts(session).host_binaries_on_microsoft_update
    with Session("wsus-b", inventory.connection_options(inventory.hosts["wsus-b"])) as session:
        # English only: refused before anything is sent, in check mode too.
        with pytest.raises(OperationRefused, match="enable all languages"):
            run_operation(session, "storage_option", {"storage": "microsoft_update"}, check=True)
        assert not gather_facts(session).host_binaries_on_microsoft_update


def test_the_lab_refuses_save_of_microsoft_update_storage_without_all_languages(lab):
    inventory = lab_inventory(lab)
    with Session("wsus-mu-en", inventory.connection_options(inventory.hosts["wsus-mu-en"])) as session:
        with pytest.raises(RemoteError, match=r'Exception calling "Save".*all update languages'):
            session.invoke("set_storage_option", HostBinariesOnMicrosoftUpdate=True, ReadyTimeoutSeconds=5)
        assert not gather_facts(session).host_binaries_on_microsoft_update
