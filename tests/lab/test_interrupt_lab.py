"""Ctrl+C during `wsusauto run`: the run stops, exits 99, and names the syncs left running.

The command runs as a user runs it (a new process, the console script's main()) in its own process
group, and gets SIGINT the way a terminal sends Ctrl+C: to the whole group (worker processes too).
The lab runs in the test process, so the test sees what the servers do. How fast the run stops is
measured in bench/stop_latency.py, never asserted here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lab_fixtures import inventory_file
from wsusauto import exitcodes
from wsusauto.lab import sync as lab_sync
from wsusauto.output.journal import read_journal

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "sync.yml"
FASTER = 10  # the lab's clock, as in the other synchronize tests
# Short polls; the documented 15-minute retry interval, so a failed attempt's retry is far off.
OPTIONS = ["-e", "sync_poll_interval=0.2s", "-e", "sync_timeout=2h"]


@pytest.fixture
def lab(make_lab):
    lab = make_lab(
        {
            "servers": [
                {"name": "wsus-long"},  # its sync outlasts the test: it is left running
                {"name": "wsus-flaky", "faults": [{"name": "transient_sync_failure", "attempts": 1}]},
                {"name": "wsus-quick"},
            ]
        },
        time_scale=FASTER,
    )
    for server in lab.handlers.servers.values():
        server.set(SyncDurationSeconds=0.3)
    lab.handlers.servers["wsus-long"].set(SyncDurationSeconds=10 * 3600)
    return lab, inventory_file(lab)


def server_state(server) -> tuple[int, bool]:
    """How many syncs the lab server has finished, and whether one is requested or running."""
    with lab_sync.locked(server):
        state = server.members("SynchronizationStatus", lab_sync.STARTS_AT)
        return len(server.db.sync_history(10)), bool(
            state["SynchronizationStatus"] != "NotProcessing" or state[lab_sync.STARTS_AT]
        )


def written_lines(path: Path) -> list[dict]:
    """The journal's complete lines so far (the run may be writing the next one)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


def wait_for_journal(path: Path, process: subprocess.Popen, ready) -> list[dict]:
    """The journal once ``ready(records)`` holds (a guard against a hang, not a timing assertion)."""
    give_up = time.monotonic() + 120
    while time.monotonic() < give_up:
        records = written_lines(path)
        if ready(records):
            return records
        if process.poll() is not None:
            pytest.fail(
                f"the run ended (exit {process.returncode}) before the journal showed what it waits for"
            )
        time.sleep(0.05)
    pytest.fail(f"the journal never showed what the test waits for: {records}")


def events(records: list[dict], event: str, host: str) -> list[dict]:
    return [r for r in records if r["event"] == event and r.get("host") == host]


def interrupt_when(command: list[str], journal: Path, ready, stdout: Path, stderr: Path) -> subprocess.Popen:
    """``wsusauto COMMAND`` in its own process group (as a terminal's foreground job), sent SIGINT to
    the whole group (Ctrl+C) once its journal shows ``ready``; returns the ended process."""
    with open(stdout, "w") as out, open(stderr, "w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "wsusauto.cli", *command], stdout=out, stderr=err, start_new_session=True
        )
        try:
            wait_for_journal(journal, process, ready)
            os.killpg(process.pid, signal.SIGINT)  # Ctrl+C
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return process


