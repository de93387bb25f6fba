"""wsusauto's adjustments to pypsrp and pyspnego change their cost, never what they send or derive."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import spnego._ntlm as ntlm
import structlog
from pypsrp.complex_objects import ApartmentState, Command, HostInfo, Pipeline, RemoteStreamOptions
from pypsrp.messages import CreatePipeline
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import Serializer
from pypsrp.wsman import WSMan
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1

from wsusauto.client import speedups
from wsusauto.client.snippets import registry
from wsusauto.client.speedups import (
    _ShallowCopiedCommand,
    cached_password_hashes,
    cheap_command_copies,
    forget_password_hashes,
    hold_password,
    memoize_password_hashes,
    release_password,
    tune_pool,
)


def new_pool() -> RunspacePool:
    pool = RunspacePool(WSMan("127.0.0.1", username="lab", password="x", ssl=False, auth="ntlm"))
    pool.protocol_version = "2.3"  # what an opened pool has learnt from Windows PowerShell 5.1
    return pool


def create_pipeline_xml(ps: PowerShell) -> str:
    """The CREATE_PIPELINE message pypsrp's begin_invoke() builds, serialized as it sends it."""
    message = CreatePipeline(
        True,
        ApartmentState(value=ApartmentState.UNKNOWN),
        RemoteStreamOptions(value=RemoteStreamOptions.ADD_INVOCATION_INFO),
        False,
        HostInfo(host=None),
        Pipeline(is_nested=False, cmds=ps.commands, history=None, redirect_err_to_out=False),
        False,
    )
    return ET.tostring(Serializer().serialize(message), encoding="unicode")


def facts_pipeline() -> PowerShell:
    ps = PowerShell(new_pool())
    ps.add_script(registry()["get_facts"].text)
    ps.add_parameters(
        {
            "HistoryCount": 5,
            "EventIds": [364, 10021],
            "ServiceNames": ["WsusService", "BITS"],
            "SetupRegistryPath": "HKLM:\\SOFTWARE\\Microsoft\\Update Services\\Server\\Setup",
        }
    )
    ps.add_script("Write-Output 'second statement'")
    return ps


def test_shallow_command_copies_serialize_to_the_same_message():
    stock = facts_pipeline()
    tuned = facts_pipeline()
    cheap_command_copies(tuned)
    assert [type(c) for c in tuned.commands] == [_ShallowCopiedCommand] * 2
    assert create_pipeline_xml(tuned) == create_pipeline_xml(stock)
    # pypsrp serializes the same pipeline again for a second invocation: still the same text
    assert create_pipeline_xml(tuned) == create_pipeline_xml(stock)


def test_a_shallow_copy_shares_parameters_and_keeps_its_own_flags():
    command = Command(cmd="Get-Item", is_script=False)
    command.__class__ = _ShallowCopiedCommand
    duplicate = copy.deepcopy(command)
    assert duplicate is not command and duplicate.args is command.args
    duplicate.end_of_statement = True
    assert command.end_of_statement is False


def test_a_pool_reads_the_environment_once_then_never_again():
    wsman = WSMan("127.0.0.1", username="lab", password="x", ssl=False, auth="ntlm", no_proxy=True)
    pool = RunspacePool(wsman)
    tune_pool(wsman, pool)
    session = wsman.transport.session
    assert session is not None and session.trust_env is False
    assert session.proxies == {"http": False}  # pypsrp's no_proxy, applied when it built the session
    assert type(pool._serializer).__name__ == "LeanSerializer"


def test_password_hashes_are_derived_once_while_held_and_are_the_same():
    memoize_password_hashes()
    memoize_password_hashes()  # idempotent: one cache, not a cache of a cache
    assert ntlm.lmowfv1.__wrapped__ is lmowfv1 and ntlm.ntowfv1.__wrapped__ is ntowfv1
    hold_password("Pa55w.rd")
    try:
        for _ in range(3):
            assert ntlm.lmowfv1("Pa55w.rd") == lmowfv1("Pa55w.rd")
            assert ntlm.ntowfv1("Pa55w.rd") == ntowfv1("Pa55w.rd")
        assert cached_password_hashes() == 2  # one LM and one NT hash, derived once
        assert ntlm.ntowfv1("other") != ntlm.ntowfv1("Pa55w.rd")
        assert cached_password_hashes() == 2  # a password no Session holds is not kept
    finally:
        release_password("Pa55w.rd")
    assert cached_password_hashes() == 0


