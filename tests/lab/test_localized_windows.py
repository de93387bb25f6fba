"""Localized Windows over the lab: German and French servers name accounts, the built-in computer
groups and services in their own language; wsusauto decides by SID and group id, so it diagnoses,
fixes and administers them as it does an English server."""

from __future__ import annotations

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.client.snippets import SnippetRegistry, registry, snippets_dir
from wsusauto.diagnose import diagnose_fleet, fix_fleet
from wsusauto.errors import RemoteError
from wsusauto.operations import OperationRefused, run_operation
from wsusauto.state.facts import gather_facts

GROUPS = {"Servers": ["srv1.corp.example"], "All Computers": ["srv1.corp.example", "pc7.corp.example"]}


@pytest.fixture(scope="module")
def lab(make_module_lab):
    return make_module_lab(
        {
            "servers": [
                {"name": "wsus-de", "locale": "de-DE", "faults": ["content_acl_missing"]},
                {"name": "wsus-de-ok", "locale": "de-DE"},
                {"name": "wsus-fr", "locale": "fr-FR", "initial": {"ComputerTargetGroups": GROUPS}},
                {"name": "wsus-en", "initial": {"ComputerTargetGroups": GROUPS}},
                {"name": "wsus-de-range", "locale": "de-DE", "faults": ["range_header_unsupported"]},
                {"name": "wsus-fr-proxy", "locale": "fr-FR", "faults": ["proxy_credentials_expired"]},
                {
                    "name": "wsus-de-both",
                    "locale": "de-DE",
                    "faults": ["range_header_unsupported", "content_acl_missing"],
                },
            ]
        }
    )


def _session(lab, name, snippets=None):
    inventory = lab_inventory(lab)
    return Session(name, inventory.connection_options(inventory.hosts[name]), snippets=snippets)


def _checks(diagnosis, host):
    return {f.check for f in diagnosis.findings.get(host, [])}


def test_german_accounts_are_read_by_sid(lab):
    with _session(lab, "wsus-de-ok") as session:
        facts = gather_facts(session)
    by_sid = {rule.sid: rule.identity_reference for rule in facts.content_dir_acl}
    assert by_sid["S-1-5-20"] == "NT-AUTORITÄT\\NETZWERKDIENST"
    assert by_sid["S-1-5-32-545"] == "VORDEFINIERT\\Benutzer"


def test_a_german_server_whose_acl_is_right_is_not_flagged(lab):
    inventory = lab_inventory(lab)
    diagnosis = diagnose_fleet(inventory, [inventory.hosts["wsus-de-ok"]], forks=1)
    assert not diagnosis.failed and not diagnosis.unreachable
    assert _checks(diagnosis, "wsus-de-ok") == set()


def test_a_german_server_missing_network_service_is_diagnosed_and_fixed(lab):
    inventory = lab_inventory(lab)
    hosts = [inventory.hosts["wsus-de"]]
    diagnosis = diagnose_fleet(inventory, hosts, forks=1)
    [finding] = [f for f in diagnosis.findings["wsus-de"] if f.check == "content-permissions"]
    assert finding.evidence["missing_read"] == ["S-1-5-20", "S-1-5-32-545"]
    results = fix_fleet(inventory, diagnosis, forks=1)
    assert [(r.operation, r.status) for r in results["wsus-de"] if r.operation == "content_permissions"] == [
        ("content_permissions", "changed")
    ]
    again = diagnose_fleet(inventory, hosts, forks=1)
    assert "content-permissions" not in _checks(again, "wsus-de")
    with _session(lab, "wsus-de") as session:
        accounts = {rule.identity_reference for rule in gather_facts(session).content_dir_acl}
    assert {"NT-AUTORITÄT\\NETZWERKDIENST", "VORDEFINIERT\\Benutzer"} <= accounts


