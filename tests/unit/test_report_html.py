"""The fleet report's HTML and JSON, from hand-made facts and findings (no lab, no network)."""

from __future__ import annotations

import datetime as dt
import html.parser
import json
import re

import pytest

from tests.unit.test_facts_parsing import sample
from wsusauto.checks.base import Finding
from wsusauto.errors import UsageError
from wsusauto.output.html import FleetReport, ReportHost, render_html, report_data, zone_info
from wsusauto.stagger.planner import Server, StaggerPolicy, plan
from wsusauto.state.facts import parse_facts

NOW = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.timezone.utc)  # summer: Berlin is UTC+2
HOSTILE = '<script>window.pwned=1;alert("x")</script><img src=x onerror=alert(1)>'


def sync(result: str, end: str, error: str = "NotApplicable", text: str = "") -> dict:
    return {
        "Result": result,
        "Error": error,
        "ErrorText": text,
        "StartTime": end.replace(":10Z", ":00Z"),
        "EndTime": end,
        "StartedManually": False,
        "UpdateErrors": [],
    }


def facts(host: str, *, upstream: str | None, replica: bool, last: dict | None, history=(), **raw):
    data = {
        **sample(),
        "Name": host,
        "SyncFromMicrosoftUpdate": upstream is None,
        "UpstreamWsusServerName": upstream or "",
        "UpstreamWsusServerPortNumber": 8530,
        "UpstreamWsusServerUseSsl": False,
        "IsReplicaServer": replica,
        "SynchronizeAutomatically": True,
        "SynchronizeAutomaticallyTimeOfDay": "22:30:00",
        "NumberOfSynchronizationsPerDay": 1,
        "LastSynchronizationInfo": last,
        "SynchronizationHistory": list(history) or ([last] if last else []),
        **raw,
    }
    return parse_facts(host, data)


def finding(host: str, severity: str, check: str = "bits-service", **extra) -> Finding:
    return Finding(
        check=check,
        host=host,
        severity=severity,
        title=extra.get("title", f"{check} on {host}"),
        evidence=extra.get("evidence", {"BITS": {"State": "Stopped"}}),
        remedy=extra.get("remedy", "Start the BITS service and set it to Automatic."),
        source="Issues with Synchronization (TechNet cc708514, WSUS 3.0 SP2)",
        fix=extra.get("fix"),
    )


def fleet(**overrides) -> FleetReport:
    """root <- eu (replica, behind) <- eu-01; us unreachable; ap failed; root syncs from MU."""
    hosts = [
        ReportHost("wsus-root", None, False, "127.0.10.1"),
        ReportHost("wsus-eu", "wsus-root", True, "127.0.10.2"),
        ReportHost("wsus-eu-01", "wsus-eu", True, "127.0.10.3"),
        ReportHost("wsus-us", "wsus-root", True, "127.0.10.4"),
        ReportHost("wsus-ap", "wsus-root", False, "127.0.10.5"),
    ]
    known = {
        "wsus-root": facts(
            "wsus-root", upstream=None, replica=False, last=sync("Succeeded", "2026-06-30T21:10:10Z")
        ),
        "wsus-eu": facts(
            "wsus-eu",
            upstream="WSUS-ROOT.corp.example",  # a FQDN in another case resolves to the inventory host
            replica=True,
            last=sync(
                "Failed", "2026-06-30T23:00:10Z", "UssNotFound", "The remote name could not be resolved"
            ),
            history=[
                sync("Failed", "2026-06-30T23:00:10Z", "UssNotFound", "not resolved"),
                sync("Succeeded", "2026-06-29T23:00:10Z"),
            ],
        ),
        "wsus-eu-01": facts(
            "wsus-eu-01", upstream="wsus-eu", replica=False, last=sync("Succeeded", "2026-06-30T23:30:10Z")
        ),
    }
    servers = [
        Server("wsus-root", None, 20),
        Server("wsus-eu", "wsus-root", 20),
        Server("wsus-eu-01", "wsus-eu", 20),
        Server("wsus-us", "wsus-root", 20),
        Server("wsus-ap", "wsus-root", 20),
    ]
    the_plan = plan(servers, StaggerPolicy(window_start=20 * 60, window_length=9 * 60))
    args = dict(
        hosts=hosts,
        facts=known,
        findings={
            "wsus-root": [],
            "wsus-eu": [finding("wsus-eu", "warning", "upstream-name"), finding("wsus-eu", "error")],
            "wsus-eu-01": [finding("wsus-eu-01", "info", "replica-flag", fix="replica")],
        },
        unreachable={"wsus-us": "wsus-us: connection refused (127.0.10.4:5985)"},
        failed={"wsus-ap": "wsus-ap: get_facts failed on the server: Access denied"},
        plan=the_plan,
        durations={s.name: s.duration for s in servers},
        zone="Europe/Berlin",
        source="inventory.yml",
        generated_at=NOW,
    )
    args.update(overrides)
    return FleetReport(**args)


