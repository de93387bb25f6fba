"""The same fleet state gives the same exit code from every command, through the real client.

One lab per fleet state; in each, every command a user reads a fleet with (a read-only playbook
through ``run``, ``facts``, ``diagnose``, ``diagnose --fix --check``, ``report --json``,
``plan-schedule --json``, which still plans a host it could not read) runs as the
real console script and must exit with the state's code, and say the same of the faulty host:

- all good: 0;
- a failed host (its WsusPool stopped: WinRM answers, the WSUS API gives HTTP 503, so its facts
  snippet fails on the server): 2;
- refused credentials (one host's password wrong): 4, unreachable, as Ansible counts it;
- a host down (its endpoint refuses connections): 4;
- a bad inventory (a password variable that is not set): 1, one line, nothing contacted.

Where ``diagnose`` means something else by *failed* (an error or warning finding on a host that
every command could read), its own test below shows what each command does.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lab_fixtures import record_scripts, run_cli
from wsusauto import exitcodes
from wsusauto.lab.topology import topology_from_dict
from wsusauto.lab.wsman import EndpointFaults

STATUS_PLAYBOOK = str(Path(__file__).resolve().parents[2] / "playbooks" / "fleet-status.yml")
FAULTY = "wsus-02"  # a leaf: in hierarchy order, no other host waits for it
FASTER = 10  # the lab's clock: saves and syncs take a tenth of the time (none should happen here)

COMMANDS: dict[str, tuple[str, ...]] = {
    "run": ("run", STATUS_PLAYBOOK, "--json"),
    "facts": ("facts", "--json"),
    "diagnose": ("diagnose", "--json"),
    "diagnose --fix --check": ("diagnose", "--fix", "--check", "--json"),
    "report": ("report", "--json"),
    # two replicas of one upstream in the default window: K = 2 holds them in the worst case
    "plan-schedule": ("plan-schedule", "--max-concurrent-per-upstream", "2", "--json"),
}


def designated(name: str, upstream: str) -> dict[str, Any]:
    """A replica configured as the inventory intends, so a healthy fleet has no finding."""
    return {
        "name": name,
        "upstream": upstream,
        "replica": True,
        "initial": {
            "SyncFromMicrosoftUpdate": False,
            "UpstreamWsusServerName": upstream,
            "UpstreamWsusServerPortNumber": 8530,
            "IsReplicaServer": True,
        },
    }


def topology(faults: dict[str, list[Any]] | None = None) -> Any:
    servers = [{"name": "wsus-root"}, designated("wsus-01", "wsus-root"), designated(FAULTY, "wsus-root")]
    for server in servers:
        server["faults"] = (faults or {}).get(server["name"], [])
    return topology_from_dict({"servers": servers}, "<exit codes topology>")


@dataclass(frozen=True)
class State:
    code: int
    verdict: str  # what every command calls FAULTY ("ok" when nothing is wrong)
    message: str = ""  # a text each command's account of FAULTY holds
    faults: dict[str, list[Any]] = field(default_factory=dict)  # model faults (topology)
    endpoint: EndpointFaults | None = None  # transport faults of FAULTY
    host_vars: dict[str, Any] = field(default_factory=dict)  # FAULTY's inventory vars


STATES = {
    "all good": State(exitcodes.OK, "ok"),
    "a failed host": State(
        exitcodes.HOST_FAILED, "failed", "HTTP status 503", faults={FAULTY: ["wsus_pool_stopped"]}
    ),
    "refused credentials": State(
        exitcodes.HOST_UNREACHABLE,
        "unreachable",
        "refused the credentials",
        host_vars={"ansible_password": "not-the-lab-password"},
    ),
    "a host down": State(
        exitcodes.HOST_UNREACHABLE, "unreachable", "connection refused", endpoint=EndpointFaults(down=True)
    ),
}


def write_inventory(lab: Any, path: Path, host_vars: dict[str, Any]) -> Path:
    document = lab.inventory()
    document["all"]["children"]["wsus"]["hosts"][FAULTY].update(host_vars)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def run_every_command(inventory: Path) -> dict[str, Any]:
    """Every command at once (they only read; diagnose --fix runs in check mode)."""
    with ThreadPoolExecutor(max_workers=len(COMMANDS)) as pool:
        futures = {
            name: pool.submit(run_cli, *args, "-i", str(inventory), timeout=120)
            for name, args in COMMANDS.items()
        }
        return {name: future.result() for name, future in futures.items()}


def account(command: str, document: Any, host: str) -> tuple[str, str]:
    """(verdict, text) a command's JSON gives ``host``, in that command's own words."""
    if command == "run":
        counters = document["recap"][host]
        verdict = next((v for v in ("unreachable", "failed") if counters[v]), "ok")
        return verdict, " ".join(r["message"] for r in document["hosts"][host])
    if command == "facts":
        return document[host]["status"], document[host]["error"] or ""
    if command == "report":
        return document["hosts"][host]["status"], document["hosts"][host]["error"] or ""
    if command == "plan-schedule":  # one slot per host, planned with the default when not read
        (slot,) = [s for s in document if s["host"] == host]
        return slot["status"], slot["error"] or ""
    # diagnose: a host it could not read is one `connection` finding with the verdict as its status;
    # a host it could read is failed when it has an error or warning finding
    findings = document[host]
    if [f["check"] for f in findings] == ["connection"]:
        return findings[0]["evidence"]["status"], findings[0]["evidence"]["error"]
    serious = [f["title"] for f in findings if f["severity"] in ("error", "warning")]
    return ("failed" if serious else "ok"), "; ".join(serious)


@pytest.mark.parametrize("name", list(STATES))
def test_every_command_exits_the_same_way_for_a_fleet_state(make_lab, tmp_path, name):
    state = STATES[name]
    lab = make_lab(topology(state.faults), time_scale=FASTER)
    if state.endpoint is not None:
        lab.set_faults(FAULTY, state.endpoint)
    inventory = write_inventory(lab, tmp_path / "inventory.yml", state.host_vars)
    results = run_every_command(inventory)
    codes = {command: result.returncode for command, result in results.items()}
    assert codes == dict.fromkeys(COMMANDS, state.code), {c: r.stderr[-1500:] for c, r in results.items()}
    for command, result in results.items():
        assert "Traceback" not in result.stderr, (command, result.stderr)
        document = json.loads(result.stdout)
        verdict, text = account(command, document, FAULTY)
        assert verdict == state.verdict, (command, verdict, text)
        assert state.message in text, (command, text)
        for host in ("wsus-root", "wsus-01"):
            assert account(command, document, host)[0] == "ok", (command, host, document)


def test_a_bad_inventory_exits_1_from_every_command_and_contacts_no_server(make_lab, tmp_path, monkeypatch):
    lab = make_lab(topology(), time_scale=FASTER)
    scripts = record_scripts(lab, monkeypatch)
    inventory = write_inventory(
        lab, tmp_path / "inventory.yml", {"wsusauto_password_env": "WSUSAUTO_TEST_PASSWORD_NOT_SET"}
    )
    monkeypatch.delenv("WSUSAUTO_TEST_PASSWORD_NOT_SET", raising=False)
    results = run_every_command(inventory)
    assert scripts == []  # nothing was contacted: the mistake was found first
    for command, result in results.items():
        assert result.returncode == exitcodes.USAGE, (command, result.stdout[-500:], result.stderr[-1500:])
        assert result.stdout == "", command
        # one error line (the inventory's warning about the lab's clear password is a log line)
        errors = [line for line in result.stderr.splitlines() if line.startswith("wsusauto: ")]
        assert len(errors) == 1 and "Traceback" not in result.stderr, (command, result.stderr)
        assert "WSUSAUTO_TEST_PASSWORD_NOT_SET is not set" in errors[0] and FAULTY in errors[0], command


def test_a_finding_fails_a_host_for_diagnose_only(make_lab, tmp_path):
    """diagnose's own meaning of failed (wsusauto.diagnose): a server every command can read, with a
    warning or error finding (BITS disabled), is failed for diagnose (with or without --fix --check:
    2), and ok for the commands that read it (0); report shows the finding without failing on it."""
    lab = make_lab(topology({FAULTY: ["bits_disabled"]}), time_scale=FASTER)
    inventory = write_inventory(lab, tmp_path / "inventory.yml", {})
    results = run_every_command(inventory)
    codes = {command: result.returncode for command, result in results.items()}
    assert codes == {
        "run": exitcodes.OK,
        "facts": exitcodes.OK,
        "diagnose": exitcodes.HOST_FAILED,
        "diagnose --fix --check": exitcodes.HOST_FAILED,
        "report": exitcodes.OK,
        "plan-schedule": exitcodes.OK,
    }, {c: r.stderr[-1500:] for c, r in results.items()}
    documents = {command: json.loads(result.stdout) for command, result in results.items()}
    for command in ("diagnose", "diagnose --fix --check"):
        assert account(command, documents[command], FAULTY)[0] == "failed", command
        assert [f["check"] for f in documents[command][FAULTY]] == ["bits-service"], command
    assert documents["diagnose --fix --check"][FAULTY][0]["fix_result"]["status"] == "would change"
    report = documents["report"]["hosts"][FAULTY]
    assert report["status"] == "ok" and [f["check"] for f in report["findings"]] == ["bits-service"]
    assert (
        account("run", documents["run"], FAULTY)[0] == account("facts", documents["facts"], FAULTY)[0] == "ok"
    )
