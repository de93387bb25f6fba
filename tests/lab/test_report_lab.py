"""`wsusauto report` against a lab, and the report opened in headless Chromium.

Chromium is Debian's `chromium` package (`.ci/run` installs it where missing), driven through the
DevTools protocol by playwright's Python package with ``executable_path`` (no browser download).
The report's JSON and the page's self-containment are checked without a browser, so that part runs
everywhere. The page must render with no console error, make no network request, and have its parts:
the tree, one row per server, the stagger SVG, sorting and filtering. A full-page screenshot is kept
in test-artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.lab_fixtures import run_cli, running_lab
from wsusauto.lab.topology import topology_from_dict

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FAST = ["-e", "sync_retry_interval=1s", "-e", "sync_poll_interval=0.2s", "-e", "sync_timeout=60s"]
HOSTS = ["wsus-root", "wsus-01", "wsus-02", "wsus-03", "wsus-down"]


def lab_topology():
    """root <- 01, 02 (replicas, configured), 03 still on Microsoft Update (not as intended), down."""
    servers = [{"name": "wsus-root", "initial": {"SyncDurationSeconds": 30}}]
    for name in ("wsus-01", "wsus-02"):
        servers.append(
            {
                "name": name,
                "upstream": "wsus-root",
                "replica": True,
                "initial": {
                    "SyncFromMicrosoftUpdate": False,
                    "UpstreamWsusServerName": "wsus-root",
                    "IsReplicaServer": True,
                    "SyncDurationSeconds": 30,
                },
            }
        )
    servers[-1]["initial"]["Services"] = {"BITS": {"State": "Stopped", "StartMode": "Disabled"}}
    servers.append({"name": "wsus-03", "upstream": "wsus-root", "replica": True})
    servers.append(
        {"name": "wsus-down", "upstream": "wsus-root", "replica": True, "faults": ["endpoint_down"]}
    )
    return topology_from_dict({"servers": servers}, "<report test topology>")


@pytest.fixture
def chromium() -> str:
    """Debian's chromium, or one line why not: a skip, unless .ci/run (which installs it) requires it."""
    if CHROMIUM is None:
        reason = "no chromium binary (Debian's chromium package; .ci/run installs it)"
        if os.environ.get("WSUSAUTO_BROWSER_TEST") == "required":
            pytest.fail(f"browser test required but cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


def open_in_chromium(html_path: Path, screenshot: Path, check):
    """Open the page; ``check(page)`` runs inside. Returns (console errors, non-file requests)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "assert") else None)
            page.on("pageerror", lambda e: errors.append(f"exception: {e}"))
            page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
            page.on("request", lambda r: None if r.url.startswith("file:") else requests.append(r.url))
            page.goto(html_path.resolve().as_uri())
            page.wait_for_load_state("load")
            check(page)
            page.reload()  # the screenshot shows the page as it opens
            page.wait_for_load_state("load")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return errors, requests


def visible_hosts(page) -> list[str]:
    return page.eval_on_selector_all(
        "#servers tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.host)"
    )


@pytest.fixture(scope="module")
def lab_report(tmp_path_factory):
    """``wsusauto report`` over the lab once (a synced root): its completed process and HTML file."""
    tmp_path = tmp_path_factory.mktemp("report")
    html_path = tmp_path / "report.html"
    with running_lab(tmp_path, lab_topology(), time_scale=60) as lab:
        inventory = str(lab.write_inventory(tmp_path / "inventory.yml"))
        synced = run_cli(
            "run", str(ROOT / "playbooks" / "sync.yml"), "-i", inventory, "--limit", "wsus-root", *FAST
        )
        assert synced.returncode == 0, synced.stdout + synced.stderr
        args = ["report", "-i", inventory, "--tz", "Europe/Berlin", "--max-concurrent-per-upstream", "3"]
        result = run_cli(*args, "--html", str(html_path), "--json")
    return result, html_path


def test_report_command_over_the_lab_writes_the_fleet_and_a_self_contained_page(lab_report):
    result, html_path = lab_report
    assert result.returncode == 4, result.stderr  # wsus-down is unreachable, as with `facts`
    assert f"report written: {html_path}" in result.stderr
    data = json.loads(result.stdout)
    hosts = data["hosts"]
    assert list(hosts) == HOSTS
    assert hosts["wsus-down"]["status"] == "unreachable" and hosts["wsus-down"]["error"]
    assert hosts["wsus-root"]["last_sync"]["result"] == "Succeeded" and hosts["wsus-root"]["behind"] is None
    assert hosts["wsus-01"]["upstream"] == "wsus-root" and hosts["wsus-01"]["replica"] is True
    assert hosts["wsus-01"]["behind"] == "never synchronized successfully"
    assert hosts["wsus-03"]["source"] == "Microsoft Update" and hosts["wsus-03"]["as_intended"] is False
    for entry in hosts.values():
        if entry["status"] == "ok":
            assert re.fullmatch(r"\d\d:\d\d", entry["schedule"]["utc"])
            assert entry["schedule"]["local_zone"] in ("CET", "CEST")
    assert data["plan"]["max_concurrent_per_upstream"] == 3 and hosts["wsus-01"]["planned"]
    [root] = [n for n in data["tree"] if n["host"] == "wsus-root"]
    assert {c["host"] for c in root["children"]} == {"wsus-01", "wsus-02", "wsus-down"}
    findings = {
        host: [(f["check"], f["severity"], f["title"]) for f in e["findings"]] for host, e in hosts.items()
    }
    assert findings == {
        "wsus-root": [],
        "wsus-01": [],
        "wsus-02": [("bits-service", "error", "the BITS service is disabled; the BITS service is stopped")],
        "wsus-03": [
            ("hierarchy-consistency", "warning", "replica flag is False, the inventory says True"),
            (
                "hierarchy-consistency",
                "warning",
                "synchronizes from Microsoft Update, the inventory says wsus-root",
            ),
        ],
        "wsus-down": [],  # unreachable: no evidence, no findings
    }

    page_text = html_path.read_text(encoding="utf-8")
    assert "http://" not in page_text and "https://" not in page_text
    assert all(m.startswith("#") for m in re.findall(r'(?:src|href)="([^"]*)"', page_text))


def test_the_lab_report_renders_in_chromium(chromium, lab_report):
    _, html_path = lab_report

    def check(page):
        assert page.locator("#tree li").count() == len(HOSTS)
        assert page.locator("#tree > ul > li > ul > li").count() == 3  # below wsus-root
        assert visible_hosts(page) == HOSTS
        assert page.locator("svg#timeline rect").count() > len(HOSTS)
        assert page.locator("svg#timeline").bounding_box()["width"] > 500
        page.click("th[data-key=name]")
        ascending = visible_hosts(page)
        assert ascending == sorted(HOSTS)
        page.click("th[data-key=name]")
        assert visible_hosts(page) == sorted(HOSTS, reverse=True)
        page.click("th[data-key=status]")  # unreachable first
        assert visible_hosts(page)[0] == "wsus-down"
        page.fill("#filter", "wsus-0")
        assert sorted(visible_hosts(page)) == ["wsus-01", "wsus-02", "wsus-03"]
        assert page.locator("#shown").inner_text() == "3 of 5 servers shown"
        page.fill("#filter", "")
        page.select_option("#show", "problems")
        shown = visible_hosts(page)
        assert "wsus-down" in shown and "wsus-01" in shown and "wsus-root" not in shown

    errors, requests = open_in_chromium(html_path, ARTIFACTS / "fleet-report-lab.png", check)
    assert errors == []
    assert requests == []
    assert (ARTIFACTS / "fleet-report-lab.png").stat().st_size > 10_000


def test_hostile_server_strings_stay_text_in_chromium(chromium, tmp_path):
    from tests.unit.test_report_html import HOSTILE, hostile_report  # the unit tests' hand-made fleet
    from wsusauto.output.html import write_report

    html_path = write_report(hostile_report(), tmp_path / "hostile.html")

    def check(page):
        assert page.locator("#servers img, #findings img, #tree img").count() == 0
        assert HOSTILE in page.locator("#servers").inner_text()
        assert page.evaluate("typeof window.pwned") == "undefined"

    errors, requests = open_in_chromium(html_path, ARTIFACTS / "fleet-report-hostile.png", check)
    assert errors == [] and requests == []
