"""wsusauto's adjustments to pypsrp and pyspnego change their cost, never what they send or derive."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

import spnego._ntlm as ntlm
from pypsrp.complex_objects import ApartmentState, Command, HostInfo, Pipeline, RemoteStreamOptions
from pypsrp.messages import CreatePipeline
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import Serializer
from pypsrp.wsman import WSMan
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1

from wsusauto.client.snippets import registry
from wsusauto.client.speedups import (
    _ShallowCopiedCommand,
    cheap_command_copies,
    forget_password_hashes,
    memoize_password_hashes,
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


def test_password_hashes_are_derived_once_and_are_the_same():
    memoize_password_hashes()
    memoize_password_hashes()  # idempotent: one cache, not a cache of a cache
    assert ntlm.lmowfv1.__wrapped__ is lmowfv1 and ntlm.ntowfv1.__wrapped__ is ntowfv1
    before = ntlm.ntowfv1.cache_info().hits
    for _ in range(3):
        assert ntlm.lmowfv1("Pa55w.rd") == lmowfv1("Pa55w.rd")
        assert ntlm.ntowfv1("Pa55w.rd") == ntowfv1("Pa55w.rd")
    assert ntlm.ntowfv1.cache_info().hits >= before + 2
    assert ntlm.ntowfv1("other") != ntlm.ntowfv1("Pa55w.rd")


def test_forgotten_passwords_leave_the_cache():
    memoize_password_hashes()
    ntlm.ntowfv1("Pa55w.rd")
    assert ntlm.ntowfv1.cache_info().currsize >= 1
    forget_password_hashes()
    assert ntlm.lmowfv1.cache_info().currsize == ntlm.ntowfv1.cache_info().currsize == 0
    assert ntlm.ntowfv1("Pa55w.rd") == ntowfv1("Pa55w.rd")  # still derives, afresh
