"""The update lookups on a server the size of a real one: get_failed_updates and find_updates fetch
the updates they need through the real client, never the whole catalog (GetUpdates() on a real
server is tens of thousands of objects; the lab counts every IUpdate a server materialises).

get_failed_updates under both of the lab's readings of GetUpdateEventHistory with Guid.Empty: by
default (the stricter one: wsus-api.md marks "every update" UNSURE) no event names an update and the
snippet searches the approved updates only; with LabEventHistoryAllUpdates the events name them."""

from __future__ import annotations

import uuid

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.lab import update_api
from wsusauto.lab.topology import topology_from_dict
from wsusauto.state.facts import gather_facts
from wsusauto.state.probes import failed_updates, upstream_copies

CATALOG = 20_000
APPROVED = 50
FAILED = 5


@pytest.mark.slow
@pytest.mark.parametrize(
    ("events_name_every_update", "listed_by", "fetched"),
    [(False, "approved-updates", APPROVED), (True, "events", FAILED)],
    ids=["guid-empty-names-none", "guid-empty-names-all"],
)
def test_failed_updates_and_upstream_copies_fetch_only_the_updates_asked_for(
    make_lab, events_name_every_update, listed_by, fetched
):
    status = {"UpdateCount": CATALOG, "ApprovedUpdateCount": APPROVED, "UpdatesWithServerErrorsCount": FAILED}
    initial = {"UpdateServerStatus": status, "LabEventHistoryAllUpdates": events_name_every_update}
    topology = topology_from_dict({"servers": [{"name": "wsus-big", "initial": initial}]}, "<big server>")
    lab = make_lab(topology)
    server = lab.handlers.servers["wsus-big"]
    assert len(server.updates()) == CATALOG
    inventory = lab_inventory(lab)
    with Session("wsus-big", inventory.connection_options(inventory.hosts["wsus-big"])) as session:
        facts = gather_facts(session)
        assert facts.update_server_status.updates_with_server_errors_count == FAILED
        updates, count = failed_updates(session, facts)
        assert count == FAILED and len(updates) == FAILED
        assert update_api.materialised(server) == fetched  # never 20,000
        raw = session.invoke("get_failed_updates", read_only=True, MaxUpdates=10, LookbackDays=30)
        assert raw["UpdatesWithServerErrorsCount"] == FAILED and raw["FailedUpdateCount"] == FAILED
        assert {u["ListedBy"] for u in raw["FailedUpdates"]} == {listed_by}
        assert update_api.materialised(server) == 2 * fetched

        unknown = str(uuid.uuid4())
        asked = [u.update_id.upper() for u in updates[:3]] + [unknown]
        copies = upstream_copies(session, asked)
        assert sorted(copies) == sorted(u.update_id for u in updates[:3])
        assert all(copy.state == "Failed" for copy in copies.values())
        assert update_api.materialised(server) == 2 * fetched + 3  # the unknown one threw NotFound
