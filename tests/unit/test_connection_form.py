"""Every snippet that reaches the WSUS API connects with the one shared prologue, and the lab tells
that form from the plain GetUpdateServer() a server set up for SSL refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsusauto.client.snippets import registry
from wsusauto.lab.connection import check_connection, connects_over_ssl
from wsusauto.lab.invocation import ScriptError

PROLOGUE = (Path(__file__).resolve().parent.parent / "data" / "wsus_connect_prologue.txt").read_text()


@pytest.mark.parametrize("name", sorted(registry()))
def test_a_snippet_connects_only_through_the_shared_prologue(name):
    text = registry()[name].text
    calls = text.count("::GetUpdateServer(")
    if calls == 0:
        return
    assert text.count(PROLOGUE) == 1
    assert calls == PROLOGUE.count("::GetUpdateServer(")


def test_the_prologue_is_the_ssl_form_and_the_old_line_is_not():
    assert connects_over_ssl(PROLOGUE)
    old = "$server = [Microsoft.UpdateServices.Administration.AdminProxy]::GetUpdateServer()\n"
    assert not connects_over_ssl(old)
    with pytest.raises(ScriptError) as refused:
        check_connection(old, using_ssl=True)
    assert refused.value.error_id == "WebException"
    check_connection(old, using_ssl=False)
    check_connection(PROLOGUE, using_ssl=True)
    check_connection("Get-Service BITS", using_ssl=True)  # no API call: nothing to refuse


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("$wsusHostName, $true,", "'localhost', $true,"),  # the certificate names the machine, not localhost
        ("$wsusHostName, $true,", "$wsusHostName, $false,"),  # not SSL
        ("[string]$wsusSetup.UsingSSL -eq '1'", "$true"),  # SSL without reading the key
        ("[System.Net.Dns]::GetHostEntry([System.Net.Dns]::GetHostName()).HostName", "'localhost'"),
        ("Get-ItemProperty -Path 'HKLM:", "Get-ItemProperty -Path 'HKCU:"),  # another key
    ],
)
def test_a_form_the_lab_does_not_recognise_counts_as_plain_http(old, new):
    assert old in PROLOGUE
    assert not connects_over_ssl(PROLOGUE.replace(old, new))


def test_the_refusal_names_the_call_as_written():
    local = (
        "$s = [Microsoft.UpdateServices.Administration.AdminProxy]::GetUpdateServer('localhost', $true, 8531)"
    )
    with pytest.raises(ScriptError, match='with "3" argument'):
        check_connection(local, using_ssl=True)
    with pytest.raises(ScriptError, match='with "0" argument'):
        check_connection("$s = [x.AdminProxy]::GetUpdateServer( )", using_ssl=True)


def test_commented_out_code_does_not_count():
    commented = "\n".join("# " + line for line in PROLOGUE.splitlines())
    assert not connects_over_ssl(commented + "\n$server = [x.AdminProxy]::GetUpdateServer()\n")


@pytest.mark.parametrize("using_ssl", [False, True])
def test_a_stopped_wsus_pool_answers_no_api_call_however_it_connects(using_ssl):
    with pytest.raises(ScriptError, match="HTTP status 503: Service Unavailable") as refused:
        check_connection(PROLOGUE, using_ssl=using_ssl, pool_stopped=True)
    assert refused.value.error_id == "WebException"
    check_connection("Get-Service BITS", using_ssl=using_ssl, pool_stopped=True)  # not the API: it runs