def test_a_password_leaves_the_cache_when_its_last_holder_releases_it():
    memoize_password_hashes()
    hold_password("Shared-1")  # two Sessions of one user
    hold_password("Shared-1")
    hold_password("Other-2")
    ntlm.ntowfv1("Shared-1")
    ntlm.ntowfv1("Other-2")
    release_password("Shared-1")
    assert cached_password_hashes() == 2  # the other Session of that user still uses it
    release_password("Other-2")
    assert cached_password_hashes() == 1
    release_password("Shared-1")
    assert cached_password_hashes() == 0
    assert ntlm.ntowfv1("Shared-1") == ntowfv1("Shared-1")  # still derives, afresh
    assert cached_password_hashes() == 0


def test_forgotten_passwords_leave_the_cache():
    memoize_password_hashes()
    hold_password("Pa55w.rd")
    try:
        ntlm.ntowfv1("Pa55w.rd")
        assert cached_password_hashes() == 1
        forget_password_hashes()
        assert cached_password_hashes() == 0
        assert ntlm.ntowfv1("Pa55w.rd") == ntowfv1("Pa55w.rd")  # still derives, afresh (kept again)
    finally:
        release_password("Pa55w.rd")
    assert cached_password_hashes() == 0


@pytest.fixture
def pypsrp_of_another_minor(monkeypatch):
    """The installed pypsrp and pyspnego as if of a minor version the speed-ups were not checked against."""
    later = {"pypsrp": "0.10.0", "pyspnego": "0.13.0"}
    monkeypatch.setattr(speedups, "_installed_version", later.get)
    monkeypatch.setattr(ntlm, "lmowfv1", lmowfv1)  # as a fresh process has them
    monkeypatch.setattr(ntlm, "ntowfv1", ntowfv1)
    speedups.version_checked.cache_clear()
    yield
    speedups.version_checked.cache_clear()


def test_the_installed_versions_are_the_checked_ones():
    speedups.version_checked.cache_clear()
    assert speedups.version_checked("pypsrp") and speedups.version_checked("pyspnego")


def test_on_another_minor_version_every_speedup_stays_off(pypsrp_of_another_minor, caplog):
    with structlog.testing.capture_logs() as logs:
        wsman = WSMan("127.0.0.1", username="lab", password="x", ssl=False, auth="ntlm", no_proxy=True)
        pool = RunspacePool(wsman)
        tune_pool(wsman, pool)
        ps = facts_pipeline()
        cheap_command_copies(ps)
        memoize_password_hashes()
        tune_pool(wsman, RunspacePool(wsman))  # again: no second log line
    assert type(pool._serializer) is Serializer and pool._fragmenter.serializer is pool._serializer
    assert wsman.transport.session is None  # pypsrp builds it itself, on first send
    assert {type(c) for c in ps.commands} == {Command}
    assert ntlm.lmowfv1 is lmowfv1 and ntlm.ntowfv1 is ntowfv1
    off = [(entry["distribution"], entry["installed"], entry["checked"]) for entry in logs]
    assert off == [("pypsrp", "0.10.0", "0.9.*"), ("pyspnego", "0.13.0", "0.12.*")]
    assert all(entry["log_level"] == "debug" for entry in logs)


def test_without_package_metadata_the_speedups_stay_off(monkeypatch):
    monkeypatch.setattr(speedups, "_installed_version", lambda distribution: None)
    speedups.version_checked.cache_clear()
    try:
        wsman = WSMan("127.0.0.1", username="lab", password="x", ssl=False, auth="ntlm")
        pool = RunspacePool(wsman)
        tune_pool(wsman, pool)
        assert type(pool._serializer) is Serializer
    finally:
        speedups.version_checked.cache_clear()


def test_the_pins_are_the_checked_versions():
    # pyproject.toml pins pypsrp and pyspnego (the kerberos extra too) to the minor versions the
    # speed-ups were checked against: a new minor version is a deliberate change of both.
    text = (Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    for distribution, minor in speedups.CHECKED_AGAINST.items():
        major, minor_number = minor.split(".")
        requirements = re.findall(rf'"({distribution}(?:\[\w+\])?[^"]*)"', text)
        pin = re.compile(
            rf"{distribution}(\[kerberos\])?>={re.escape(minor)}(\.\d+)?,<{major}\.{int(minor_number) + 1}"
        )
        assert requirements and all(pin.fullmatch(r) for r in requirements), requirements
