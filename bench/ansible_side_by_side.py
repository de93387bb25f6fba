"""wsusauto against Ansible (ansible-core, psrp connection) on the same lab fleet, side by side.

    .venv/bin/python bench/ansible_side_by_side.py                    # N = 10, 50, 200; forks 20
    .venv/bin/python bench/ansible_side_by_side.py --sizes 10 --repeat 3
    .venv/bin/python bench/ansible_side_by_side.py --sizes 20 --auth kerberos   # both over Kerberos

Installs ansible-core (the newest pip finds for this Python) and pypsrp into bench/.ansible-venv
the first time (with ``--auth kerberos`` also pyspnego[kerberos], which builds against libkrb5-dev).
``--auth kerberos`` serves the lab with its Kerberos realm (MIT's KDC) and has both tools log in as
``wsusadmin@WSUSLAB.TEST`` with the password, through ``KRB5_CONFIG`` of the lab's realm.

For each N it serves N lab hosts (NTLM with message encryption over HTTP, the lab
in worker processes), writes one inventory that both tools read unchanged, and runs, each with
the same forks:

  (a) facts     Ansible: ``ansible-playbook``, one play, ``gather_facts: false``, one ``raw`` task
                whose text is exactly a shipped read-only snippet;
                wsusauto: ``wsusauto facts`` (the get_facts snippet with its parameters).
  (c) 5 tasks   Ansible: the same play with 5 ``raw`` tasks (5 pipelines per host, each on a new
                connection, as Ansible's psrp plugin works per task);
                wsusauto ``run``, same work: 5 plays of one ``status`` task each (5 get_facts
                pipelines per host on one Session per host);
                wsusauto ``run``, its own way: one play with the 5-task playbook of bench/runner.py
                (status, schedule, no proxy, not a replica, Microsoft Update) on a converged
                fleet: facts read once per host, every task planned on them, nothing changed;
                the collection ``wsusauto.wsus``: ``ansible-playbook`` with the same 5 tasks as its
                plugins (``wsus_facts``, ``wsus_schedule``, ``wsus_proxy``, ``wsus_replica``,
                ``wsus_update_source``) on the same converged fleet (ok=5 changed=0 on every host);
                Ansible's floor: the same play with 5 ``set_fact`` tasks, which never touch the
                host: what Ansible itself costs per task (a forked worker, templating, results).

The collection row runs what a user installs: the wsusauto wheel built from this checkout and the
collection tarball built by ``ansible-galaxy collection build collection/``, both installed into
bench/.ansible-venv (again at every run, so the row measures this checkout). ``--no-collection``
leaves that row out.

Raw takes text only, no parameters, and get_facts cannot run without its registry path (it fails
as on Windows; tests/lab/test_ansible_form.py), so Ansible's raw task is get_synchronization_status,
the read-only snippet that needs no value. wsusauto's get_facts does more work on the server and
returns more (about 40 keys against 10), so the comparison leans towards Ansible.

Wall time and CPU: client CPU is RUSAGE_CHILDREN around the tool's process (ansible-playbook and
every fork it reaps; wsusauto and its worker processes); lab CPU is read from /proc for the lab's
worker processes. Results print as a markdown table (``--json-out`` keeps the numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from wsusauto.client.snippets import registry  # noqa: E402
from wsusauto.lab.runtime import Lab  # noqa: E402
from wsusauto.lab.topology import topology_from_dict  # noqa: E402

ANSIBLE_VENV = ROOT / "bench" / ".ansible-venv"
COLLECTIONS_PATH = ANSIBLE_VENV / "collections"
COLLECTION_SOURCE = ROOT / "collection"
RAW_SNIPPET = "get_synchronization_status"
FIRST_ADDRESS = "127.0.230.1"
WSUSAUTO_TASKS = [
    {"name": "status", "status": {}},
    {"name": "schedule", "schedule": {"automatic": True, "time": "03:00", "per_day": 1}},
    {"name": "no proxy", "proxy": {"enabled": False}},
    {"name": "not a replica", "replica": {"enabled": False}},
    {"name": "from Microsoft Update", "update_source": {"source": "microsoft_update"}},
]
# The same 5 tasks as the collection's plugins: wsusauto's operation ``x`` is ``wsusauto.wsus.wsus_x``
# with the same arguments, except ``status``, whose task in Ansible is reading the facts.
COLLECTION_MODULES = {"status": "wsus_facts"}


def collection_tasks() -> list[dict[str, object]]:
    tasks = []
    for task in WSUSAUTO_TASKS:
        ((operation, args),) = ((k, v) for k, v in task.items() if k != "name")
        module = COLLECTION_MODULES.get(operation, f"wsus_{operation}")
        tasks.append({"name": task["name"], f"wsusauto.wsus.{module}": dict(args)})
    return tasks


# -- the Ansible venv ------------------------------------------------------------------------------


def ensure_ansible(auth: str = "ntlm") -> dict[str, str]:
    """bench/.ansible-venv with ansible-core and pypsrp from PyPI; their versions."""
    playbook = ANSIBLE_VENV / "bin" / "ansible-playbook"
    python = str(ANSIBLE_VENV / "bin" / "python")
    if auth == "kerberos" and playbook.exists():
        has_gssapi = (
            subprocess.run([python, "-c", "import gssapi, krb5"], capture_output=True).returncode == 0
        )
        if not has_gssapi:
            print("installing pyspnego[kerberos] into the Ansible venv ...", flush=True)
            subprocess.run([python, "-m", "pip", "install", "-q", "pyspnego[kerberos]"], check=True)
    if not playbook.exists():
        print(f"installing ansible-core and pypsrp into {ANSIBLE_VENV} ...", flush=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(ANSIBLE_VENV)], check=True)
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "ansible-core", "pypsrp"]
            + (["pyspnego[kerberos]"] if auth == "kerberos" else []),
            check=True,
        )
    code = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({p: m.version(p) for p in ('ansible-core', 'pypsrp', 'pyspnego')} "
        "| {'python': sys.version.split()[0]}))"
    )
    out = subprocess.run([str(ANSIBLE_VENV / "bin" / "python"), "-c", code], capture_output=True, text=True)
    return json.loads(out.stdout)


def install_collection() -> dict[str, str]:
    """The wsusauto wheel and the collection tarball built from this checkout, installed into the
    Ansible venv as a user installs them (pip; ``ansible-galaxy collection install`` of the tarball)."""
    python = str(ANSIBLE_VENV / "bin" / "python")
    galaxy = str(ANSIBLE_VENV / "bin" / "ansible-galaxy")
    with tempfile.TemporaryDirectory(prefix="ansbench-build-") as build_name:
        build = Path(build_name)
        print("building the wsusauto wheel and the collection tarball ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(build), str(ROOT)], check=True
        )
        (wheel,) = build.glob("wsusauto-*.whl")
        subprocess.run(
            [galaxy, "collection", "build", str(COLLECTION_SOURCE), "--output-path", str(build), "--force"],
            check=True,
            capture_output=True,
        )
        (tarball,) = build.glob("wsusauto-wsus-*.tar.gz")
        # Dependencies first (most are ansible-core's and pypsrp's), then this checkout's wheel over
        # whatever wsusauto 0.1.0 an earlier run left (same version number, other code).
        subprocess.run([python, "-m", "pip", "install", "-q", str(wheel)], check=True)
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(wheel)], check=True
        )
        subprocess.run(
            [galaxy, "collection", "install", "--force", "-p", str(COLLECTIONS_PATH), str(tarball)],
            check=True,
            capture_output=True,
        )
    return {"wsusauto wheel": wheel.name, "collection": tarball.name}


def ansible_env(tmp: Path) -> dict[str, str]:
    # No PYTHONPATH: the Ansible side imports the wsusauto wheel installed in its venv.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "PYTHONPATH"}
    # An empty ansible.cfg of the run's: a path that does not exist in ANSIBLE_CONFIG is passed over
    # and Ansible reads ~/.ansible.cfg or /etc/ansible/ansible.cfg instead.
    config = tmp / "empty-ansible.cfg"
    config.write_text("")
    env.update(
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_GATHERING="explicit",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"),
        ANSIBLE_HOME=str(tmp / "ansible-home"),
        ANSIBLE_PYTHON_INTERPRETER="auto_silent",  # irrelevant for raw; silences discovery
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_CONFIG=str(config),  # ignore any ansible.cfg around
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH),  # the collection installed from its tarball
        PATH=f"{ANSIBLE_VENV / 'bin'}:{env.get('PATH', '')}",
    )
    return env


# -- measuring -------------------------------------------------------------------------------------


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Measure:
    wall: float
    client_cpu: float
    lab_cpu: float


def measure(lab: Lab, argv: list[str], env: dict[str, str], check) -> Measure:
    if argv[0] == sys.executable:  # wsusauto from this checkout, whatever the venv has installed
        env = {**env, "PYTHONPATH": str(ROOT)}
    pids = [p.pid for p in lab._processes]
    lab_before = sum(process_cpu(p) for p in pids)
    cpu_before, wall_before = children_cpu(), time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - wall_before
    client = children_cpu() - cpu_before
    lab_cpu = sum(process_cpu(p) for p in pids) - lab_before
    problem = check(done)
    if problem:
        sys.exit(f"{' '.join(argv[:3])} ...: {problem}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return Measure(wall, client, lab_cpu)


def ansible_recap_ok(hosts: int, tasks: int, changed: int | None = None):
    """Every host in the recap with ok=tasks (and changed=changed when given), none unreachable or failed."""

    def check(done: subprocess.CompletedProcess[str]) -> str | None:
        if done.returncode != 0:
            return f"ansible-playbook exited {done.returncode}"
        recap = re.findall(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", done.stdout)
        if len(recap) != hosts:
            return f"recap lists {len(recap)} hosts, expected {hosts}"
        bad = [
            r
            for r in recap
            if int(r[0]) != tasks or (changed is not None and int(r[1]) != changed) or r[2:] != ("0", "0")
        ]
        wanted = f"ok={tasks}" + ("" if changed is None else f" changed={changed}")
        return f"{len(bad)} hosts not {wanted}" if bad else None

    return check


def wsusauto_ok(done: subprocess.CompletedProcess[str]) -> str | None:
    return None if done.returncode == 0 else f"wsusauto exited {done.returncode}"


# -- the runs --------------------------------------------------------------------------------------


def raw_task(name: str, text: str, **more: object) -> dict[str, object]:
    """A raw task whose command is exactly ``text``. The mapping form: Ansible's free-form splitter
    refuses a snippet with an unbalanced quote in a comment ("synchronization's")."""
    return {"name": name, "raw": {"_raw_params": text}, **more}


def write_files(tmp: Path) -> dict[str, Path]:
    snippet = registry()[RAW_SNIPPET].text
    files = {
        "ansible_1": [
            {"name": "facts", "hosts": "all", "gather_facts": False, "tasks": [raw_task("facts", snippet)]}
        ],
        "ansible_5": [
            {
                "name": "five",
                "hosts": "all",
                "gather_facts": False,
                "tasks": [raw_task(f"snippet {i}", snippet) for i in range(1, 6)],
            }
        ],
        "wsusauto_5_plays": [
            {"name": f"status {i}", "hosts": "all", "tasks": [{"name": "status", "status": {}}]}
            for i in range(1, 6)
        ],
        "wsusauto_5_tasks": [{"name": "five", "hosts": "all", "tasks": WSUSAUTO_TASKS}],
        "floor_5": [
            {
                "name": "five",
                "hosts": "all",
                "gather_facts": False,
                "tasks": [
                    {"name": f"no host {i}", "ansible.builtin.set_fact": {"step": i}} for i in range(1, 6)
                ],
            }
        ],
        "collection_5": [
            {"name": "five", "hosts": "all", "gather_facts": False, "tasks": collection_tasks()}
        ],
    }
    paths = {}
    for name, data in files.items():
        path = tmp / f"{name}.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, width=10_000), encoding="utf-8")
        paths[name] = path
    return paths


def ansible_rc_check(tmp: Path, env: dict[str, str]) -> dict[str, int]:
    """Ansible's rc for a raw snippet that succeeds and for one that fails (get_facts, no values)."""
    names = (RAW_SNIPPET, "get_facts")
    tasks = [raw_task(name, registry()[name].text, ignore_errors=True) for name in names]
    playbook = tmp / "rc-check.yml"
    playbook.write_text(
        yaml.safe_dump([{"hosts": "all", "gather_facts": False, "tasks": tasks}], width=10_000),
        encoding="utf-8",
    )
    topology = topology_from_dict({"servers": [{"name": "rc-check"}]})
    with Lab(topology, tmp / "lab", first_address="127.0.229.1", workers=1) as lab:
        inventory = lab.write_inventory(tmp / "inventory.yml")
        done = subprocess.run(
            [str(ANSIBLE_VENV / "bin" / "ansible-playbook"), "-i", str(inventory), str(playbook), "-v"],
            env={**env, **ansible_env(tmp)},
            capture_output=True,
            text=True,
        )
    rcs = [int(rc) for rc in re.findall(r'"rc": (\d+)', done.stdout)]
    if len(rcs) != len(names):
        sys.exit(
            f"expected {len(names)} rc values from Ansible:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return dict(zip(names, rcs, strict=True))


def run_size(
    n: int,
    forks: int,
    repeat: int,
    workers: int,
    env: dict[str, str],
    auth: str = "ntlm",
    collection: bool = True,
) -> dict[str, Measure]:
    servers = [{"name": f"bench-{i:03d}"} for i in range(n)]
    wsusauto = [sys.executable, "-m", "wsusauto.cli"]
    with tempfile.TemporaryDirectory(prefix="ansbench-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**env, **ansible_env(tmp)}
        files = write_files(tmp)
        lab = Lab(
            topology_from_dict({"servers": servers}),
            tmp / "lab",
            first_address=FIRST_ADDRESS,
            workers=workers,
            kerberos=auth == "kerberos",
        )
        with lab:
            inventory = lab.write_inventory(tmp / "inventory.yml", auth=auth)
            if lab.realm is not None:
                env = {**env, "KRB5_CONFIG": str(lab.realm.krb5_conf)}
            f = ["-f", str(forks)]
            runs = {
                "a_ansible": (
                    [
                        str(ANSIBLE_VENV / "bin" / "ansible-playbook"),
                        "-i",
                        str(inventory),
                        *f,
                        str(files["ansible_1"]),
                    ],
                    ansible_recap_ok(n, 1),
                ),
                "a_wsusauto": ([*wsusauto, "facts", "-i", str(inventory), *f, "--json"], wsusauto_ok),
                "c_ansible": (
                    [
                        str(ANSIBLE_VENV / "bin" / "ansible-playbook"),
                        "-i",
                        str(inventory),
                        *f,
                        str(files["ansible_5"]),
                    ],
                    ansible_recap_ok(n, 5),
                ),
                "c_collection": (
                    [
                        str(ANSIBLE_VENV / "bin" / "ansible-playbook"),
                        "-i",
                        str(inventory),
                        *f,
                        str(files["collection_5"]),
                    ],
                    ansible_recap_ok(n, 5, changed=0),
                ),
                "c_floor": (
                    [
                        str(ANSIBLE_VENV / "bin" / "ansible-playbook"),
                        "-i",
                        str(inventory),
                        *f,
                        str(files["floor_5"]),
                    ],
                    ansible_recap_ok(n, 5, changed=0),
                ),
                "c_wsusauto_same": (
                    [*wsusauto, "run", str(files["wsusauto_5_plays"]), "-i", str(inventory), *f],
                    wsusauto_ok,
                ),
                "c_wsusauto_own": (
                    [*wsusauto, "run", str(files["wsusauto_5_tasks"]), "-i", str(inventory), *f],
                    wsusauto_ok,
                ),
            }
            if not collection:
                del runs["c_collection"]
            # Warm-up: converge the fleet for the 5-task playbook; compile both tools' bytecode.
            measure(lab, runs["c_wsusauto_own"][0], env, wsusauto_ok)
            measure(lab, [*runs["a_ansible"][0], "-l", "bench-000"], env, lambda d: None)
            if collection:  # and the collection finds the converged fleet converged: 0 changed
                measure(lab, [*runs["c_collection"][0], "-l", "bench-000"], env, ansible_recap_ok(1, 5, 0))
            results: dict[str, list[Measure]] = {k: [] for k in runs}
            for _ in range(repeat):
                for key, (argv, check) in runs.items():
                    results[key].append(measure(lab, argv, env, check))
                    m = results[key][-1]
                    print(
                        f"  N={n:<4} {key:16s} wall {m.wall:8.2f} s  client CPU {m.client_cpu:8.2f} s"
                        f"  lab CPU {m.lab_cpu:7.2f} s",
                        flush=True,
                    )
    return {
        key: Measure(
            statistics.median(m.wall for m in ms),
            statistics.median(m.client_cpu for m in ms),
            statistics.median(m.lab_cpu for m in ms),
        )
        for key, ms in results.items()
    }


# -- report ----------------------------------------------------------------------------------------

ROWS = [
    ("(a) facts, 1 pipeline/host", "a_ansible", "a_wsusauto"),
    ("(c) 5 tasks, same work: 5 pipelines/host", "c_ansible", "c_wsusauto_same"),
    ("(c) 5 tasks, wsusauto's way: 1 pipeline/host", "c_ansible", "c_wsusauto_own"),
]


FIVE_TASKS = [
    ("Ansible, 5 `set_fact` tasks (never reach the host)", "c_floor"),
    ("Ansible, 5 raw psrp tasks", "c_ansible"),
    ("Ansible, the collection's 5 tasks", "c_collection"),
    ("`wsusauto run`, the 5-task playbook", "c_wsusauto_own"),
]


def five_task_table(all_results: dict[int, dict[str, Measure]]) -> str:
    """The 5-task playbook three ways, each against `wsusauto run` (the last row)."""
    lines = [
        "| N | run | wall | client CPU | lab CPU | **wall / `wsusauto run`** | client CPU / `wsusauto run` "
        "| client CPU per host-task |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, results in all_results.items():
        ours = results["c_wsusauto_own"]
        for label, key in FIVE_TASKS:
            if key not in results:  # --no-collection
                continue
            m = results[key]
            lines.append(
                f"| {n} | {label} | {m.wall:.2f} s | {m.client_cpu:.2f} s | {m.lab_cpu:.2f} s "
                f"| **{m.wall / ours.wall:.1f}x** | {m.client_cpu / ours.client_cpu:.1f}x "
                f"| {1000 * m.client_cpu / (5 * n):.0f} ms |"
            )
    return "\n".join(lines)


def table(all_results: dict[int, dict[str, Measure]]) -> str:
    lines = [
        "| N | run | Ansible wall | wsusauto wall | **wall ratio** | Ansible client CPU "
        "| wsusauto client CPU | CPU ratio | lab CPU Ansible / wsusauto |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, results in all_results.items():
        for label, theirs_key, ours_key in ROWS:
            theirs, ours = results[theirs_key], results[ours_key]
            lines.append(
                f"| {n} | {label} | {theirs.wall:.1f} s | {ours.wall:.2f} s "
                f"| **{theirs.wall / ours.wall:.1f}x** | {theirs.client_cpu:.1f} s | {ours.client_cpu:.2f} s "
                f"| {theirs.client_cpu / ours.client_cpu:.1f}x "
                f"| {theirs.lab_cpu:.1f} s / {ours.lab_cpu:.1f} s |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,200", help="fleet sizes, comma-separated")
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (median)")
    parser.add_argument("--workers", type=int, default=0, help="lab worker processes (0: 1 per 100 hosts)")
    parser.add_argument("--json-out", default=None, help="also write the results as JSON to this file")
    parser.add_argument(
        "--no-collection",
        action="store_true",
        help="leave out the collection's row (and building the wheel and the tarball)",
    )
    parser.add_argument(
        "--auth",
        choices=("ntlm", "kerberos"),
        default="ntlm",
        help="how both tools log in (NTLM, or Kerberos against the lab's KDC; both with HTTP encryption)",
    )
    args = parser.parse_args()
    versions = ensure_ansible(args.auth)
    collection = not args.no_collection
    if collection:
        versions |= install_collection()
    print(f"Ansible side: {versions}; auth {args.auth}; load average {os.getloadavg()[0]:.1f}", flush=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    all_results: dict[int, dict[str, Measure]] = {}
    # PYTHONPATH only for wsusauto's runs (measure() sets it): Ansible imports the installed wheel.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory(prefix="ansbench-rc-") as tmp_name:
        rcs = ansible_rc_check(Path(tmp_name), env)
    print(
        f"Ansible rc: raw {RAW_SNIPPET} -> {rcs[RAW_SNIPPET]}, raw get_facts (fails) -> {rcs['get_facts']}",
        flush=True,
    )
    for n in sizes:
        workers = args.workers or max(1, (n + 99) // 100)
        all_results[n] = run_size(n, args.forks, args.repeat, workers, env, args.auth, collection)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    print(table(all_results))
    print()
    print(five_task_table(all_results))
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {
                    "versions": versions,
                    "rc": rcs,
                    "forks": args.forks,
                    "auth": args.auth,
                    "repeat": args.repeat,
                    "results": {n: {k: vars(m) for k, m in r.items()} for n, r in all_results.items()},
                    "table": table(all_results),
                    "five_task_table": five_task_table(all_results),
                },
                indent=2,
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