def test_french_computer_groups_work_by_id(lab):
    with _session(lab, "wsus-fr") as session:
        before = gather_facts(session)
        assert before.computer_target_groups["Tous les ordinateurs"] == (
            "pc7.corp.example",
            "srv1.corp.example",
        )
        assert "All Computers" not in before.computer_target_groups
        result = run_operation(
            session, "computer_groups", {"group": "Servers", "computers": ["PC7.corp.example"]}
        )
        after = gather_facts(session)
        with pytest.raises(OperationRefused, match="WSUS manages"):
            run_operation(
                session,
                "computer_groups",
                {"group": "Tous les ordinateurs", "computers": ["pc7.corp.example"]},
            )
    assert result.changed
    assert set(after.computer_target_groups["Servers"]) == {"srv1.corp.example", "pc7.corp.example"}
    assert after.all_computers == ("pc7.corp.example", "srv1.corp.example")


@pytest.fixture(scope="module")
def snippets_finding_all_computers_by_name(tmp_path_factory):
    """The shipped snippets with set_computer_group_membership finding All Computers by its English name."""
    directory = tmp_path_factory.mktemp("by-name")
    by_id = "    if ($group.Id -eq $allComputersId) { $allComputers = $group }\n"
    by_name = "    if ([string]$group.Name -eq 'All Computers') { $allComputers = $group }\n"
    for path in snippets_dir().glob("*.ps1"):
        text = path.read_bytes().decode("utf-8")
        if path.stem == "set_computer_group_membership":
            assert by_id in text
            text = text.replace(by_id, by_name)
        (directory / path.name).write_bytes(text.encode("utf-8"))
    old = SnippetRegistry(directory)
    assert old["set_computer_group_membership"].text != registry()["set_computer_group_membership"].text
    return old


@pytest.mark.parametrize(("host", "works"), [("wsus-fr", False), ("wsus-en", True)])
def test_finding_all_computers_by_its_english_name_fails_on_french_windows(
    lab, snippets_finding_all_computers_by_name, monkeypatch, host, works
):
    old = snippets_finding_all_computers_by_name
    monkeypatch.setattr(lab.handlers, "snippets", old)
    with _session(lab, host, old) as session:
        groups = gather_facts(session).computer_target_groups
        call = {
            "GroupName": "Servers",
            "ComputerNames": ["pc7.corp.example"],
            "CreateGroup": False,
            "RemoveFromGroupName": "",
            "RemoveComputerNames": [],
        }
        if works:
            session.invoke("set_computer_group_membership", **call)
        else:
            with pytest.raises(RemoteError, match="null-valued expression"):
                session.invoke("set_computer_group_membership", **call)
            assert gather_facts(session).computer_target_groups == groups  # nothing half-applied


def test_service_and_event_texts_are_localized_but_names_and_ids_are_not(lab):
    server = lab.handlers.servers["wsus-fr"]
    server.change_service("BITS", state="Stopped")
    server.change_service("BITS", state="Running")
    [(event_id, _time, message), *_] = server.service_events()
    assert event_id == 7036
    assert message == (
        "Le service Service de transfert intelligent en arrière-plan est entré dans l'état : "
        "En cours d'exécution."
    )
    with _session(lab, "wsus-fr") as session:
        facts = gather_facts(session)
    assert facts.services["BITS"].state == "Running"  # service names and states are not translated


def test_localized_event_and_error_texts_are_diagnosed_by_id_and_status(lab):
    inventory = lab_inventory(lab)
    hosts = [inventory.hosts[h] for h in ("wsus-de-both", "wsus-de-range", "wsus-fr-proxy")]
    diagnosis = diagnose_fleet(inventory, hosts, forks=1)
    [range_finding] = [f for f in diagnosis.findings["wsus-de-range"] if f.check == "range-protocol"]
    assert range_finding.evidence["message"].startswith("Fehler beim Herunterladen der Inhaltsdatei.")
    assert "proxy-settings" in _checks(diagnosis, "wsus-fr-proxy")
    # Downloads that fail for want of Read on the content folder get that finding first, not the
    # proxy's, though the server logged event 364 too.
    assert {"content-permissions"} <= _checks(diagnosis, "wsus-de-both")
    assert "range-protocol" not in _checks(diagnosis, "wsus-de-both")
