"""Lab topologies (YAML -> Topology) and faults: the default fleet, and one clear line per mistake."""

from __future__ import annotations

from importlib import resources

import pytest

from wsusauto.errors import UsageError
from wsusauto.lab import faults
from wsusauto.lab.faults import (
    EndpointFaultSettings,
    FaultSpec,
    FaultType,
    endpoint_fault_settings,
    model_faults,
    parse_faults,
)
from wsusauto.lab.topology import ServerSpec, Topology, initial_members, load_topology, topology_from_dict

REGIONS = ("eu", "us", "apac")


def test_default_topology_is_one_root_three_regions_and_twelve_branch_replicas():
    topology = load_topology(None)
    assert isinstance(topology, Topology) and all(isinstance(s, ServerSpec) for s in topology.servers)
    by_name = {s.name: s for s in topology.servers}
    expected = ["wsus-root"]
    expected += [f"wsus-{r}" for r in REGIONS]
    expected += [f"wsus-{r}-{n:02d}" for r in REGIONS for n in range(1, 5)]
    assert sorted(by_name) == sorted(expected) and len(topology.servers) == 16
    root = by_name["wsus-root"]
    assert (root.upstream, root.replica) == (None, False)
    for region in REGIONS:
        assert (by_name[f"wsus-{region}"].upstream, by_name[f"wsus-{region}"].replica) == ("wsus-root", False)
        for n in range(1, 5):
            branch = by_name[f"wsus-{region}-{n:02d}"]
            assert (branch.upstream, branch.replica) == (f"wsus-{region}", True)
    # Everyone starts unconfigured: standalone and syncing from Microsoft Update (the model's defaults).
    assert all(not s.initial and not s.faults and s.version is None for s in topology.servers)


def test_the_shipped_file_loads_the_same_as_the_default(tmp_path):
    path = tmp_path / "copy.yml"
    path.write_text((resources.files("wsusauto.lab") / "default_topology.yml").read_text(encoding="utf-8"))
    assert load_topology(path).servers == load_topology(None).servers
    assert load_topology(path).source == str(path)


def test_the_brief_example_parses(tmp_path):
    path = tmp_path / "lab.yml"
    path.write_text(
        "servers:\n"
        "  - name: wsus-root                 # the server's name\n"
        "  - name: wsus-eu\n"
        "    upstream: wsus-root\n"
        "    replica: true\n"
        "    version: 2008R2\n"
        "    initial: {HostBinariesOnMicrosoftUpdate: true, SynchronizeAutomaticallyTimeOfDay: 03:00:00,\n"
        "              Services: {BITS: {State: Stopped, StartMode: Disabled}},\n"
        "              ContentDirAcl: [{IdentityReference: 'BUILTIN\\Users', FileSystemRights: Read}]}\n"
        "    faults: [slow, {name: transient_sync_failure, attempts: 1}]\n"
    )
    eu = load_topology(path).servers[1]
    assert (eu.name, eu.upstream, eu.replica, eu.version) == ("wsus-eu", "wsus-root", True, "2008R2")
    assert eu.initial["HostBinariesOnMicrosoftUpdate"] is True
    assert eu.initial["SynchronizeAutomaticallyTimeOfDay"] == "03:00:00"  # YAML 1.1 base-60 10800, undone
    assert eu.initial["Services"] == {"BITS": {"State": "Stopped", "StartMode": "Disabled"}}
    assert eu.initial["ContentDirAcl"] == [
        {"IdentityReference": "BUILTIN\\Users", "FileSystemRights": "Read"}
    ]
    assert eu.faults == (
        FaultSpec("slow", {"seconds": 5.0}),
        FaultSpec("transient_sync_failure", {"attempts": 1}),
    )


def test_initial_accepts_the_api_member_names():
    names = set(initial_members())
    assert {
        "SyncFromMicrosoftUpdate",
        "UpstreamWsusServerName",
        "UpstreamWsusServerPortNumber",
        "UpstreamWsusServerUseSsl",
        "IsReplicaServer",
        "HostBinariesOnMicrosoftUpdate",
        "ProxyName",
        "SynchronizeAutomatically",
        "SynchronizeAutomaticallyTimeOfDay",
        "NumberOfSynchronizationsPerDay",
        "Services",
        "ContentDirAcl",
        "EnabledUpdateLanguages",
        "UpdateServerStatus",
    } <= names
    assert "ProxyPassword" not in names and "HasProxyPassword" not in names