class Parsed(html.parser.HTMLParser):
    """Elements by tag with attributes, the text, and the nesting of the tree's lists."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.in_tree = 0
        self.tree_depth: dict[str, int] = {}
        self.ul_depth = 0
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id") == "tree":
            self.in_tree = 1
        elif self.in_tree and tag == "section":
            self.in_tree += 1
        if self.in_tree and tag == "ul":
            self.ul_depth += 1
        if self.in_tree and tag == "a" and "node" in attributes.get("class", ""):
            self._node = True
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if self.in_tree and tag == "ul":
            self.ul_depth -= 1
        if self.in_tree and tag == "section":
            self.in_tree -= 1
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_script:
            self.script_bodies.append(data)
        if getattr(self, "_node", False):
            self.tree_depth[data] = self.ul_depth
            self._node = False


def parse(page: str) -> Parsed:
    parser = Parsed()
    parser.feed(page)
    return parser


def test_every_host_has_a_row_a_tree_node_and_the_timeline_is_inline():
    page = render_html(fleet())
    parsed = parse(page)
    rows = [a for tag, a in parsed.tags if tag == "tr" and "host-row" in a.get("class", "")]
    assert [r["data-host"] for r in rows] == ["wsus-root", "wsus-eu", "wsus-eu-01", "wsus-us", "wsus-ap"]
    assert set(parsed.tree_depth) == {"wsus-root", "wsus-eu", "wsus-eu-01", "wsus-us", "wsus-ap"}
    assert any(tag == "svg" and a.get("id") == "timeline" for tag, a in parsed.tags)
    assert sum(tag == "script" for tag, _ in parsed.tags) == 1


def test_tree_follows_configured_upstreams_then_the_inventory():
    parsed = parse(render_html(fleet()))
    # wsus-eu's configured upstream is WSUS-ROOT.corp.example -> wsus-root; wsus-eu-01 syncs from wsus-eu
    assert parsed.tree_depth == {
        "wsus-root": 1,
        "wsus-eu": 2,
        "wsus-eu-01": 3,
        "wsus-us": 2,  # unreachable: placed by its intended upstream
        "wsus-ap": 2,
    }
    data = report_data(fleet())
    root = data["tree"][0]
    assert root["host"] == "wsus-root"
    assert [c["host"] for c in root["children"]] == ["wsus-eu", "wsus-us", "wsus-ap"]
    assert root["children"][0]["children"][0]["host"] == "wsus-eu-01"


def test_an_upstream_outside_the_report_is_an_external_node_and_a_cycle_is_cut():
    report = fleet(
        facts={
            **fleet().facts,
            "wsus-root": facts("wsus-root", upstream="old-wsus.corp", replica=False, last=None),
            "wsus-eu-01": facts("wsus-eu-01", upstream="wsus-eu", replica=True, last=None),
            "wsus-eu": facts("wsus-eu", upstream="wsus-eu-01", replica=True, last=None),
        }
    )
    data = report_data(report)
    external = [n for n in data["tree"] if n.get("external")]
    assert [n["host"] for n in external] == ["old-wsus.corp"]
    assert external[0]["children"][0]["host"] == "wsus-root"
    flat = json.dumps(data["tree"])
    for host in ("wsus-root", "wsus-eu", "wsus-eu-01", "wsus-us", "wsus-ap"):
        assert flat.count(f'"{host}"') == 1  # each host exactly once, even in a cycle
    assert any("cycle" in note for e in data["hosts"].values() for note in e["notes"])


def hostile_report() -> FleetReport:
    """Hostile values everywhere a server or an inventory provides text."""
    bad = facts(
        "wsus-eu-01",
        upstream=HOSTILE,
        replica=True,
        last=sync("Failed", "2026-06-30T23:30:10Z", "UssNotFound", HOSTILE),
        Events=[{"Id": 364, "TimeCreated": "2026-06-30T23:30:10Z", "Message": HOSTILE}],
    )
    return fleet(
        hosts=[*fleet().hosts, ReportHost(HOSTILE, "wsus-root", True, '"><b>addr')],
        facts={**fleet().facts, "wsus-eu-01": bad},
        findings={
            "wsus-eu-01": [finding("wsus-eu-01", "error", title=HOSTILE, evidence={"message": HOSTILE})]
        },
        unreachable={"wsus-us": HOSTILE, HOSTILE: HOSTILE},
    )


def test_hostile_server_strings_are_text_never_markup():
    report = hostile_report()
    page = render_html(report)
    assert "<script>window" not in page
    assert "<img" not in page
    assert "&lt;script&gt;window.pwned=1;alert(&quot;x&quot;)&lt;/script&gt;" in page
    parsed = parse(page)
    assert sum(tag == "script" for tag, _ in parsed.tags) == 1  # only the page's own script
    assert not any(tag in ("img", "iframe") for tag, _ in parsed.tags)
    assert "<b>addr" not in page and "&quot;&gt;&lt;b&gt;addr" in page
    assert not any(k.startswith("on") for _, a in parsed.tags for k in a)
    assert HOSTILE in "".join(parsed.text)  # shown as text
    # the Content-Security-Policy allows only this page's own script, by hash
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp


def test_no_external_urls_anywhere():
    page = render_html(fleet())
    assert "http://" not in page and "https://" not in page
    for match in re.finditer(r'(?:src|href)="([^"]*)"', page):
        assert match.group(1).startswith("#"), match.group(0)


def test_schedules_and_times_in_utc_and_the_chosen_zone():
    data = report_data(fleet())
    root = data["hosts"]["wsus-root"]
    assert root["schedule"]["utc"] == "22:30"
    assert root["schedule"]["local"] == "00:30"  # CEST, UTC+2 on 2026-07-01
    assert root["schedule"]["local_zone"] == "CEST"
    assert root["last_sync"]["end_utc"] == "2026-06-30T21:10:10Z"
    assert root["last_sync"]["end_local"] == "2026-06-30T23:10:10+02:00"
    winter = report_data(fleet(generated_at=dt.datetime(2026, 1, 15, tzinfo=dt.timezone.utc)))
    assert winter["hosts"]["wsus-root"]["schedule"]["local"] == "23:30"  # CET, UTC+1
    planned = data["hosts"]["wsus-root"]["planned"]
    assert planned["utc"] == "20:00" and planned["local"] == "22:00"
    page = render_html(fleet())
    assert "UTC · Europe/Berlin" in page and "2026-06-30 23:10 CEST" in page
    utc = report_data(fleet(zone="UTC"))
    assert utc["hosts"]["wsus-root"]["schedule"]["local"] == "22:30"
    with pytest.raises(UsageError, match="IANA"):
        zone_info("Mars/Olympus")


def test_behind_means_never_synced_or_older_than_the_upstreams_last_success():
    hosts = report_data(fleet())["hosts"]
    assert hosts["wsus-root"]["behind"] is None
    # wsus-eu's last success (06-29 23:00) is older than wsus-root's (06-30 21:10); its last sync failed
    assert hosts["wsus-eu"]["last_success_utc"] == "2026-06-29T23:00:10Z"
    assert "older than wsus-root" in hosts["wsus-eu"]["behind"]
    assert hosts["wsus-eu-01"]["behind"] is None  # newer than wsus-eu's last success
    assert hosts["wsus-us"]["behind"] is None  # unknown: unreachable
    never = report_data(
        fleet(
            facts={
                **fleet().facts,
                "wsus-eu-01": facts("wsus-eu-01", upstream="wsus-eu", replica=True, last=None),
            }
        )
    )
    assert never["hosts"]["wsus-eu-01"]["behind"] == "never synchronized successfully"
    assert never["summary"]["behind"] == 2  # wsus-eu and wsus-eu-01
    page = render_html(fleet())
    row = re.search(r'<tr id="row-1" class="([^"]+)"', page).group(1)
    assert "behind" in row.split()


def test_json_document_shape():
    data = json.loads(json.dumps(report_data(fleet())))
    eu = data["hosts"]["wsus-eu"]
    assert eu["source"] == "WSUS-ROOT.corp.example:8530" and eu["upstream"] == "wsus-root"
    assert eu["replica"] is True and eu["as_intended"] is True
    assert eu["platform"] == {
        "wsus_version": "10.0.17763.678",
        "powershell": "5.1.17763.1",
        "os": "Microsoft Windows Server 2019 Standard",
        "database": "WID",
    }
    assert data["hosts"]["wsus-us"]["platform"] is None  # unreachable: unknown
    assert "WSUS 10.0.17763.678 · PS 5.1.17763.1 · WID" in render_html(fleet())
    assert eu["last_sync"]["result"] == "Failed" and eu["last_sync"]["error"] == "UssNotFound"
    assert [f["severity"] for f in eu["findings"]] == ["error", "warning"]  # worst first
    assert eu["worst_severity"] == "error"
    assert set(eu["findings"][0]) == {"check", "severity", "title", "evidence", "remedy", "source", "fix"}
    assert data["hosts"]["wsus-us"]["status"] == "unreachable"
    assert data["hosts"]["wsus-ap"]["status"] == "failed"
    assert data["hosts"]["wsus-eu-01"]["as_intended"] is False  # configured not a replica
    assert data["summary"] == {
        "servers": 5,
        "reachable": 3,
        "unreachable": 1,
        "failed": 1,
        "behind": 1,  # wsus-eu only: wsus-eu-01 is newer than it, wsus-us and wsus-ap are unknown
        "not_as_intended": 1,
        "errors": 1,
        "warnings": 1,
        "infos": 1,
    }
    assert data["plan"]["max_concurrent_per_upstream"] == 1


def test_an_infeasible_plan_is_reported_not_raised():
    page = render_html(fleet(plan=None, plan_error="the window of 1 h cannot hold <the fleet>"))
    assert "No stagger plan: the window of 1 h cannot hold &lt;the fleet&gt;" in page
    assert report_data(fleet(plan=None, plan_error="x"))["plan"] == {"error": "x"}


def test_a_report_in_utc_shows_each_time_once():
    page = render_html(fleet(zone="UTC"))
    assert "UTC · UTC" not in page and "CEST" not in page
    assert "2026-06-30 21:10 UTC" in page and "22:30 <span" in page


def test_report_command_refuses_bad_input_before_contacting_a_server(tmp_path):
    from tests.lab_fixtures import run_cli

    inventory = tmp_path / "inventory.yml"
    host = "{ansible_host: 127.0.0.250, ansible_user: u, wsusauto_password_env: NO_SUCH_VAR}"
    inventory.write_text(f"all:\n  hosts:\n    wsus-a: {host}\n")
    nowhere = run_cli("report", "-i", str(inventory))
    assert nowhere.returncode == 1 and "--html FILE" in nowhere.stderr
    bad_zone = run_cli("report", "-i", str(inventory), "--json", "--tz", "Mars/Olympus")
    assert bad_zone.returncode == 1 and "IANA" in bad_zone.stderr and "Traceback" not in bad_zone.stderr
    bad_window = run_cli("report", "-i", str(inventory), "--json", "--tz", "UTC", "--window", "late")
    assert bad_window.returncode == 1 and "22:00-05:00" in bad_window.stderr
