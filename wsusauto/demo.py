"""``make demo``: serve the default lab fleet in the background, show every server's facts, stop.

The lab runs as its own process through the real ``wsusauto lab serve`` command, and the facts are
read over real WinRM with the inventory the lab wrote, exactly as a user would do by hand.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from wsusauto.config.inventory import inventory_from_dict, load_inventory
from wsusauto.config.playbook import load_playbook, playbooks_dir
from wsusauto.execution.executor import HostExecutor
from wsusauto.execution.fleet import collect_facts
from wsusauto.execution.runner import Runner
from wsusauto.lab.topology import load_topology
from wsusauto.output.console import RunPrinter, output_console, print_facts_table
from wsusauto.output.log import configure_logging


def start_lab(
    state_dir: Path, inventory_path: Path, *extra_args: str, timeout: float = 120.0
) -> subprocess.Popen[str]:
    """Start ``wsusauto lab serve`` and return once it printed its ``ready`` line."""
    command = [
        sys.executable,
        "-m",
        "wsusauto.cli",
        "lab",
        "serve",
        "--state-dir",
        str(state_dir),
        "--inventory-out",
        str(inventory_path),
        *extra_args,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        if line.startswith("ready"):
            return process
        if time.monotonic() > deadline:
            break
    process.kill()
    _, err = process.communicate()
    raise RuntimeError(f"the lab did not start: {err.strip() or 'no ready line'}")


def stop_lab(process: subprocess.Popen[str], timeout: float = 30.0) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


DEMO_VERSIONS = {"eu": "2016", "us": "2012r2", "apac": "3.0-sp2"}
# Each region's Windows in another language (the root and apac in English), and apac's WSUS 3.0
# servers set up for SSL: their administration API answers only over SSL (setup key UsingSSL = 1).
DEMO_LOCALES = {"eu": "de-DE", "us": "fr-FR"}
DEMO_SSL_REGIONS = ("apac",)


def demo_topology() -> dict[str, Any]:
    """The default fleet, with short lab syncs, one transient sync failure on wsus-eu-02, and two
    problems the troubleshooting checks find and fix: a proxy without Range support in front of
    wsus-us (event 364) and a content folder that NETWORK SERVICE and Users cannot read on
    wsus-us-02. Regions differ in WSUS version and Windows language (eu: 2016 in German, us: 2012 R2
    in French, apac: WSUS 3.0 SP2 administered over SSL only)."""
    servers = []
    for spec in load_topology(None).servers:
        # a one-minute sync on the lab's clock, which runs 60 times faster in the demo
        entry: dict[str, Any] = {"name": spec.name, "initial": {"SyncDurationSeconds": 60}}
        # Each region on another WSUS version, none newer than its upstream (the root is the newest).
        region = spec.name.split("-")[1] if spec.name.count("-") else ""
        entry["version"] = DEMO_VERSIONS.get(region, "2022")
        if region in DEMO_LOCALES:
            entry["locale"] = DEMO_LOCALES[region]
        if region in DEMO_SSL_REGIONS:
            entry["initial"]["UsingSSL"] = 1
        if spec.upstream:
            entry.update(upstream=spec.upstream, replica=spec.replica)
        if spec.name == "wsus-eu-02":
            entry["faults"] = [{"name": "transient_sync_failure", "attempts": 1}]
        if spec.name == "wsus-us":
            entry["faults"] = ["range_header_unsupported"]
        if spec.name == "wsus-us-02":
            entry["faults"] = ["content_acl_missing"]
        servers.append(entry)
    return {"servers": servers}


def run_playbook(
    inventory: Any, name: str, console: Any, *, show_diff: bool, extra: dict[str, Any] | None = None
) -> Any:
    playbook = load_playbook(playbooks_dir() / name)
    if extra:
        inventory = inventory_from_dict(inventory_document(inventory, extra), inventory.source)
    printer = RunPrinter(console, show_diff=show_diff, only_changes=True)
    runner = Runner(inventory, playbook, forks=16, on_result=printer.result, on_play=printer.play)
    result = runner.run()
    printer.recap(result)
    return result


def inventory_document(inventory: Any, extra: dict[str, Any]) -> dict[str, Any]:
    hosts = {
        name: {k: v for k, v in host.vars.items() if k not in ("group_names", "inventory_hostname")}
        for name, host in inventory.hosts.items()
    }
    return {"all": {"vars": dict(extra), "hosts": hosts}}


def designate_hierarchy(inventory: Any, console: Any) -> Any:
    return run_playbook(inventory, "designate-replicas.yml", console, show_diff=True)


def main() -> int:
    configure_logging("console", "warning")
    console = output_console()
    with tempfile.TemporaryDirectory(prefix="wsusauto-demo-") as tmp:
        state_dir, inventory_path = Path(tmp) / "state", Path(tmp) / "inventory.yml"
        console.print(
            "[bold]Starting the lab[/bold]: 16 simulated WSUS servers on 127.0.10.x, "
            "WinRM with NTLM and message encryption…"
        )
        started = time.monotonic()
        topology = Path(tmp) / "topology.yml"
        topology.write_text(yaml.safe_dump(demo_topology()), encoding="utf-8")
        lab = start_lab(state_dir, inventory_path, "--topology", str(topology), "--time-scale", "60")
        stack = ExitStack()
        try:
            console.print(f"lab ready in {time.monotonic() - started:.1f} s; inventory: {inventory_path}")
            inventory = load_inventory(inventory_path)
            # The demo's reads (facts, diagnose, fixes, report) share one executor: one Session per
            # server for the whole demo; each playbook run has its own, as `wsusauto run` does.
            reads = stack.enter_context(HostExecutor(inventory, forks=16, thread_name="demo"))
            started = time.monotonic()
            results = collect_facts(inventory, inventory.select("all"), executor=reads)
            print_facts_table(results, console)
            ok = sum(r.status == "ok" for r in results)
            console.print(
                f"facts from {ok}/{len(results)} servers in {time.monotonic() - started:.1f} s "
                "(one RunspacePool per server, real pypsrp client)"
            )
            console.print(
                "\n[bold]Designating the intended hierarchy[/bold] (playbooks/designate-replicas.yml, --diff)"
            )
            started = time.monotonic()
            run = designate_hierarchy(inventory, console)
            console.print(f"done in {time.monotonic() - started:.1f} s, exit code {run.exit_code}")
            console.print(
                "\n[bold]Synchronizing the tree[/bold] (playbooks/sync-tree.yml): roots first, one sync per "
                "upstream at a time; wsus-eu-02 fails once (an injected transient fault) and the documented "
                "retry recovers it (lab time 60x faster; retry interval 3 s instead of 15 min)"
            )
            started = time.monotonic()
            sync_run = run_playbook(
                inventory,
                "sync-tree.yml",
                console,
                show_diff=False,
                extra={"sync_retry_interval": "3s", "sync_poll_interval": "0.5s"},
            )
            console.print(f"done in {time.monotonic() - started:.1f} s, exit code {sync_run.exit_code}")
            print_facts_table(collect_facts(inventory, inventory.select("all"), executor=reads), console)
            fixed = diagnose_and_fix(inventory, console, reads)
            if run.exit_code != 0 or sync_run.exit_code != 0 or not fixed:
                ok = -1
            report_path = write_fleet_report(inventory, console, reads)
        finally:
            stack.close()  # the demo's Sessions, before their servers go
            stop_lab(lab)
        console.print("lab stopped.")
    console.print(f"\n[bold]Fleet report[/bold] (open it in a browser): {report_path}")
    return 0 if ok == len(results) else 1


def diagnose_and_fix(inventory: Any, console: Any, executor: HostExecutor | None = None) -> bool:
    """``wsusauto diagnose``, then ``--fix`` (on ``executor``'s Sessions when given): True when the
    second diagnosis is clean and no fix failed (their exit code is 0)."""
    from wsusauto.diagnose import diagnose_fleet, document, fix_fleet, verdicts_with_fixes
    from wsusauto.execution.verdict import exit_code
    from wsusauto.output.console import print_diagnosis

    console.print("\n[bold]Troubleshooting[/bold] (wsusauto diagnose): the documented checks on every server")
    hosts = inventory.select("all")
    started = time.monotonic()
    diagnosis = diagnose_fleet(inventory, hosts, executor=executor, forks=16)
    print_diagnosis(document(diagnosis), console)
    console.print(f"diagnosed {len(hosts)} servers in {time.monotonic() - started:.1f} s")
    console.print("\n[bold]Applying the documented fixes[/bold] (wsusauto diagnose --fix)")
    started = time.monotonic()
    fixes = fix_fleet(inventory, diagnosis, executor=executor, forks=16, arguments={"poll_interval": "0.5s"})
    for host, results in fixes.items():
        for result in results:
            console.print(f"  {host}: {result.operation} {result.status}: {result.message}")
    after = diagnose_fleet(inventory, hosts, executor=executor, forks=16)
    remaining = sum(len(found) for found in after.findings.values())
    code = exit_code(verdicts_with_fixes(after, fixes).values())  # as `wsusauto diagnose --fix` exits
    console.print(
        f"fixed and diagnosed again in {time.monotonic() - started:.1f} s: "
        f"{remaining} finding(s) left, exit code {code}"
    )
    return code == 0


def write_fleet_report(inventory: Any, console: Any, executor: HostExecutor | None = None) -> Path:
    """``wsusauto report -i INVENTORY --html lab-report.html --max-concurrent-per-upstream 2``."""
    from wsusauto.output.html import gather_fleet_report, local_zone_name, write_report
    from wsusauto.stagger.planner import StaggerPolicy, window

    console.print("\n[bold]Writing the fleet report[/bold] (wsusauto report --html lab-report.html)")
    zone = local_zone_name()
    start, length = window("22:00-05:00", zone)
    policy = StaggerPolicy(window_start=int(start), window_length=length, max_concurrent=2)
    report = gather_fleet_report(
        inventory, inventory.select("all"), zone=zone, policy=policy, forks=16, executor=executor
    )
    return write_report(report, Path("lab-report.html")).resolve()


if __name__ == "__main__":
    sys.exit(main())