@pytest.mark.parametrize(
    ("mode", "extra"),
    [("threads", ["--processes", "1"]), ("worker processes", ["--processes", "2", "--json"])],
)
def test_ctrl_c_stops_the_run_and_names_the_syncs_left_running(lab, tmp_path, mode, extra):
    lab_, inventory = lab
    servers = lab_.handlers.servers
    journal = tmp_path / "run.jsonl"
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    command = ["run", str(PLAYBOOK), "-i", str(inventory), "--journal", str(journal), *OPTIONS, *extra]

    def ready(records):  # the long sync started (the server has it); the others' first attempts ended
        return (
            events(records, "applying", "wsus-long")
            and server_state(servers["wsus-long"])[1]
            and events(records, "attempt", "wsus-flaky")
            and events(records, "attempt", "wsus-quick")
        )

    process = interrupt_when(command, journal, ready, stdout, stderr)
    message = stderr.read_text()

    assert process.returncode == exitcodes.INTERRUPTED, message
    left_lines = [line for line in message.splitlines() if "left running" in line]
    assert len(left_lines) == 1 and "wsus-long" in left_lines[0], message  # one line per sync
    assert "goes on" in left_lines[0]

    records = read_journal(journal)
    [applying] = events(records, "applying", "wsus-long")
    assert applying["attempt"] == 1 and not events(records, "attempt", "wsus-long")  # started, not ended
    assert (applying["task"], applying["operation"]) == ("Synchronize and wait", "synchronize")
    assert applying["started"][:19].replace("T", " ") + " UTC" in left_lines[0]  # when it started
    [interrupted] = [r for r in records if r["event"] == "interrupted"]
    assert [(s["host"], s["attempt"]) for s in interrupted["left_running"]] == [("wsus-long", 1)]
    assert interrupted["left_running"][0]["started"] == applying["started"]
    assert [r["result"] for r in events(records, "attempt", "wsus-flaky")] == ["Failed"]
    assert [r["result"] for r in events(records, "attempt", "wsus-quick")] == ["Succeeded"]

    assert server_state(servers["wsus-long"]) == (0, True)  # its sync goes on on the server
    assert server_state(servers["wsus-flaky"]) == (1, False)  # its retry was never started
    assert server_state(servers["wsus-quick"]) == (1, False)

    if "--json" in extra:
        document = json.loads(stdout.read_text())
        assert [s["host"] for s in document["interrupted"]["left_running"]] == ["wsus-long"]
        # what each stopped host's task says: the sync it left running, the retry it did not start
        [long_task], [flaky_task] = document["hosts"]["wsus-long"], document["hosts"]["wsus-flaky"]
        assert "left running on the server" in long_task["message"] and long_task["attempts"] == []
        assert "before attempt 2 started" in flaky_task["message"]
        assert [a["result"] for a in flaky_task["attempts"]] == ["Failed"]
        assert document["hosts"]["wsus-quick"][0]["status"] == "changed"


def test_ctrl_c_during_diagnose_fix_names_the_fix_sync_left_running(make_lab, tmp_path):
    upstream = {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"}
    lab = make_lab(
        {
            "servers": [
                {"name": "wsus-root"},
                # BITS disabled: --fix repairs it, then synchronizes (a sync that outlasts the test)
                {
                    "name": "wsus-01",
                    "upstream": "wsus-root",
                    "faults": ["bits_disabled"],
                    "initial": upstream,
                },
            ]
        },
        time_scale=FASTER,
    )
    lab.handlers.servers["wsus-01"].set(SyncDurationSeconds=10 * 3600)
    ended_before, _ = server_state(lab.handlers.servers["wsus-01"])  # the fault's evidence: a failed sync
    journal, stdout, stderr = tmp_path / "fix.jsonl", tmp_path / "stdout", tmp_path / "stderr"
    command = ["diagnose", "-i", str(inventory_file(lab)), "--fix", "--poll-interval", "0.2s"]
    process = interrupt_when(
        [*command, "--journal", str(journal), "--json"],
        journal,
        # the fix's sync was started, and the server has it (not only the journal's applying line)
        lambda records: (
            any("attempt" in r for r in events(records, "applying", "wsus-01"))
            and server_state(lab.handlers.servers["wsus-01"])[1]
        ),
        stdout,
        stderr,
    )
    message = stderr.read_text()

    assert process.returncode == exitcodes.INTERRUPTED, message
    left_lines = [line for line in message.splitlines() if "left running" in line]
    assert len(left_lines) == 1 and "wsus-01" in left_lines[0], message
    records = read_journal(journal)
    [started] = [r for r in events(records, "applying", "wsus-01") if "attempt" in r]
    assert (started["task"], started["operation"]) == ("fix bits-service", "bits_service")  # the fix's sync
    [interrupted] = [r for r in records if r["event"] == "interrupted"]
    assert [s["host"] for s in interrupted["left_running"]] == ["wsus-01"]
    assert [s["host"] for s in json.loads(stdout.read_text())["interrupted"]["left_running"]] == ["wsus-01"]
    assert server_state(lab.handlers.servers["wsus-01"]) == (ended_before, True)  # its sync goes on
