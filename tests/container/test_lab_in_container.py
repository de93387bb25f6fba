"""The lab inside a container (testcontainers), driven from the host by the real client.

The image is built offline: ``docker/Dockerfile`` on the base image that ``docker/engine.sh`` makes
from a debootstrap root, plus a wheelhouse this test makes with ``pip wheel``. The container runs
with the host network (never a bridge) and serves its loopback endpoints; ``wsusauto facts`` on the
host reads every server through them.

Without a reachable Docker engine (or the base image) the test skips and says why, with the failure
lines ``docker/engine.sh`` recorded. ``.ci/run`` sets WSUSAUTO_CONTAINER_TEST=required once the
engine and the base image are up: then a skip would hide a failure, so it fails instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.lab_fixtures import run_cli
from wsusauto.lab.wsman.certs import ca_paths

pytestmark = [pytest.mark.container, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO / "docker"
BASE_IMAGE = os.environ.get("WSUSAUTO_BASE_IMAGE", "wsusauto-base:bookworm")
BASE_PYTHON = (3, 11)  # Debian bookworm's python3: the wheelhouse's compiled wheels must match it

TOPOLOGY = {
    "servers": [
        {
            "name": "wsus-root",
            "initial": {"SynchronizeAutomatically": True, "SynchronizeAutomaticallyTimeOfDay": "02:30:00"},
        },
        {
            "name": "wsus-eu",
            "upstream": "wsus-root",
            "initial": {"SyncFromMicrosoftUpdate": False, "UpstreamWsusServerName": "wsus-root"},
        },
        {
            "name": "wsus-eu-01",
            "upstream": "wsus-eu",
            "replica": True,
            "initial": {
                "SyncFromMicrosoftUpdate": False,
                "UpstreamWsusServerName": "wsus-eu",
                "IsReplicaServer": True,
            },
        },
        {"name": "wsus-us", "upstream": "wsus-root", "replica": True},
    ]
}


def _free_first_address() -> str:
    """A /24 whose first addresses are free on 5985/5986: 127.231.x.1 is away from the other tests'
    labs (127.16-215.x.1 by process id, 127.0.x.1 for benches and scale tests)."""
    start = os.getpid() % 250
    for offset in range(250):
        subnet = (start + offset) % 250 + 1
        addresses = [f"127.231.{subnet}.{host}" for host in range(1, len(TOPOLOGY["servers"]) + 1)]
        if all(_port_free(address, port) for address in addresses for port in (5985, 5986)):
            return addresses[0]
    raise AssertionError("no free /24 in 127.231.0.0/16 for the container's lab")


def _port_free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def _unavailable(reason: str) -> None:
    """Skip with the reason, or fail where CI brought the engine up and the test must run."""
    state_dir = Path(os.environ.get("WSUSAUTO_DOCKER_DIR", REPO / "build" / "docker"))
    recorded = state_dir / "unavailable.txt"
    if recorded.is_file() and recorded.read_text().strip():
        reason += "; docker/engine.sh: " + " | ".join(recorded.read_text().strip().splitlines())
    if os.environ.get("WSUSAUTO_CONTAINER_TEST") == "required":
        pytest.fail(f"container test required but cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def docker_engine():
    try:
        import docker
    except ImportError as error:  # pragma: no cover - a test extra
        _unavailable(f"the docker package is missing ({error})")
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as error:
        _unavailable(f"no Docker engine reachable ({type(error).__name__}: {error}); run docker/engine.sh")
    try:
        client.images.get(BASE_IMAGE)
    except Exception as error:
        _unavailable(f"base image {BASE_IMAGE} missing ({error}); run docker/engine.sh")
    if sys.version_info[:2] != BASE_PYTHON:
        _unavailable(
            f"the host's Python {sys.version_info[0]}.{sys.version_info[1]} cannot make the wheelhouse "
            f"for {BASE_IMAGE}'s Python {BASE_PYTHON[0]}.{BASE_PYTHON[1]}"
        )
    yield client
    client.close()


@pytest.fixture(scope="module")
def lab_image(docker_engine, tmp_path_factory):
    """docker/Dockerfile built from a fresh wheelhouse of this working tree, offline."""
    from testcontainers.core.image import DockerImage

    context = tmp_path_factory.mktemp("image-context")
    shutil.copy(DOCKER_DIR / "Dockerfile", context / "Dockerfile")
    wheel = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", str(REPO), "-w", str(context / "wheelhouse")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert wheel.returncode == 0, wheel.stderr
    tag = f"wsusauto-lab:test-{os.getpid()}"
    # network_mode=host: the engine has no bridge network, and the build needs no network at all.
    with DockerImage(
        path=context, tag=tag, network_mode="host", buildargs={"BASE": BASE_IMAGE}, rm=True
    ) as image:
        yield str(image)


def _container(image: str, workdir: Path, first_address: str):
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    # Ryuk, testcontainers' reaper, is an image from a registry: nothing is pulled here. The container
    # is removed by the context manager instead.
    testcontainers_config.ryuk_disabled = True
    return (
        DockerContainer(image)
        .with_kwargs(network_mode="host")
        # Same path inside and out, so the inventory's paths (the CA certificate) hold on the host too.
        .with_volume_mapping(str(workdir), str(workdir), "rw")
        .with_command(
            [
                "lab",
                "serve",
                "--topology",
                str(workdir / "topology.yml"),
                "--state-dir",
                str(workdir / "state"),
                "--inventory-out",
                str(workdir / "lab.yml"),
                "--first-address",
                first_address,
            ]
        )
        # `lab serve` prints a line starting with "ready" once every endpoint listens.
        .waiting_for(
            LogMessageWaitStrategy(re.compile(r"^ready", re.MULTILINE))
            .with_startup_timeout(180)
            .with_poll_interval(0.5)
        )
    )


@contextmanager
def _running(container):
    """Start and wait for ready; on failure the container's own output goes into the test's failure."""
    try:
        try:
            container.start()
        except Exception as error:
            wrapped = container._container
            logs = wrapped.logs().decode(errors="replace") if wrapped is not None else ""
            pytest.fail(f"the lab container did not get ready: {error}\ncontainer output:\n{logs}")
        yield container
    finally:
        container.stop()


def test_lab_in_a_container_serves_facts_of_every_server_to_the_host_client(lab_image, tmp_path):
    (tmp_path / "topology.yml").write_text(yaml.safe_dump(TOPOLOGY, sort_keys=False))
    first_address = _free_first_address()
    with _running(_container(lab_image, tmp_path, first_address)) as container:
        inventory = tmp_path / "lab.yml"
        hosts = yaml.safe_load(inventory.read_text())["all"]["children"]["wsus"]["hosts"]
        assert sorted(hosts) == ["wsus-eu", "wsus-eu-01", "wsus-root", "wsus-us"]
        subnet = first_address.rsplit(".", 1)[0] + "."
        assert all(host["ansible_host"].startswith(subnet) for host in hosts.values())

        # NTLM with WinRM message encryption over HTTP, as the lab writes its inventory.
        result = run_cli("facts", "-i", str(inventory), "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        document = json.loads(result.stdout)
        assert sorted(document) == sorted(hosts)
        assert all(entry["status"] == "ok" for entry in document.values()), document
        facts = {name: entry["facts"] for name, entry in document.items()}
        assert facts["wsus-root"]["sync_from_microsoft_update"] is True
        assert facts["wsus-root"]["synchronize_automatically"] is True
        assert facts["wsus-root"]["synchronize_automatically_time_of_day"].startswith("02:30")
        assert facts["wsus-eu"]["sync_from_microsoft_update"] is False
        assert facts["wsus-eu"]["upstream_wsus_server_name"] == "wsus-root"
        assert facts["wsus-eu-01"]["upstream_wsus_server_name"] == "wsus-eu"
        assert facts["wsus-eu-01"]["is_replica_server"] is True
        assert facts["wsus-us"]["is_replica_server"] is False

        # Basic over HTTPS, validating the certificates the container made against its CA.
        data = yaml.safe_load(inventory.read_text())
        tls_vars = data["all"]["vars"]
        ca_cert = ca_paths(tmp_path / "state" / "tls")[0]
        assert ca_cert.is_file()
        tls_vars.update(
            ansible_port=5986,
            ansible_psrp_protocol="https",
            ansible_psrp_auth="basic",
            ansible_psrp_ca_cert=str(ca_cert),
        )
        tls_inventory = tmp_path / "lab-https.yml"
        tls_inventory.write_text(yaml.safe_dump(data, sort_keys=False))
        result = run_cli("facts", "-i", str(tls_inventory), "--json", "--limit", "wsus-eu-01")
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(result.stdout)["wsus-eu-01"]["facts"]["upstream_wsus_server_name"] == "wsus-eu"

        # A clean stop on SIGTERM, as `docker stop` sends it.
        wrapped = container.get_wrapped_container()
        wrapped.stop(timeout=30)
        wrapped.reload()
        stdout, _stderr = container.get_logs()
        assert wrapped.attrs["State"]["ExitCode"] == 0, stdout.decode(errors="replace")
        assert b"stopped" in stdout
