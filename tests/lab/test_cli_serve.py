"""`wsusauto lab serve` and `wsusauto facts` as a user runs them: real processes, real signals."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tests.lab_fixtures import next_first_address
from wsusauto import exitcodes
from wsusauto.demo import start_lab, stop_lab


def _facts_cli(inventory, *args):
    return subprocess.run(
        [sys.executable, "-m", "wsusauto.cli", "facts", "-i", str(inventory), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_serve_default_topology_write_inventory_read_facts_and_stop_cleanly(tmp_path):
    inventory = tmp_path / "lab.yml"
    lab = start_lab(tmp_path / "state", inventory, "--first-address", next_first_address())
    try:
        data = yaml.safe_load(inventory.read_text())
        hosts = data["all"]["children"]["wsus"]["hosts"]
        assert len(hosts) == 16
        assert hosts["wsus-eu"]["wsus_upstream"] == "wsus-root"
        assert (
            hosts["wsus-eu-01"]["wsus_upstream"] == "wsus-eu" and hosts["wsus-eu-01"]["wsus_replica"] is True
        )
        assert data["all"]["vars"]["ansible_password"]  # lab-only credential, in clear by design

        result = _facts_cli(inventory, "--json", "--limit", "wsus-root:wsus-eu*")
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        assert sorted(document) == [
            "wsus-eu",
            "wsus-eu-01",
            "wsus-eu-02",
            "wsus-eu-03",
            "wsus-eu-04",
            "wsus-root",
        ]
        assert all(entry["status"] == "ok" for entry in document.values())
        assert document["wsus-eu"]["facts"]["sync_from_microsoft_update"] is True

        table = _facts_cli(inventory)
        assert table.returncode == 0, table.stderr
        assert "wsus-apac-04" in table.stdout and "Microsoft Update" in table.stdout
    finally:
        code = stop_lab(lab)
    assert code == 0
    assert "stopped" in lab.stdout.read()


def test_unreachable_host_gives_exit_code_4_and_others_still_answer(tmp_path):
    inventory = tmp_path / "lab.yml"
    topology = tmp_path / "topology.yml"
    topology.write_text(
        yaml.safe_dump(
            {"servers": [{"name": "wsus-root"}, {"name": "wsus-down", "faults": ["endpoint_down"]}]}
        )
    )
    lab = start_lab(
        tmp_path / "state", inventory, "--topology", str(topology), "--first-address", next_first_address()
    )
    try:
        result = _facts_cli(inventory, "--json")
    finally:
        stop_lab(lab)
    assert result.returncode == exitcodes.HOST_UNREACHABLE, result.stderr
    document = json.loads(result.stdout)
    assert document["wsus-root"]["status"] == "ok"
    assert document["wsus-down"]["status"] == "unreachable"
    assert "connection refused" in document["wsus-down"]["error"]


def test_unknown_fault_in_topology_is_one_clear_line(tmp_path):
    topology = tmp_path / "topology.yml"
    topology.write_text(yaml.safe_dump({"servers": [{"name": "a", "faults": ["no_such_fault"]}]}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsusauto.cli",
            "lab",
            "serve",
            "--topology",
            str(topology),
            "--state-dir",
            str(tmp_path / "s"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == exitcodes.USAGE
    assert "no_such_fault" in result.stderr and "endpoint_down" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_inventory_is_one_clear_line_and_exit_5(tmp_path):
    inventory = tmp_path / "bad.yml"
    inventory.write_text("all:\n  hosts: [oops]\n")
    result = _facts_cli(inventory)
    assert result.returncode == exitcodes.USAGE
    assert str(inventory) in result.stderr and "Traceback" not in result.stderr
