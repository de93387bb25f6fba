"""The BitsDownloadPriorityForeground fix on each WSUS version preset, through the real client: the
SQL step takes the path the server has (osql, sqlcmd or SqlClient over the internal database's pipe),
stops WsusService before and starts it after, and confirms the value; SUSDB on another machine is
reported as needing the SQL step there. Facts show what each preset runs on."""

from __future__ import annotations

import sqlite3

import pytest
from pypsrp.powershell import RunspacePool
from rich.console import Console

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session, new_wsman
from wsusauto.diagnose import diagnose_fleet, fix_fleet
from wsusauto.execution.fleet import collect_facts
from wsusauto.operations.fixes import SSEE_PIPE, WID_PIPE, BitsForeground
from wsusauto.output.console import print_facts_table
from wsusauto.state.facts import gather_facts

RANGE = ["range_header_unsupported"]
# host -> (version, WSUS version, PSVersion, OS caption, database kind, the foreground fix's path)
PRESETS = {
    "v30": ("3.0-sp2", "3.2.7600.226", "2.0", "Microsoft Windows Server 2008 R2 Standard", "SSEE", SSEE_PIPE),
    "r2": ("2012r2", "6.3.9600.16384", "4.0", "Microsoft Windows Server 2012 R2 Standard", "WID", WID_PIPE),
    "s16": ("2016", "10.0.14393.0", "5.1.14393.0", "Microsoft Windows Server 2016 Standard", "WID", WID_PIPE),
    "s19": (
        "2019",
        "10.0.17763.678",
        "5.1.17763.1",
        "Microsoft Windows Server 2019 Standard",
        "WID",
        WID_PIPE,
    ),
    "s22": ("2022", "10.0.20348.1", "5.1.20348.1", "Microsoft Windows Server 2022 Standard", "WID", WID_PIPE),
}
SERVERS = [
    *({"name": host, "version": spec[0], "faults": RANGE} for host, spec in PRESETS.items()),
    {"name": "with-osql", "version": "3.0-sp2", "tools": ["osql"], "faults": RANGE},
    {"name": "with-sqlcmd", "version": "2019", "tools": ["sqlcmd"], "faults": RANGE},
    {"name": "with-both", "version": "2012r2", "tools": ["sqlcmd", "osql"], "faults": RANGE},
    {
        "name": "remote-sql",
        "version": "2019",
        "tools": ["sqlcmd"],
        "initial": {"SqlServerName": "SQL01\\WSUS"},
        "faults": RANGE,
    },
]


@pytest.fixture(scope="module")
def lab(make_module_lab):
    lab = make_module_lab({"servers": SERVERS})
    inventory = lab_inventory(lab)
    sessions = {
        host: Session(host, inventory.connection_options(inventory.hosts[host]), default_deadline=60)
        for host in inventory.hosts
    }
    lab.sessions = sessions
    yield lab
    for session in sessions.values():
        session.close()


def column(lab, host):
    path = lab.state_dir / host / "SUSDB.sqlite"
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as db:
        return db.execute("SELECT BitsDownloadPriorityForeground FROM tbConfigurationC").fetchone()[0]


def wsus_service_messages(lab, host):
    """The System log's 7036 messages of the WSUS service, oldest first."""
    server = lab.handlers.servers[host]
    name = server.service_display_name("WsusService")
    return [m for _i, _t, m in reversed(server.service_events()) if m.startswith(f"The {name} service")]


def fix(lab, host, check=False):
    return BitsForeground().run(lab.sessions[host], {"synchronize": False}, check=check)


@pytest.mark.parametrize("host", list(PRESETS))
def test_each_preset_reports_what_it_runs_on(lab, host):
    _version, wsus, ps_version, caption, kind, _pipe = PRESETS[host]
    facts = gather_facts(lab.sessions[host])
    assert (facts.version, facts.ps_version, facts.os_caption, facts.database_kind) == (
        wsus,
        ps_version,
        caption,
        kind,
    )
    # No preset has the API member (wsus-api.md: unsure), so the fix goes through SUSDB.
    assert facts.bits_download_priority_foreground is None


def test_the_report_and_the_range_finding_show_the_platform_and_where_susdb_lives(lab):
    inventory = lab_inventory(lab)
    hosts = inventory.select("all")
    console = Console(width=250, record=True)
    print_facts_table(collect_facts(inventory, hosts, forks=4), console)
    text = console.export_text()
    assert "3.2.7600.226 (PS 2.0, SSEE)" in text
    assert "6.3.9600.16384 (PS 4.0, WID)" in text
    assert "10.0.20348.1 (PS 5.1.20348.1, WID)" in text
    assert "10.0.17763.678 (PS 5.1.17763.1, SQL Server)" in text  # remote-sql
    diagnosis = diagnose_fleet(inventory, hosts, forks=4)
    evidence = {
        host: next(f.evidence for f in found if f.check == "range-protocol")
        for host, found in diagnosis.findings.items()
    }
    where = {host: (e["database"], e["sql_server_name"]) for host, e in evidence.items()}
    assert where["v30"] == ("SSEE", "V30\\MICROSOFT##SSEE")
    assert where["s16"] == ("WID", "MICROSOFT##WID")
    assert where["remote-sql"] == ("SQL Server", "SQL01\\WSUS")


