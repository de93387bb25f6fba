"""Lab topologies and faults: the default fleet, and one clear error per mistake."""

from __future__ import annotations

import pytest

from wsusauto.errors import UsageError
from wsusauto.lab.faults import EndpointFaultSettings, endpoint_fault_settings, model_faults, parse_faults
from wsusauto.lab.topology import load_topology, topology_from_dict


def test_default_topology_is_1_root_3_regional_12_branch_replicas():
    topology = load_topology(None)
    servers = topology.servers
    assert len(servers) == 16
    assert [s.name for s in servers if s.upstream is None] == ["wsus-root"]
    regional = [s for s in servers if s.upstream == "wsus-root"]
    assert [s.name for s in regional] == ["wsus-eu", "wsus-us", "wsus-apac"] and not any(
        s.replica for s in regional
    )
    branches = [s for s in servers if s.upstream in {"wsus-eu", "wsus-us", "wsus-apac"}]
    assert len(branches) == 12 and all(s.replica for s in branches)
    assert all(not s.initial and not s.faults for s in servers)  # everyone starts unconfigured


def test_full_server_entry():
    topology = topology_from_dict(
        {
            "servers": [
                {"name": "wsus-root", "version": "2008R2"},
                {
                    "name": "wsus-eu",
                    "upstream": "wsus-root",
                    "replica": True,
                    "initial": {
                        "HostBinariesOnMicrosoftUpdate": True,
                        "Services": {"BITS": {"State": "Stopped"}},
                    },
                    "faults": [
                        "slow",
                        {"name": "transient_sync_failure", "attempts": 2},
                        {"name": "slow", "seconds": 1.5},
                    ],
                },
            ]
        }
    )
    eu = topology.server("wsus-eu")
    assert eu.initial["HostBinariesOnMicrosoftUpdate"] is True
    assert [(f.name, dict(f.arguments)) for f in eu.faults] == [
        ("slow", {"seconds": 5.0}),
        ("transient_sync_failure", {"attempts": 2}),
        ("slow", {"seconds": 1.5}),
    ]
    assert endpoint_fault_settings(eu.faults) == EndpointFaultSettings(slow_seconds=1.5)
    assert model_faults(eu.faults) == {"transient_sync_failure": {"attempts": 2}}


@pytest.mark.parametrize(
    ("servers", "message"),
    [
        ([{"name": "a"}, {"name": "a"}], "server a: the name is used twice"),
        ([{"name": "a", "upstream": "zz"}], "upstream 'zz' is not in the topology"),
        ([{"name": "a", "upstream": "a"}], "cannot be its own upstream"),
        ([{"name": "a", "initial": {"Bogus": 1}}], "unknown member 'Bogus'; known: .*IsReplicaServer"),
        ([{"name": "a", "initial": {"IsReplicaServer": "yes"}}], "IsReplicaServer must be a bool"),
        ([{"name": "a", "initial": {"NumberOfSynchronizationsPerDay": 25}}], "must be 1 to 24"),
        ([{"name": "a", "initial": {"SynchronizeAutomaticallyTimeOfDay": "25:00:00"}}], "hh:mm:ss"),
        (
            [{"name": "a", "faults": ["no_such_fault"]}],
            "unknown fault 'no_such_fault'; known faults: .*endpoint_down",
        ),
        ([{"name": "a", "faults": [{"name": "slow", "minutes": 1}]}], "has no argument 'minutes'"),
        ([{"name": "a", "faults": [{"name": "slow", "seconds": "x"}]}], "seconds must be a float"),
        ([{"name": "a", "version": "95"}], "version '95'"),
        ([{"name": "a", "colour": "red"}], "unknown key"),
        ([{"name": "bad name!"}], "server name is letters"),
    ],
)
def test_topology_errors_name_the_server_and_the_fix(servers, message):
    with pytest.raises(UsageError, match=message) as info:
        topology_from_dict({"servers": servers}, "lab.yml")
    assert str(info.value).startswith("lab.yml: ")


def test_bad_yaml_file_names_the_line(tmp_path):
    path = tmp_path / "t.yml"
    path.write_text("servers:\n  - {name: a\n")
    with pytest.raises(UsageError, match=r"t.yml: not valid YAML at line"):
        load_topology(path)


def test_faults_must_be_a_list():
    with pytest.raises(UsageError, match="must be a list"):
        parse_faults("slow", "x")
