"""Ansible's psrp connection against the lab: a raw task's script and its exit code.

Ansible (``plugins/connection/psrp.py``) runs a raw command as ``<command>\\nexit $LASTEXITCODE`` on
a RunspacePool opened with its own PSHost, and takes rc as ``host.rc or (1 if had_errors else 0)``,
where ``host.rc`` is set by the SetShouldExit host call PowerShell's ``exit`` makes. The real pypsrp
client with a recording PSHost shows what Ansible would see.
"""

from __future__ import annotations

import pytest
from pypsrp.complex_objects import PSInvocationState
from pypsrp.host import PSHost, PSHostUserInterface
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from tests.lab_fixtures import small_topology
from wsusauto.client.snippets import registry
from wsusauto.lab.runtime import LAB_USER

ANSIBLE_SUFFIX = "\nexit $LASTEXITCODE"


class RecordingHost(PSHost):
    """Ansible's host (``PSHost(None, None, False, "Ansible PSRP Host", None, ui, None)``) that
    also records every SetShouldExit call and whether it came for a pipeline."""

    def __init__(self) -> None:
        super().__init__(None, None, False, "Ansible PSRP Host", None, PSHostUserInterface(), None)
        self.exit_calls: list[tuple[int, bool]] = []

    def SetShouldExit(self, runspace, pipeline, exit_code):  # PowerShell's method name
        self.exit_calls.append((exit_code, pipeline is not None))
        super().SetShouldExit(runspace, pipeline, exit_code)


@pytest.fixture(scope="module")
def lab(make_module_lab):
    return make_module_lab(small_topology(2))


@pytest.fixture
def pool_and_host(lab):
    endpoint = next(e for e in lab.endpoints if e.name == "wsus-01")
    wsman = WSMan(
        endpoint.address,
        port=lab.http_port,
        ssl=False,
        username=LAB_USER,
        password=lab.password,
        auth="ntlm",
        cert_validation=False,
    )
    host = RecordingHost()
    pool = RunspacePool(wsman, host=host)
    pool.open()
    try:
        yield pool, host
    finally:
        pool.close()


def _run_as_ansible(pool: RunspacePool, host: RecordingHost, command: str) -> tuple[int, PowerShell]:
    """What Ansible's ``exec_command`` + ``_parse_pipeline_result`` do for a raw task."""
    ps = PowerShell(pool)
    ps.add_script(command + ANSIBLE_SUFFIX, use_local_scope=True)
    ps.invoke()
    rc = host.rc or (1 if ps.had_errors else 0)
    host.rc = 0  # Ansible resets it after each pipeline
    return rc, ps


def test_a_snippet_in_ansibles_form_exits_0_through_the_host(pool_and_host):
    pool, host = pool_and_host
    rc, ps = _run_as_ansible(pool, host, registry()["get_synchronization_status"].text)
    assert ps.state == PSInvocationState.COMPLETED
    assert host.exit_calls == [(0, True)]  # one pipeline host call: SetShouldExit(0)
    assert rc == 0
    assert ps.output and ps.output[0]["SynchronizationStatus"] == "NotProcessing"
    assert not ps.streams.error


def test_a_failing_snippet_never_reaches_exit_and_ansible_reports_1(pool_and_host):
    # Raw cannot pass parameters: get_facts without its registry path fails as on Windows, with a
    # terminating error (ErrorActionPreference Stop), so the script's `exit` never runs.
    pool, host = pool_and_host
    rc, ps = _run_as_ansible(pool, host, registry()["get_facts"].text)
    assert ps.state == PSInvocationState.FAILED
    assert host.exit_calls == []
    assert rc == 1
    assert "Cannot bind argument to parameter 'Path'" in str(ps.streams.error[0])


def test_each_raw_task_gets_its_own_exit_call_on_one_pool(pool_and_host):
    pool, host = pool_and_host
    snippet = registry()["get_synchronization_status"].text
    results = [_run_as_ansible(pool, host, snippet)[0] for _ in range(3)]
    assert results == [0, 0, 0]
    assert host.exit_calls == [(0, True)] * 3


def test_an_unknown_command_is_not_recognized_and_still_reaches_exit(pool_and_host):
    # "not recognized" is a non-terminating error: PowerShell goes on to the `exit` line.
    pool, host = pool_and_host
    _rc, ps = _run_as_ansible(pool, host, "Get-NoSuchThing")
    assert ps.state == PSInvocationState.COMPLETED
    assert "is not recognized" in str(ps.streams.error[0])
    assert host.exit_calls == [(0, True)]


def test_wsusautos_own_form_makes_no_host_call(pool_and_host):
    pool, host = pool_and_host
    ps = PowerShell(pool)
    ps.add_script(registry()["get_synchronization_status"].text)
    ps.add_parameter("MaxUpdateErrors", 5)
    ps.invoke()
    assert ps.state == PSInvocationState.COMPLETED
    assert host.exit_calls == []
