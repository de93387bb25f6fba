"""How long `wsusauto run` takes to stop after Ctrl+C while every host waits on a running sync.

    .venv/bin/python bench/stop_latency.py [--hosts 20] [--repeat 5] [--poll 30s]

A lab of ``--hosts`` servers whose synchronizations last ten hours; `wsusauto run playbooks/sync.yml`
starts one on each (the playbook's default 30 s poll interval) in its own process group. Once the
journal shows every sync started, the whole group gets SIGINT, as a terminal sends Ctrl+C; the
figure is the wall time from that signal to the process's exit (exit code 99, every sync named as
left running). Measured in thread mode (--processes 1) and with two worker processes. Goal (issue
15): about two seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wsusauto import exitcodes
from wsusauto.lab.runtime import Lab
from wsusauto.lab.topology import topology_from_dict
from wsusauto.output.log import configure_logging

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "playbooks" / "sync.yml"


def stop_once(inventory: Path, directory: Path, hosts: int, poll: str, processes: int) -> float:
    journal = directory / f"run-{time.monotonic_ns()}.jsonl"
    command = [
        sys.executable,
        "-m",
        "wsusauto.cli",
        "run",
        str(PLAYBOOK),
        "-i",
        str(inventory),
        "--journal",
        str(journal),
        "--processes",
        str(processes),
        "--forks",
        str(hosts),  # every host at once: each waits on its own sync
        "-e",
        f"sync_poll_interval={poll}",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        give_up = time.monotonic() + 300
        while time.monotonic() < give_up:
            text = journal.read_text(encoding="utf-8") if journal.exists() else ""
            # complete lines only: the run may be writing the next one
            records = [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]
            started = {r["host"] for r in records if r["event"] == "applying" and "attempt" in r}
            if len(started) == hosts:
                break
            if process.poll() is not None:
                raise SystemExit(f"the run ended before every sync started: {process.stderr.read()}")
            time.sleep(0.05)
        else:
            raise SystemExit("the syncs did not all start within 300 s")
        time.sleep(0.5)  # every host is now polling or waiting between polls
        sent = time.perf_counter()
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=300)
        latency = time.perf_counter() - sent
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    errors = process.stderr.read()
    named = sum("left running" in line for line in errors.splitlines())
    if process.returncode != exitcodes.INTERRUPTED or named != hosts:
        raise SystemExit(f"exit {process.returncode}, {named} syncs named left running: {errors}")
    return latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--poll", default="30s", help="the playbook's sync_poll_interval")
    args = parser.parse_args()
    configure_logging("console", "warning")
    servers = [
        {"name": f"stop-{i:03d}", "initial": {"SyncDurationSeconds": 36000}} for i in range(args.hosts)
    ]
    results: dict[str, list[float]] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        Lab(topology_from_dict({"servers": servers}), Path(tmp) / "lab", first_address="127.0.211.1") as lab,
    ):
        inventory = lab.write_inventory(Path(tmp) / "inventory.yml")
        for label, processes in (("threads (--processes 1)", 1), ("2 worker processes", 2)):
            results[label] = []
            for _ in range(args.repeat):
                # After the first run every server's sync still runs (it was left running): the next
                # run joins it, as synchronize joins a sync already running, and polls it the same way.
                results[label].append(stop_once(inventory, Path(tmp), args.hosts, args.poll, processes))
    print(
        f"stop latency: {args.hosts} hosts each polling a running sync (poll {args.poll}), {args.repeat} runs"
    )
    for label, runs in results.items():
        print(
            f"  {label:26s} median {statistics.median(runs):5.2f} s   "
            f"min {min(runs):5.2f} s   max {max(runs):5.2f} s   (goal: about 2 s)"
        )


if __name__ == "__main__":
    main()