def _server(**entry):
    return {"name": "wsus-a", **entry}


@pytest.mark.parametrize(
    ("servers", "message"),
    [
        ([_server(), _server()], "server wsus-a: the name is used twice"),
        ([_server(upstream="wsus-zz")], "server wsus-a: upstream 'wsus-zz' is not in the topology"),
        ([_server(upstream="wsus-a")], "cannot be its own upstream"),
        (
            [{"name": "x", "upstream": "y"}, {"name": "y", "upstream": "x"}],
            r"server x: the upstream chain is a cycle \(x -> y -> x\)",
        ),
        ([_server(replica=True)], "server wsus-a: a replica copies an upstream server; give it an upstream"),
        ([_server(replica="yes")], "replica must be true or false"),
        (
            [_server(initial={"Bogus": 1})],
            r"unknown member 'Bogus'; known: .*IsReplicaServer.*SyncFromMicrosoft",
        ),
        (
            [_server(initial={"IsReplicaServer": "yes"})],
            r"IsReplicaServer must be a bool \(true/false\), not 'yes'",
        ),
        ([_server(initial={"ProxyServerPort": True})], "ProxyServerPort must be an int, not True"),
        ([_server(initial={"ProxyServerPort": 70000})], "must be a port number 1 to 65535"),
        ([_server(initial={"ProxyName": 5})], "ProxyName must be a string, not 5"),
        ([_server(initial={"NumberOfSynchronizationsPerDay": 25})], "must be 1 to 24, not 25"),
        ([_server(initial={"NumberOfSynchronizationsPerDay": 0})], "must be 1 to 24, not 0"),
        ([_server(initial={"SynchronizeAutomaticallyTimeOfDay": "25:00:00"})], "must be hh:mm:ss"),
        ([_server(initial={"SynchronizeAutomaticallyTimeOfDay": "3am"})], "must be hh:mm:ss"),
        ([_server(initial={"SynchronizationStatus": "Busy"})], "must be one of NotProcessing, Running"),
        ([_server(initial={"EnabledUpdateLanguages": ["en", 7]})], "list of language codes"),
        (
            [_server(initial={"Services": {"BITS": {"State": "Paused"}}})],
            "Services.BITS.State must be Running",
        ),
        (
            [_server(initial={"Services": {"BITS": {"StartMode": "Automatic"}}})],
            "StartMode must be one of Auto",
        ),
        ([_server(initial={"Services": {"BITS": "off"}})], "Services.BITS must be a mapping"),
        ([_server(initial={"ContentDirAcl": [{"IdentityReference": "x"}]})], r"ContentDirAcl\[0\] must be"),
        (
            [
                _server(
                    initial={
                        "ContentDirAcl": [{"IdentityReference": "x", "FileSystemRights": "Read", "Y": 1}]
                    }
                )
            ],
            "unknown key 'Y'",
        ),
        ([_server(initial={"UpdateServerStatus": {"Apples": 1}})], "UpdateServerStatus has no 'Apples'"),
        ([_server(initial={"UpdateServerStatus": {"UpdateCount": -1}})], "UpdateCount must be an int"),
        ([_server(initial=["IsReplicaServer"])], "initial must be a mapping"),
        ([_server(faults=["no_such_fault"])], "unknown fault 'no_such_fault'; known faults: .*endpoint_down"),
        (
            [_server(faults=[{"name": "slow", "minutes": 1}])],
            r"fault 'slow' has no argument 'minutes' \(it takes: seconds\)",
        ),
        ([_server(faults=[{"name": "slow", "seconds": "x"}])], "seconds must be a float"),
        ([_server(faults=[{"name": "slow", "seconds": -1}])], "cannot be negative"),
        ([_server(faults=[{"name": "http_500", "code": 1}])], r"has no argument 'code' \(it takes: none\)"),
        ([_server(faults=[{"seconds": 1}])], "must be a name or a mapping with 'name'"),
        ([_server(faults="slow")], "faults must be a list"),
        ([_server(version="95")], "version '95' is not one of"),
        ([_server(colour="red")], "unknown key"),
        ([{"name": "bad name!"}], "server bad name!: a server name is letters"),
        ([{"upstream": "x"}], r"servers\[0\]: each server is a mapping with at least a name"),
    ],
)
def test_each_mistake_is_one_line_naming_the_file_and_the_server(servers, message):
    with pytest.raises(UsageError, match=message) as info:
        topology_from_dict({"servers": servers}, "lab.yml")
    text = str(info.value)
    assert text.startswith("lab.yml: ") and "\n" not in text


