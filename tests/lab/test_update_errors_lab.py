"""Per-update import errors over the wire: ISynchronizationInfo.UpdateErrors holds
SynchronizationUpdateErrorInfo objects whose UpdateId is an UpdateRevisionId, so facts and the
synchronization status carry the update's Guid and revision, never the class name a [string] cast
of the object gives."""

from __future__ import annotations

import json

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.lab import update_errors
from wsusauto.lab.catalog import catalog
from wsusauto.lab.topology import topology_from_dict
from wsusauto.operations import run_operation
from wsusauto.state.facts import gather_facts

FAILING = [update.id for update in catalog()[-3:]]


def test_facts_and_the_sync_status_carry_each_failed_update_s_guid_and_revision(make_lab):
    topology = topology_from_dict(
        {"servers": [{"name": "wsus-root", "faults": [{"name": "update_import_errors", "count": 3}]}]}
    )
    lab = make_lab(topology)
    lab.handlers.servers["wsus-root"].set(SyncDurationSeconds=0.2)
    inventory = lab_inventory(lab)
    with Session("wsus-root", inventory.connection_options(inventory.hosts["wsus-root"])) as session:
        seeded = gather_facts(session).last_synchronization_info
        assert seeded.result == "Succeeded"
        assert [(e.update_id, e.revision_number) for e in seeded.update_errors] == list(
            zip(FAILING, (200, 201, 202), strict=True)
        )
        assert {e.error for e in seeded.update_errors} == {"DependencyNotFound"}

        result = run_operation(session, "synchronize", {"poll_interval": "1s", "timeout": "60s"})
        assert not result.failed
        status = session.invoke("get_synchronization_status", MaxUpdateErrors=2)
        errors = status["LastSynchronizationInfo"]["UpdateErrors"]
        assert [(e["UpdateId"], e["RevisionNumber"]) for e in errors] == [
            (FAILING[0], 200),
            (FAILING[1], 201),
        ]
        assert update_errors.UPDATE_REVISION_ID not in json.dumps(status)


def test_the_lab_gives_a_cast_of_the_object_the_class_name_as_powershell_does():
    text = "foreach ($e in $info.UpdateErrors) {\n  $x += @{\n    A = [string]$e.UpdateId\n"
    text += "    B = [string]$e.UpdateId.UpdateId\n    C = [int]$e.UpdateId.RevisionNumber\n"
    text += "    D = [string]$e.UpdateId.NoSuchMember\n  }\n}\n"
    stored = {
        "UpdateId": FAILING[0].upper(),
        "RevisionNumber": 7,
        "Error": "MetadataInvalid",
        "ErrorText": "",
    }
    assert update_errors.project(text, [stored]) == [
        {"A": "Microsoft.UpdateServices.Administration.UpdateRevisionId", "B": FAILING[0], "C": 7, "D": ""}
    ]