@pytest.mark.parametrize("host", list(PRESETS))
def test_the_fix_works_on_each_preset_without_osql_or_sqlcmd_through_sqlclient(lab, host):
    pipe = PRESETS[host][5]
    assert column(lab, host) == 0
    check = fix(lab, host, check=True)
    assert check.changed and check.check_mode and check.details == {"method": "sqlclient", "instance": pipe}
    assert column(lab, host) == 0 and wsus_service_messages(lab, host) == []

    result = fix(lab, host)
    assert not result.failed and result.changed
    assert result.details == {"method": "sqlclient", "instance": pipe}
    assert f"with sqlclient on {pipe}" in result.message
    # The fix ends by resuming the downloads that failed while the proxy refused the Range header.
    assert result.diff == {
        "before": {"BitsDownloadPriorityForeground": False, "UpdatesWithServerErrorsCount": 12},
        "after": {"BitsDownloadPriorityForeground": True, "UpdatesWithServerErrorsCount": 0},
    }
    assert column(lab, host) == 1
    messages = wsus_service_messages(lab, host)
    assert len(messages) == 2 and "stopped" in messages[0] and "running" in messages[1]
    assert result.facts.services["WsusService"].state == "Running"

    again = fix(lab, host)
    assert not again.changed and "read with sqlclient" in again.message
    assert len(wsus_service_messages(lab, host)) == 2  # nothing stopped the second time


@pytest.mark.parametrize(
    ("host", "method", "instance"),
    [("with-osql", "osql", SSEE_PIPE), ("with-sqlcmd", "sqlcmd", WID_PIPE), ("with-both", "osql", WID_PIPE)],
)
def test_an_installed_tool_is_used_first_osql_before_sqlcmd(lab, host, method, instance):
    result = fix(lab, host)
    assert result.changed and result.details == {"method": method, "instance": instance}
    assert column(lab, host) == 1
    assert len(wsus_service_messages(lab, host)) == 2


def test_a_remote_sql_server_is_reported_as_needing_the_sql_step_there(lab):
    check = fix(lab, "remote-sql", check=True)
    assert check.failed and not check.changed and check.check_mode  # check mode says it too
    assert check.warnings == ("SUSDB is on SQL01; the fix's SQL step must run there",)

    result = fix(lab, "remote-sql")
    assert result.failed and not result.changed
    assert result.details == {"method": "remote", "instance": "SQL01\\WSUS", "sql_host": "SQL01"}
    assert "SUSDB is on another machine (SQL01\\WSUS, the setup key's SqlServerName)" in result.message
    assert "a second hop carries none" in result.message
    # Nothing was stopped, and this server's SUSDB copy in the lab is untouched.
    assert wsus_service_messages(lab, "remote-sql") == []
    assert column(lab, "remote-sql") == 0
    facts = gather_facts(lab.sessions["remote-sql"])
    assert facts.database_kind == "SQL Server" and not facts.is_using_windows_internal_database
    assert facts.services["WsusService"].state == "Running"

    # diagnose --fix shows the finding's fix as failed, with the cause, and the finding standing.
    inventory = lab_inventory(lab)
    diagnosis = diagnose_fleet(inventory, [inventory.hosts["remote-sql"]])
    (fixed,) = fix_fleet(inventory, diagnosis, arguments={"synchronize": False})["remote-sql"]
    assert (fixed.operation, fixed.status) == ("bits_foreground", "failed")
    assert fixed.message == result.message
    assert "range-protocol" in {
        f.check for f in diagnose_fleet(inventory, [inventory.hosts["remote-sql"]]).findings["remote-sql"]
    }


@pytest.mark.parametrize(("host", "major_minor"), [("v30", "2.0"), ("r2", "4.0"), ("s22", "5.1")])
def test_a_pool_gets_the_presets_psversiontable(lab, host, major_minor):
    inventory = lab_inventory(lab)
    with RunspacePool(new_wsman(inventory.connection_options(inventory.hosts[host]))) as pool:
        table = pool.application_private_data.data["PSVersionTable"]
    assert str(table["PSVersion"]) == PRESETS[host][2]
    assert str(table["PSCompatibleVersions"][-1]) == major_minor  # never more than the preset's version
    assert (table.get("PSEdition") == "Desktop") == (major_minor == "5.1")
