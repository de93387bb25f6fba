"""The AWX keytab login of collection/docs/awx.md, end to end against the lab's Kerberos realm (MIT
krb5's own KDC): the credential type's injectors applied as AWX applies them (the keytab,
base64-encoded, written as text into the job's private directory; the username as an extra var),
then real ansible-playbook with the built collection: ``wsusauto.wsus.awx_keytab`` decodes the
keytab where KRB5_CLIENT_KTNAME points, and ``wsus_facts`` reads every server over Kerberos with no
password anywhere (an inventory with ``ansible_psrp_auth: kerberos`` and no password source, an
empty ticket cache as a new job has).

Needs MIT krb5's programs, and python-gssapi both in the Ansible venv (the ``kerberos`` extra, built
against libkrb5-dev) and in this test's Python (the lab's Kerberos acceptor, as in
tests/lab/test_kerberos.py: without it every login is refused); where one is missing the test
skips with one line, and with WSUSAUTO_KERBEROS_TEST=required (.ci/run) it fails instead.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess

import pytest
import yaml

from tests.ansible.conftest import PIP_TIMEOUT
from tests.awx_credential import inject, load_credential_type
from wsusauto.lab.kdc import missing_programs

pytestmark = [pytest.mark.slow, pytest.mark.kerberos]


def _kerberos_in(ansible) -> None:
    """python-gssapi and krb5 (pyspnego's Kerberos) in the Ansible venv and in the lab's Python (this
    one), or skip/fail saying why."""
    why = None
    if missing := missing_programs():
        why = f"MIT krb5 is not installed ({', '.join(missing)})"
    elif importlib.util.find_spec("gssapi") is None or importlib.util.find_spec("krb5") is None:
        why = "the lab's Python has no python-gssapi/krb5 (pip install 'pyspnego[kerberos]')"
    else:
        done = subprocess.run(
            [ansible.bin("python"), "-m", "pip", "install", "--quiet", "pyspnego[kerberos]>=0.12,<0.13"],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT,
        )
        if done.returncode != 0:
            why = f"python-gssapi did not install (libkrb5-dev?): {done.stderr.strip()[-300:]}"
    if why is None:
        return
    if os.environ.get("WSUSAUTO_KERBEROS_TEST") == "required":
        pytest.fail(f"Kerberos tests required but cannot run: {why}", pytrace=False)
    pytest.skip(f"no Kerberos here: {why}")


# the body pip-installs python-gssapi into the Ansible venv (built from source where PyPI has no wheel)
@pytest.mark.timeout(PIP_TIMEOUT + 120, func_only=True)
def test_an_awx_keytab_credential_logs_the_collection_in_with_no_password(ansible, make_lab, tmp_path):
    _kerberos_in(ansible)
    lab = make_lab(
        {"servers": [{"name": "wsus-root"}, {"name": "wsus-01", "auth_methods": ["kerberos"]}]}, kerberos=True
    )
    assert lab.realm is not None
    inventory = lab.inventory(auth="kerberos", protocol="http", password=False)
    del inventory["all"]["vars"]["ansible_user"]  # the credential gives it, as an extra var
    assert not any("password" in k for k in inventory["all"]["vars"]), inventory
    inventory_path = tmp_path / "inventory.yml"
    inventory_path.write_text(yaml.safe_dump(inventory), encoding="utf-8")

    keytab = lab.realm.user_keytab.read_bytes()
    credential = {
        "username": lab.realm.user_principal,
        "password": "",
        "keytab_base64": base64.b64encode(keytab).decode(),
    }
    job = tmp_path / "job"  # AWX's private data directory for the job
    injected = inject(load_credential_type(), credential, job)
    extra_vars = job / "env" / "extravars"
    extra_vars.write_text(json.dumps(injected.extra_vars), encoding="utf-8")
    playbook = tmp_path / "facts.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {"ansible.builtin.import_playbook": "wsusauto.wsus.awx_keytab"},
                {
                    "name": "Read every server over Kerberos",
                    "hosts": "all",
                    "gather_facts": False,
                    "tasks": [
                        {"name": "facts", "wsusauto.wsus.wsus_facts": {}},
                        {"name": "show", "ansible.builtin.debug": {"msg": "{{ wsus_facts.host }}"}},
                    ],
                },
            ],
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    env = {
        **injected.env,
        "KRB5_CONFIG": str(lab.realm.krb5_conf),
        "KRB5CCNAME": f"FILE:{job / 'krb5cc'}",  # empty: a new job has no ticket
    }
    run = ansible.playbook(inventory_path, playbook, "-e", f"@{extra_vars}", env=env)
    assert run.rc == 0, run
    assert run.recap["localhost"]["failed"] == 0, run
    for host in ("wsus-root", "wsus-01"):
        assert run.recap[host] == {
            "ok": 2, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0, "rescued": 0, "ignored": 0
        }, run  # fmt: skip
        assert f'"msg": "{host}"' in run.stdout, run
    decoded = injected.env["KRB5_CLIENT_KTNAME"].removeprefix("FILE:")
    assert open(decoded, "rb").read() == keytab  # noqa: SIM115
    assert lab.password not in run.stdout + run.stderr  # no password was given, none shows
