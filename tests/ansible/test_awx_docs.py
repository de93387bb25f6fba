"""What collection/docs/awx.md tells an AWX admin to build and run, checked with the real tools.

- The execution environment definition (docs/execution-environment.yml, as the built collection
  ships it) with the wheel and the tarball this session built: ``ansible-builder create`` writes its
  build context (the image itself is not built: no container build here), each file lands where the
  Containerfile's stages take it, ansible-builder's introspection of the installed collection adds
  its requirements.txt (``wsusauto==<version>``), and pip resolves the wsusauto requirements from
  the wheel directory the definition points PIP_FIND_LINKS at, with no index.
- ``wsusauto.wsus.awx_keytab`` run by ansible-playbook, as the AWX credential type's injectors leave
  the job: the keytab, base64 in the injected file, is decoded byte for byte, mode 0600, where
  KRB5_CLIENT_KTNAME points; with no keytab in the credential it writes nothing.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ansible.conftest import ROOT

pytestmark = pytest.mark.slow


def _installed(ansible) -> Path:
    return ansible.collections / "ansible_collections" / "wsusauto" / "wsus"


def _stages(containerfile: str) -> dict[str, str]:
    """Each build stage's text by its name (``FROM ... AS name``)."""
    parts = re.split(r"^FROM \S+ AS (\w+)$", containerfile, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _after(text: str, *lines: str) -> bool:
    """``lines`` appear in ``text`` in this order."""
    at = 0
    for line in lines:
        found = text.find(line, at)
        if found < 0:
            return False
        at = found + len(line)
    return True


def test_the_execution_environment_definition_makes_its_build_context(ansible, tmp_path):
    assert ansible.wheel is not None and ansible.tarball is not None
    build_dir = tmp_path / "ee"
    build_dir.mkdir()
    shutil.copy(_installed(ansible) / "docs" / "execution-environment.yml", build_dir)
    shutil.copy(ansible.wheel, build_dir)
    shutil.copy(ansible.tarball, build_dir)
    (build_dir / "krb5.conf").write_text("[libdefaults]\n    default_realm = CORP.EXAMPLE.COM\n")
    done = subprocess.run(
        [ansible.bin("ansible-builder"), "create", "-f", "execution-environment.yml", "--context", "context"],
        cwd=build_dir,
        capture_output=True,
        text=True,
        env=ansible.env(),
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "No matches" not in output and "does not exist" not in output, output  # every file found
    build = build_dir / "context" / "_build"
    assert (build / "wheels" / ansible.wheel.name).read_bytes() == ansible.wheel.read_bytes()
    assert (build / "collections" / ansible.tarball.name).read_bytes() == ansible.tarball.read_bytes()
    assert (build / "configs" / "krb5.conf").is_file()
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    assert galaxy == {"collections": [{"name": f"/build/collections/{ansible.tarball.name}", "type": "file"}]}
    containerfile = next((build_dir / "context").glob("[CD]*file")).read_text()  # Containerfile/Dockerfile
    stages = _stages(containerfile)
    assert {"galaxy", "builder", "final"} <= set(stages), containerfile
    # the galaxy stage copies _build (the tarball with it) to /build and installs from requirements.yml
    assert _after(
        stages["galaxy"], "COPY _build /build", "ansible-galaxy collection install", "-r requirements.yml"
    )
    # both stages that pip-install have the wheel directory before their install step
    find_links = ("COPY _build/wheels/ /build/wheels/", "ENV PIP_FIND_LINKS=/build/wheels")
    assert _after(stages["builder"], *find_links, "RUN /output/scripts/assemble"), stages["builder"]
    assert _after(
        stages["final"], *find_links, "install-from-bindep", "COPY _build/configs/krb5.conf /etc/krb5.conf"
    )
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile

    # ansible-builder's introspection (the builder stage's step) over the installed collection
    wanted = tmp_path / "requirements.txt"
    done = subprocess.run(
        [
            ansible.bin("ansible-builder"),
            "introspect",
            str(ansible.collections),
            "--user-pip",
            str(build / "requirements.txt"),
            "--write-pip",
            str(wanted),
        ],
        capture_output=True,
        text=True,
        env=ansible.env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    version = re.search(r"^wsusauto-([^-]+)-", ansible.wheel.name)[1]  # type: ignore[index]
    lines = wanted.read_text().splitlines()
    assert any(
        re.match(rf"wsusauto=={re.escape(version)}\s+# from collection wsusauto\.wsus", x) for x in lines
    )
    assert any(x.startswith(f"wsusauto[kerberos]=={version}") for x in lines), lines

    # pip finds wsusauto in the wheel directory alone (no index, no pip configuration), as the
    # builder and final stages will
    pip = (ansible.bin("python"), "-m", "pip", "--isolated", "install", "--dry-run", "--ignore-installed")
    done = subprocess.run(
        [*pip, "--no-deps", "--no-index", "--find-links", str(build / "wheels"), "-r", str(wanted)],
        capture_output=True,
        text=True,
        env=ansible.env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Would install wsusauto-{version}" in done.stdout, done.stdout


@pytest.mark.parametrize("given", [True, False], ids=["keytab", "no-keytab"])
def test_awx_keytab_decodes_the_credentials_keytab_where_krb5_looks(ansible, tmp_path, given):
    keytab = bytes(range(256)) * 4  # binary, not UTF-8: why the credential holds it in base64
    env_dir = tmp_path / "env"  # AWX's private data dir for file injectors
    env_dir.mkdir()
    injected = env_dir / "tmpk3yt4b"
    injected.write_text(base64.b64encode(keytab).decode() if given else "")  # as AWX writes it
    target = Path(f"{injected}.keytab")
    inventory = tmp_path / "inventory.yml"  # the docs' inventory: psrp vars for all its hosts
    shutil.copy(ROOT / "collection" / "docs" / "inventory.yml", inventory)
    run = ansible.playbook(
        inventory,
        "wsusauto.wsus.awx_keytab",
        env={"WSUSAUTO_KEYTAB_BASE64_FILE": str(injected), "KRB5_CLIENT_KTNAME": f"FILE:{target}"},
    )
    assert run.rc == 0, run
    assert run.recap["localhost"]["failed"] == 0 and run.recap["localhost"]["unreachable"] == 0, run
    if given:
        assert target.read_bytes() == keytab
        assert target.stat().st_mode & 0o777 == 0o600
    else:
        assert not target.exists()
