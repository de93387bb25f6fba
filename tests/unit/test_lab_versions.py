"""The lab's WSUS version presets: names and aliases, what a dotted version runs on, the SQL tools
and the inventory's upstream port."""

from __future__ import annotations

import pytest

from wsusauto.lab.model.defaults import VERSIONS, preset
from wsusauto.lab.model.server import WsusServerModel
from wsusauto.lab.runtime import Lab
from wsusauto.lab.sqlserver import SSEE_PIPE, WID_PIPE, reaches, sql_instance
from wsusauto.lab.topology import topology_from_dict


@pytest.mark.parametrize(
    ("name", "wsus", "ps", "port", "wid"),
    [
        ("3.0-sp2", "3.2.7600.226", "2.0", 80, False),
        ("2008R2", "3.2.7600.226", "2.0", 80, False),  # the older name
        ("2012r2", "6.3.9600.16384", "4.0", 8530, True),
        ("2012R2", "6.3.9600.16384", "4.0", 8530, True),
        ("2016", "10.0.14393.0", "5.1.14393.0", 8530, True),
        ("2019", "10.0.17763.678", "5.1.17763.1", 8530, True),
        ("2022", "10.0.20348.1", "5.1.20348.1", 8530, True),
        ("6.2.9200.16384", "6.2.9200.16384", "3.0", 8530, True),  # Windows Server 2012
        ("10.0.17763.1", "10.0.17763.1", "5.1.17763.1", 8530, True),
        ("3.2.7600.274", "3.2.7600.274", "2.0", 80, False),
    ],
)
def test_presets_and_dotted_versions(name, wsus, ps, port, wid):
    chosen = preset(name, "here")
    assert (chosen.version, chosen.ps_version, chosen.port, chosen.wid) == (wsus, ps, port, wid)
    assert not chosen.api_bits_foreground  # wsus-api.md is unsure of the member: no preset has it


def test_no_preset_installs_a_sql_tool_unless_the_topology_says(tmp_path):
    for name in VERSIONS:
        server = WsusServerModel(f"s{name.replace('.', '')}", tmp_path, version=name)
        assert server.get("LabSqlTools") == []
    server = WsusServerModel("tooled", tmp_path, version="2016", tools=("sqlcmd",))
    assert server.get("LabSqlTools") == ["sqlcmd"]


def test_where_susdb_lives_and_what_reaches_it():
    wid = sql_instance("MICROSOFT##WID", "WSUS01")
    assert (wid.local, wid.internal, wid.service) == (True, True, "MSSQL$MICROSOFT##WID")
    assert reaches(wid, "np:" + WID_PIPE) and reaches(wid, WID_PIPE.upper()) and not reaches(wid, SSEE_PIPE)
    assert not reaches(wid, "MICROSOFT##WID")  # WID listens on its pipe only
    ssee = sql_instance("WSUS01\\MICROSOFT##SSEE", "wsus01")
    assert ssee.service == "MSSQL$MICROSOFT##SSEE" and reaches(ssee, "np:" + SSEE_PIPE)
    named = sql_instance("wsus01.corp.example\\SUSDB", "WSUS01")
    assert (named.local, named.service) == (True, "MSSQL$SUSDB")
    assert reaches(named, "localhost\\SUSDB") and not reaches(named, "SQL01\\SUSDB")
    default = sql_instance("(local)", "WSUS01")
    assert default.service == "MSSQLSERVER" and reaches(default, "WSUS01")
    remote = sql_instance("SQL01\\WSUS", "WSUS01")
    assert (remote.local, remote.host, remote.service) == (False, "SQL01", "")
    assert not reaches(remote, "SQL01\\WSUS")
    assert not sql_instance("10.0.0.5,1433", "WSUS01").local


def test_the_inventory_gives_a_wsus_3_upstreams_port(tmp_path):
    topology = topology_from_dict(
        {
            "servers": [
                {"name": "root", "version": "2022"},
                {"name": "old", "version": "3.0-sp2", "upstream": "root"},
                {"name": "old-01", "version": "3.0-sp2", "upstream": "old", "replica": True},
            ]
        }
    )
    hosts = Lab(topology, tmp_path).inventory()["all"]["children"]["wsus"]["hosts"]
    assert hosts["old-01"]["wsus_upstream_port"] == 80
    assert "wsus_upstream_port" not in hosts["old"]  # the playbooks' default, 8530