@pytest.mark.parametrize("data", [None, [], {"servers": []}, {"servers": "wsus-a"}, {"hosts": []}])
def test_a_topology_needs_a_servers_list(data):
    with pytest.raises(
        UsageError, match=r"lab\.yml: a topology is a mapping with a non-empty 'servers' list"
    ):
        topology_from_dict(data, "lab.yml")


def test_bad_yaml_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "t.yml"
    path.write_text("servers:\n  - {name: a\n")
    with pytest.raises(UsageError, match=r"t\.yml: not valid YAML at line \d+, column \d+") as info:
        load_topology(path)
    assert "\n" not in str(info.value)


def test_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"cannot read topology .*nope\.yml"):
        load_topology(tmp_path / "nope.yml")


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("2019", True),
        ("2016", True),
        ("2012R2", True),
        ("2008R2", True),
        ("10.0.14393.0", True),
        (2019, True),
        ("10.0", False),
        ("2003", False),
    ],
)
def test_versions_are_presets_or_dotted(version, ok):
    data = {"servers": [_server(version=version)]}
    if ok:
        assert topology_from_dict(data).servers[0].version == str(version)
    else:
        with pytest.raises(UsageError, match=r"is not one of 2022, 2019, 2016, 2012r2, 3\.0-sp2 or a dotted"):
            topology_from_dict(data)


# -- faults -----------------------------------------------------------------------------------------


def test_fault_names_and_arguments_default():
    specs = parse_faults(["endpoint_down", "slow", {"name": "slow", "seconds": 2}, "http_503"], "x")
    assert [(s.name, dict(s.arguments)) for s in specs] == [
        ("endpoint_down", {}),
        ("slow", {"seconds": 5.0}),
        ("slow", {"seconds": 2.0}),
        ("http_503", {}),
    ]
    assert isinstance(specs[2].arguments["seconds"], float)
    assert parse_faults(None, "x") == () and parse_faults([], "x") == ()


@pytest.mark.parametrize(
    ("items", "settings"),
    [
        ([], EndpointFaultSettings(down=False, slow_seconds=0.0, http_status=None, auth_reject=False)),
        (["endpoint_down"], EndpointFaultSettings(down=True)),
        (["slow"], EndpointFaultSettings(slow_seconds=5.0)),
        ([{"name": "slow", "seconds": 2}], EndpointFaultSettings(slow_seconds=2.0)),
        (["http_500"], EndpointFaultSettings(http_status=500)),
        (["http_503"], EndpointFaultSettings(http_status=503)),
        (["auth_reject"], EndpointFaultSettings(auth_reject=True)),
        ([{"name": "transient_sync_failure", "attempts": 2}], EndpointFaultSettings()),
        (["auth_reject", "slow", "endpoint_down"], EndpointFaultSettings(True, 5.0, None, True)),
    ],
)
def test_endpoint_fault_settings_for_the_transport(items, settings):
    assert endpoint_fault_settings(parse_faults(items, "x")) == settings


def test_model_faults_are_kept_for_the_server_and_endpoint_faults_are_not():
    specs = parse_faults(["slow", "transient_sync_failure", "http_500"], "x")
    assert model_faults(specs) == {"transient_sync_failure": {"attempts": 1}}


def test_unknown_fault_lists_the_known_ones():
    with pytest.raises(UsageError) as info:
        parse_faults(["bogus"], "lab.yml: server a")
    for name in ("auth_reject", "endpoint_down", "http_500", "http_503", "slow", "transient_sync_failure"):
        assert name in str(info.value)


def test_the_fault_registry_is_open_to_later_faults(monkeypatch):
    monkeypatch.setitem(
        faults.REGISTRY,
        "upstream_unreachable",
        FaultType("upstream_unreachable", "model", {"after": (int, 0)}, "the upstream refuses connections"),
    )
    [spec] = parse_faults([{"name": "upstream_unreachable", "after": 3}], "x")
    assert spec == FaultSpec("upstream_unreachable", {"after": 3})
    assert model_faults([spec]) == {"upstream_unreachable": {"after": 3}}
    topology = topology_from_dict({"servers": [_server(faults=["upstream_unreachable"])]})
    assert topology.servers[0].faults == (FaultSpec("upstream_unreachable", {"after": 0}),)
