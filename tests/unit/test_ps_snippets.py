"""Every shipped snippet parses, runs on PowerShell 2.0 and uses only documented API members."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pslint import allowlist, lint, members_in_reference
from wsusauto.snippets import registry

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "wsus-api.md"
GOOD = (
    "param([string]$Path)\n"
    "$server = [Microsoft.UpdateServices.Administration.AdminProxy]::GetUpdateServer()\n"
    "$config = $server.GetConfiguration()\n@{ Name = [string]$server.Name; Path = $Path }\n"
)


@pytest.mark.parametrize("name", sorted(registry()))
def test_shipped_snippet_is_clean(name):
    assert lint(name, registry()[name].text) == []


def test_a_good_sample_is_clean():
    assert lint("good", GOOD) == []


def _rules(text):
    return {v.rule for v in lint("sample", text)}


@pytest.mark.parametrize(
    "construct",
    [
        "$o = [pscustomobject]@{ a = 1 }",
        "$o = [ordered]@{ a = 1 }",
        "$j = $Path | ConvertTo-Json",
        "$l = [System.Collections.ArrayList]::new()",
        "if ($Path -in @('a')) { }",
        "$s = Get-CimInstance Win32_Service",
        "$x = @(1) | ForEach-Object { $PSItem }",
        "$r = Invoke-RestMethod http://x",
        "$t = Test-NetConnection wsus -Port 8530",
        "$d = Resolve-DnsName wsus",
        "$a = Get-Item x -ErrorAction Ignore",
        "$w = Get-Service | Where-Object Name -eq 'BITS'",
        "$e = @(1).ForEach({ $_ })",
    ],
)
def test_powershell_3_constructs_are_rejected(construct):
    text = f"param([string]$Path)\n$Path | Out-Null\n{construct}\n@{{ a = 1 }}\n"
    assert "powershell-2" in _rules(text)


def test_constructs_inside_strings_and_comments_are_not_code():
    text = (
        "param([string]$Path)\n# ConvertTo-Json is PS3\n"
        "$m = 'use [pscustomobject] -in PS3'\n@{ a = $Path; m = $m }\n"
    )
    assert lint("sample", text) == []


def test_unlisted_member_is_rejected():
    violations = lint("sample", GOOD.replace("$server.GetConfiguration()", "$server.GetConfigurationX()"))
    assert [(v.rule, v.line) for v in violations] == [("unknown-member", 3)]
    assert "GetConfigurationX" in str(violations[0])


def test_unsure_member_needs_a_get_member_probe():
    use = "$c = $config.BitsDownloadPriorityForeground\n"
    without = GOOD.replace("@{", use + "@{")
    assert "unsure-member" in _rules(without)
    probe = "if ($config | Get-Member -Name BitsDownloadPriorityForeground) { $c = 1 }\n"
    assert "unsure-member" not in _rules(GOOD.replace("@{", probe + use + "@{"))


@pytest.mark.parametrize(
    "code",
    [
        "Invoke-Expression $Path",
        "iex $Path",
        "$b = [scriptblock]::Create($Path)",
        "Add-Type -TypeDefinition $Path",
    ],
)
def test_code_built_from_data_is_rejected(code):
    assert "code-from-data" in _rules(f"param([string]$Path)\n{code}\n@{{ a = 1 }}\n")


def test_unused_parameter_and_missing_param_block():
    assert "unused-parameter" in _rules("param([string]$Path, [int]$Unused)\n@{ a = $Path }\n")
    assert "param-block" in _rules("@{ a = 1 }\n")


def test_output_must_be_one_hashtable_literal_last():
    assert "output" in _rules("param([string]$Path)\n$x = @{ a = $Path }\n")
    assert "output" in _rules("param([string]$Path)\n@{ a = $Path }\n$Path\n")
    assert "output" not in _rules("param([string]$Path)\n$x = 1\n@{ a = $Path; x = $x }\n")


def test_parse_errors_are_reported_with_a_line():
    violations = [
        v for v in lint("sample", "param([string]$Path)\nif ($Path { \n@{ a = 1 }\n") if v.rule == "parse"
    ]
    assert violations and violations[0].line >= 2


@pytest.mark.skipif(not REFERENCE.exists(), reason=f"{REFERENCE} is not present (CI clones only the project)")
def test_every_wsus_member_in_the_allowlist_is_documented_in_the_reference():
    documented = members_in_reference(REFERENCE.read_text(encoding="utf-8"))
    missing = sorted(allowlist().wsus - documented)
    assert missing == []
    assert sorted(allowlist().unsure - documented) == []
