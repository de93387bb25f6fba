"""The BITS fix over the wire when BITS already runs but the finding stands (here: the WSUS service
is stopped): "restart both the BITS service and the WSUS service", so BITS is restarted, then the
WSUS service started; check mode says so and changes nothing; a second run changes nothing."""

from __future__ import annotations

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.diagnose import diagnose_fleet
from wsusauto.lab.topology import topology_from_dict
from wsusauto.operations import run_operation

BITS = "Background Intelligent Transfer Service"


def test_a_running_bits_is_restarted_with_the_wsus_service(make_lab):
    stopped = {"Services": {"WsusService": {"State": "Stopped", "StartMode": "Auto"}}}
    topology = topology_from_dict({"servers": [{"name": "wsus-root", "initial": stopped}]})
    lab = make_lab(topology)
    server = lab.handlers.servers["wsus-root"]
    inventory = lab_inventory(lab)
    diagnosis = diagnose_fleet(inventory, inventory.select("all"), forks=1)
    assert [f.check for f in diagnosis.findings["wsus-root"]] == ["bits-service"]
    with Session("wsus-root", inventory.connection_options(inventory.hosts["wsus-root"])) as session:
        checked = run_operation(session, "bits_service", {"synchronize": False}, check=True)
        assert checked.diff["after"] == {
            "Services[WsusService].State": "Running",
            "Services[BITS].Restart": "Restarted",
        }
        assert server.service_events() == []
        result = run_operation(session, "bits_service", {"synchronize": False})
        assert result.changed and result.facts.services["WsusService"].state == "Running"
        messages = [m for _i, _t, m in reversed(server.service_events())]
        assert messages == [
            f"The {BITS} service entered the stopped state.",
            f"The {BITS} service entered the running state.",
            "The WSUS Service service entered the running state.",
        ]
        again = run_operation(session, "bits_service", {"synchronize": False})
        assert not again.changed and len(server.service_events()) == 3
