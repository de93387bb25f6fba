"""Where an Ansible task's time goes: the controller's process against its forked workers, and inside them.

    .venv/bin/python bench/ansible_task_profile.py               # the collection's 5 tasks, 20 hosts
    .venv/bin/python bench/ansible_task_profile.py --play raw --hosts 50
    .venv/bin/python bench/ansible_task_profile.py --play floor --top 40

Runs one of the playbooks of ansible_side_by_side.py (``collection``: the collection's 5 tasks;
``raw``: 5 raw psrp tasks; ``floor``: 5 set_fact tasks that never reach the host) with the Ansible
venv and the collection that script installs (run it once first), on a lab fleet converged by
``wsusauto run`` of the same 5 tasks. ansible-playbook runs in a small wrapper process that wraps
``WorkerProcess.run`` (what every forked worker runs, one per task per host) in cProfile with a CPU
clock, so each worker profiles itself from the moment it is forked to its result sent, and that
reports the controller's own CPU apart from its workers' (RUSAGE_SELF against RUSAGE_CHILDREN).

Prints: CPU per host-task on the controller and in the workers, then the workers' profiles merged,
by cumulative CPU, with the share of the workers' CPU each function accounts for. cProfile inflates
call-heavy code, so its shares are approximate; the CPU totals are not profiled (read from rusage
in a run without the profiler: ``--no-profile``).
"""

from __future__ import annotations

import argparse
import io
import json
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ansible_side_by_side as side  # noqa: E402

from wsusauto.lab.runtime import Lab  # noqa: E402
from wsusauto.lab.topology import topology_from_dict  # noqa: E402

PLAYS = {"collection": "collection_5", "raw": "ansible_5", "floor": "floor_5"}
FIRST_ADDRESS = "127.0.236.1"

# Runs in the Ansible venv's Python: ansible-playbook itself, its workers profiled when asked.
WRAPPER = r"""
import atexit, json, os, resource, runpy, sys, time
out_dir, profile, playbook = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
if profile:
    import cProfile
    from ansible.executor import task_queue_manager
    from ansible.executor.process import worker

    original_run, original_send = worker.WorkerProcess.run, task_queue_manager.FinalQueue.send_task_result
    profiler = None

    def profiled_run(self):
        global profiler
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        return original_run(self)

    def send_after_dump(self, result):
        # Written before the result is sent: once the controller has every result it may end the
        # workers (a dump after it would be cut short).
        if profiler is not None:
            profiler.disable()
            path = os.path.join(out_dir, f"worker-{os.getpid()}.prof")
            profiler.dump_stats(path + ".part")
            os.rename(path + ".part", path)
        return original_send(self, result)

    worker.WorkerProcess.run = profiled_run
    task_queue_manager.FinalQueue.send_task_result = send_after_dump


def report():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.path.join(out_dir, "rusage.json"), "w") as f:
        json.dump({"controller": own.ru_utime + own.ru_stime,
                   "workers": children.ru_utime + children.ru_stime}, f)


atexit.register(report)
sys.argv = [playbook, *sys.argv[4:]]
runpy.run_path(playbook, run_name="__main__")
"""


def run_playbook(argv: list[str], env: dict[str, str], out: Path, profile: bool) -> dict[str, float]:
    out.mkdir(parents=True, exist_ok=True)
    python, playbook = (
        str(side.ANSIBLE_VENV / "bin" / "python"),
        str(side.ANSIBLE_VENV / "bin" / "ansible-playbook"),
    )
    done = subprocess.run(
        [python, "-c", WRAPPER, str(out), "1" if profile else "0", playbook, *argv],
        env=env,
        cwd=out,  # not the checkout: ``python -c`` imports from its working directory first
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"ansible-playbook exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads((out / "rusage.json").read_text())


def merged_profile(out: Path, top: int, host_tasks: int, save: str | None = None) -> str:
    files = sorted(str(p) for p in out.glob("worker-*.prof"))
    stats = pstats.Stats(files[0], stream=io.StringIO())
    for name in files[1:]:
        stats.add(name)
    if save:
        stats.dump_stats(save)
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][3])  # type: ignore[attr-defined]
    lines = [
        f"{len(files)} workers profiled; their profiled CPU {total:.2f} s, "
        f"{1000 * total / host_tasks:.1f} ms per host-task",
        "  cum. share  cum. ms/host-task  own ms/host-task  function",
    ]
    for (filename, line, function), (_cc, _nc, tt, ct, _callers) in rows[:top]:
        where = filename.split("site-packages/")[-1] if "site-packages/" in filename else filename
        lines.append(
            f"  {100 * ct / total:9.1f}%  {1000 * ct / host_tasks:17.2f}  {1000 * tt / host_tasks:16.2f}"
            f"  {function} ({where}:{line})"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--play", choices=sorted(PLAYS), default="collection")
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--top", type=int, default=60, help="functions listed, by cumulative CPU")
    parser.add_argument("--no-profile", action="store_true", help="only the controller/worker CPU split")
    parser.add_argument("--save", default=None, help="also write the workers' merged profile (pstats) here")
    args = parser.parse_args()
    servers = [{"name": f"bench-{i:03d}"} for i in range(args.hosts)]
    with tempfile.TemporaryDirectory(prefix="ansprofile-") as tmp_name:
        tmp = Path(tmp_name)
        env = side.ansible_env(tmp)  # without PYTHONPATH: the Ansible side runs the installed wheel
        files = side.write_files(tmp)
        with Lab(topology_from_dict({"servers": servers}), tmp / "lab", first_address=FIRST_ADDRESS) as lab:
            inventory = str(lab.write_inventory(tmp / "inventory.yml"))
            converge = [
                sys.executable,
                "-m",
                "wsusauto.cli",
                "run",
                str(files["wsusauto_5_tasks"]),
                "-i",
                inventory,
            ]
            subprocess.run(converge, env={**env, "PYTHONPATH": str(ROOT)}, check=True, capture_output=True)
            argv = ["-i", inventory, "-f", str(args.forks), str(files[PLAYS[args.play]])]
            run_playbook([*argv, "-l", "bench-000"], env, tmp / "warm-up", profile=False)  # bytecode
            cpu = run_playbook(argv, env, tmp / "plain", profile=False)
            host_tasks = 5 * args.hosts
            controller, workers = cpu["controller"], cpu["workers"]
            print(
                f"{args.play}, {args.hosts} hosts x 5 tasks, forks {args.forks}: controller process "
                f"{controller:.2f} s CPU ({1000 * controller / host_tasks:.1f} ms per host-task), "
                f"its workers {workers:.2f} s ({1000 * workers / host_tasks:.1f} ms per host-task)"
            )
            if not args.no_profile:
                run_playbook(argv, env, tmp / "profiled", profile=True)
                print(merged_profile(tmp / "profiled", args.top, host_tasks, args.save))


if __name__ == "__main__":
    main()
