"""Real ``ansible-playbook`` with the built collection, as a user runs it, against the lab.

The session's ``ansible`` fixture:

- keeps ansible-core in a venv of its own, ``build/ansible-test-venv`` (git-ignored, kept between
  runs, made again when its inputs change: this Python, pyproject.toml's dependencies, the Ansible
  requirements below), as ``bench/ansible_side_by_side.py`` keeps its own;
- builds the wsusauto wheel from this checkout and installs it there (the collection's
  requirements.txt: what an execution environment installs);
- builds the collection with ``ansible-galaxy collection build`` and installs the tarball into a
  collections directory of the session's;
- runs ``ansible-playbook`` (``ansible.playbook(inventory, playbook, *args)``) in an environment
  without the developer's Ansible settings and without PYTHONPATH (wsusauto comes from the wheel),
  returning rc, stdout, stderr and the parsed PLAY RECAP.

Without PyPI (the venv cannot be made) the tests skip with one line; with
WSUSAUTO_ANSIBLE_TEST=required (.ci/run) they fail instead.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / "build" / "ansible-test-venv"
# The newest ansible-core line the collection's tests are written for, pinned to that line and not
# "whatever pip finds newest": a new ansible-core release (2.20) changes what ansible-test sanity checks
# (collection/tests/sanity/ignore-2.19.txt is per version) and how results are shown, and would break CI
# unseen, on a day nobody changed the collection. Moving to the next line is a commit of its own, with
# its ignore file. And ansible-builder, which checks the execution environment definition in the docs.
ANSIBLE_REQUIREMENTS = ("ansible-core>=2.19,<2.20", "ansible-builder")
# The oldest ansible-core the collection supports (meta/runtime.yml's requires_ansible), in a venv of
# its own: a subset of the lab tests runs on it too (the ``ansible_each`` fixture), so the claim is
# tested. 2.15 is the oldest line whose controller runs on Python 3.11; it has no data tagging (values
# reach the plugins as AnsibleUnsafeText etc.).
OLDEST_VENV = ROOT / "build" / "ansible-oldest-venv"
OLDEST_REQUIREMENTS = ("ansible-core>=2.15,<2.16",)
REQUIRED = os.environ.get("WSUSAUTO_ANSIBLE_TEST") == "required"
# What a pip install from PyPI may take: a cold build on a slow index.
PIP_TIMEOUT = 900
ANSIBLE_FIXTURES = {"ansible", "ansible_oldest", "ansible_each"}

_RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    recap: dict[str, dict[str, int]]  # host -> ok, changed, unreachable, failed, skipped, rescued, ignored

    def __str__(self) -> str:  # what a failed assertion shows
        return f"rc={self.rc}\n--- stdout ---\n{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-3000:]}"


def parse_recap(stdout: str) -> dict[str, dict[str, int]]:
    recap_at = stdout.rfind("PLAY RECAP")
    found = _RECAP.finditer(stdout[recap_at:] if recap_at >= 0 else "")
    return {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"} for m in found}


class Ansible:
    """ansible-core in its own venv, with the wsusauto wheel and the built collection installed."""

    def __init__(self, venv: Path, collections: Path, home: Path) -> None:
        self.venv = venv
        self.collections = collections
        self.home = home
        self.tarball: Path | None = None  # the built collection
        self.wheel: Path | None = None  # the built wsusauto wheel
        self._runs = 0
        self.last_run: tuple[str, PlaybookRun] | None = None  # the test that ran it, and the run

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of an Ansible command: none of the developer's Ansible settings, no
        PYTHONPATH (wsusauto is the installed wheel), the session's collections only."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "PYTHONPATH"}
        env.update(
            ANSIBLE_CONFIG=str(self._empty_config()),  # ignore any ansible.cfg around
            ANSIBLE_HOME=str(self.home / "ansible-home"),
            ANSIBLE_LOCAL_TEMP=str(self.home / "ansible-tmp"),
            ANSIBLE_COLLECTIONS_PATH=str(self.collections),
            ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False",
            ANSIBLE_HOST_KEY_CHECKING="False",
            ANSIBLE_RETRY_FILES_ENABLED="False",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_DEPRECATION_WARNINGS="False",
            ANSIBLE_PYTHON_INTERPRETER="auto_silent",
            PATH=f"{self.venv / 'bin'}:{env.get('PATH', '')}",
        )
        env.update(extra or {})
        return env

    def _empty_config(self) -> Path:
        """An empty ansible.cfg: Ansible reads it instead of ~/.ansible.cfg or /etc/ansible's (a path
        that does not exist in ANSIBLE_CONFIG is passed over, and those are read)."""
        path = self.home / "empty-ansible.cfg"
        if not path.exists():
            path.write_text("# the tests run Ansible's defaults and the environment's settings only\n")
        return path

    def playbook(
        self,
        inventory: Path,
        playbook: Path | str | Sequence[Mapping[str, Any]],
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 600,
        stdin: str | None = None,
    ) -> PlaybookRun:
        """``ansible-playbook -i inventory playbook args``; ``playbook`` is a file, a collection's
        playbook by name (``wsusauto.wsus.designate_hierarchy``) or the plays themselves (written
        next to the inventory). ``stdin`` answers Ansible's prompts (``-k``): the command runs
        without a terminal, so getpass reads it from standard input."""
        if not isinstance(playbook, Path | str):
            self._runs += 1
            path = inventory.parent / f"playbook-{self._runs}.yml"
            path.write_text(yaml.safe_dump(list(playbook), sort_keys=False), encoding="utf-8")
            playbook = path
        done = subprocess.run(
            [self.bin("ansible-playbook"), "-i", str(inventory), str(playbook), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(env),
            cwd=str(inventory.parent),
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            start_new_session=True,  # no controlling terminal: prompts read standard input
        )
        run = PlaybookRun(done.returncode, done.stdout, done.stderr, parse_recap(done.stdout))
        self.last_run = (os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0], run)
        return run

    def run(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Another Ansible command of the venv (``ansible-doc``, ``ansible-galaxy``, ...)."""
        return subprocess.run(
            [self.bin(argv[0]), *argv[1:]], capture_output=True, text=True, timeout=timeout, env=self.env()
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report ends with its last ansible-playbook's output: ``assert ..., run``
    shows pytest's repr of the run, cut to 240 characters under ``pytest -q`` (CI's), which leaves
    out the task that failed and why."""
    report = yield
    runners = [r for r in getattr(item, "funcargs", {}).values() if isinstance(r, Ansible)]
    runner = runners[0] if runners else None
    if report.when == "call" and report.failed and runner is not None and runner.last_run:
        test, run = runner.last_run
        if test == item.nodeid:
            report.sections.append(("the test's last ansible-playbook", str(run)))
    return report


def pytest_collection_modifyitems(items) -> None:
    """pytest-timeout's global limit (pyproject, 300 s) counts fixture setup too: the first test to ask
    for an Ansible install would pay the session's cold venv builds (pip from PyPI, each bounded by
    PIP_TIMEOUT) inside its own 300 s and fail on a slow index. Those tests keep the global limit for
    their own body (func_only); the builds are bounded by their subprocesses' timeouts. A test with
    its own timeout mark keeps it."""
    for item in items:
        if ANSIBLE_FIXTURES & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker(
            "timeout"
        ):
            item.add_marker(pytest.mark.timeout(func_only=True))


def _unavailable(why: str) -> None:
    if REQUIRED:
        pytest.fail(f"WSUSAUTO_ANSIBLE_TEST=required, but {why}", pytrace=False)
    pytest.skip(f"Ansible tests skipped: {why}")


def _inputs_key(requirements: Sequence[str]) -> str:
    """What the venv is made from: when it changes, the venv is made again."""
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    digest.update(repr(tuple(requirements)).encode())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
    )


def _build_wheel(python: Path, out: Path) -> Path:
    done = subprocess.run(
        [str(python), "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    wheels = sorted(out.glob("wsusauto-*.whl"))
    if done.returncode != 0 or not wheels:
        _unavailable(f"the wsusauto wheel did not build: {(done.stderr or done.stdout).strip()[-500:]}")
    return wheels[-1]


def _ensure_venv(venv: Path, requirements: Sequence[str], wheel: Path) -> Path:
    """``venv`` with ``requirements`` and wsusauto's dependencies, made again when its inputs
    changed; the session's wheel (re)installed into it."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    python = venv / "bin" / "python"
    key_file = venv / ".inputs"
    key = _inputs_key(requirements)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs of one checkout build it once
        if not (python.exists() and key_file.exists() and key_file.read_text() == key):
            shutil.rmtree(venv, ignore_errors=True)
            base = getattr(sys, "_base_executable", sys.executable)
            made = subprocess.run(
                [base, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=300
            )
            if made.returncode != 0:
                _unavailable(f"no venv for ansible-core: {made.stderr.strip()[-300:]}")
            done = _pip(python, *requirements, str(wheel))
            if done.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                _unavailable(f"pip could not install {' '.join(requirements)}: {done.stderr.strip()[-300:]}")
            key_file.write_text(key)
        done = _pip(python, "--no-deps", "--force-reinstall", str(wheel))
        if done.returncode != 0:
            _unavailable(f"the wsusauto wheel did not install: {done.stderr.strip()[-300:]}")
    return venv


def _install(runner: Ansible, tarball: Path) -> None:
    installed = runner.run(
        "ansible-galaxy", "collection", "install", str(tarball), "-p", str(runner.collections)
    )
    if installed.returncode != 0:
        pytest.fail(
            f"installing the collection failed:\n{installed.stdout}\n{installed.stderr}", pytrace=False
        )
    runner.tarball = tarball


@pytest.fixture(scope="session")
def ansible(tmp_path_factory) -> Iterator[Ansible]:
    """ansible-core (the newest line tested), the wsusauto wheel and the collection built and
    installed from its tarball."""
    work = tmp_path_factory.mktemp("ansible")
    wheel = _build_wheel(Path(sys.executable), work / "wheel")
    venv = _ensure_venv(VENV, ANSIBLE_REQUIREMENTS, wheel)
    runner = Ansible(venv, work / "collections", work)
    built = runner.run(
        "ansible-galaxy", "collection", "build", str(ROOT / "collection"), "--output-path", str(work / "dist")
    )
    tarballs = sorted((work / "dist").glob("wsusauto-wsus-*.tar.gz"))
    if built.returncode != 0 or not tarballs:
        pytest.fail(f"ansible-galaxy collection build failed:\n{built.stdout}\n{built.stderr}", pytrace=False)
    _install(runner, tarballs[-1])
    runner.wheel = wheel
    yield runner


@pytest.fixture(scope="session")
def ansible_oldest(ansible, tmp_path_factory) -> Iterator[Ansible]:
    """The oldest supported ansible-core (OLDEST_REQUIREMENTS) in its own venv, with the same wheel
    and the same collection tarball as ``ansible``: the artifact users install, run by the old
    controller."""
    assert ansible.wheel is not None and ansible.tarball is not None
    work = tmp_path_factory.mktemp("ansible-oldest")
    runner = Ansible(
        _ensure_venv(OLDEST_VENV, OLDEST_REQUIREMENTS, ansible.wheel), work / "collections", work
    )
    _install(runner, ansible.tarball)
    runner.wheel = ansible.wheel
    yield runner


@pytest.fixture(params=["newest", "oldest"])
def ansible_each(request) -> Ansible:
    """The test once with each ansible-core line the collection supports: the newest tested (the
    ``ansible`` fixture) and the oldest (``ansible_oldest``). For a bounded subset of the lab tests:
    the rest run on the newest only."""
    return request.getfixturevalue("ansible" if request.param == "newest" else "ansible_oldest")
