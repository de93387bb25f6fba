"""The lab's Windows PowerShell 2.0 (the 3.0-sp2 preset): scripts with PowerShell 3+ constructs fail
as 2.0 fails them; comments and strings do not count; newer servers run the same text."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from wsusauto.client.snippets import SnippetRegistry, registry, snippets_dir
from wsusauto.lab.handlers import SETUP_REGISTRY_PATH, LabHandlers
from wsusauto.lab.invocation import Invocation, ScriptError
from wsusauto.lab.model.server import WsusServerModel
from wsusauto.lab.powershell2 import refuse_newer


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("$o = [ordered]@{ A = 1 }", "Unable to find type [ordered]: make sure"),
        ("$o = [PSCustomObject]@{ A = 1 }", "Unable to find type [PSCustomObject]"),
        ("if ($a -in $b) { }", "Unexpected token '-in' in expression or statement."),
        ("if ($a -NotIn $b) { }", "Unexpected token '-NotIn'"),
        ("$x = 1 -shl 2", "Unexpected token '-shl'"),
        (
            "$b = [System.Text.StringBuilder]::new()",
            "[System.Text.StringBuilder] doesn't contain a method named 'new'",
        ),
        ("$n = $list.Where({ $_ })", "doesn't contain a method named 'Where'"),
        ("$j = $h | ConvertTo-Json", "The term 'ConvertTo-Json' is not recognized"),
        ("Get-CimInstance Win32_Service", "The term 'Get-CimInstance' is not recognized"),
        ("$s = Get-WsusServer", "The term 'Get-WsusServer' is not recognized"),
        ("Invoke-WsusServerCleanup -CleanupObsoleteUpdates", "The term 'Invoke-WsusServerCleanup' is not"),
        ("$v = Get-ItemPropertyValue -Path x -Name y", "The term 'Get-ItemPropertyValue' is not recognized"),
        ("$n = Get-NetAdapter", "The term 'Get-NetAdapter' is not recognized"),
    ],
)
def test_newer_constructs_fail_as_powershell_2_fails_them(code, message):
    with pytest.raises(ScriptError) as raised:
        refuse_newer(f"param([int]$A)\n{code}\n@{{ A = 1 }}")
    assert message in raised.value.message
    assert raised.value.terminating


@pytest.mark.parametrize(
    "code",
    [
        "# [ordered] and -in in a comment\n$a = 1",
        "<# $x -in $y; ConvertTo-Json #>\n$a = 1",
        "$t = 'use [ordered] or -in here'",
        '$t = "a `" [ordered] -in"',
        "Get-ChildItem -Include *.ps1 -Filter x",
        "$s = $list -contains 'x'",
    ],
)
def test_comments_strings_and_older_constructs_pass(code):
    refuse_newer(code)


def test_every_shipped_snippet_runs_on_powershell_2():
    for name, snippet in registry().items():
        assert refuse_newer(snippet.text) is None, name


def _registry_with(tmp_path, extra_line: str) -> SnippetRegistry:
    """The shipped snippets, with one line added to get_facts after its param block."""
    directory = tmp_path / "snippets"
    shutil.copytree(snippets_dir(), directory)
    path = directory / "get_facts.ps1"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "$ErrorActionPreference = 'Stop'\n", f"$ErrorActionPreference = 'Stop'\n{extra_line}\n", 1
    )
    path.write_bytes(text.encode("utf-8"))
    return SnippetRegistry(directory)


def test_the_lab_refuses_a_newer_construct_only_on_its_powershell_2_server(tmp_path):
    snippets = _registry_with(tmp_path, "$probe = [ordered]@{}")
    clock = lambda: dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.timezone.utc)  # noqa: E731
    servers = {
        name: WsusServerModel(name, tmp_path / "state", version=version, clock=clock)
        for name, version in (("old", "3.0-sp2"), ("new", "2019"))
    }
    handlers = LabHandlers(servers, snippets)
    parameters = {
        "HistoryCount": 1,
        "EventLookbackHours": 1,
        "EventIds": [364],
        "MaxEvents": 1,
        "ServiceNames": ["WsusService"],
        "SetupRegistryPath": SETUP_REGISTRY_PATH,
    }
    text = snippets["get_facts"].text
    with pytest.raises(ScriptError, match=r"^Unable to find type \[ordered\]"):
        handlers(Invocation("old", text, parameters))
    [facts] = handlers(Invocation("new", text, parameters))
    assert facts["PSVersion"] == "5.1.17763.1"
    [facts] = LabHandlers(servers)(Invocation("old", registry()["get_facts"].text, parameters))
    assert facts["PSVersion"] == "2.0"  # the shipped text runs there
    assert handlers.ps_version("old") == "2.0" and handlers.ps_version("nowhere") is None
