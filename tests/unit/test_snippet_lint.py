"""Every shipped snippet goes through tests/snippet_lint.py; each rule is shown to fire on a bad sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.documented_api import DOCUMENTED_FILE, documented, parse_documented
from tests.snippet_lint import (
    MEMBERS_FILE,
    allowlist,
    lint,
    parse_allowlist,
    parse_errors,
)
from wsusauto.client.snippets import registry

REPO = Path(__file__).resolve().parents[2]
SNIPPETS = sorted(registry())

# Snippets whose lint findings are known and owned by someone else: name -> reason (xfail).
KNOWN_VIOLATIONS: dict[str, str] = {}

HEADER = "param(\n    [string]$Path,\n    [int]$Count\n)\n"
PRELUDE = (
    "[void][Reflection.Assembly]::LoadWithPartialName('Microsoft.UpdateServices.Administration')\n"
    "$server = [Microsoft.UpdateServices.Administration.AdminProxy]::GetUpdateServer()\n"
    "$config = $server.GetConfiguration()\n"
)
FOOTER = "@{\n    Name  = [string]$server.Name\n    Path  = $Path\n    Count = $Count\n}\n"


def sample(body: str = "") -> str:
    """A clean snippet with ``body`` inserted before the final hashtable (body starts on line 8)."""
    return HEADER + PRELUDE + body + ("\n" if body and not body.endswith("\n") else "") + FOOTER


def rules(text: str) -> set[str]:
    return {v.rule for v in lint("sample", text)}


def only(text: str, rule: str):
    return [v for v in lint("sample", text) if v.rule == rule]


# --- the shipped snippets -----------------------------------------------------------------------------


def _maybe_xfail(name: str):
    reason = KNOWN_VIOLATIONS.get(name)
    return pytest.param(name, marks=pytest.mark.xfail(reason=reason, strict=True)) if reason else name


def test_there_are_snippets_to_check():
    assert "get_facts" in SNIPPETS


@pytest.mark.parametrize("name", SNIPPETS)
def test_shipped_snippet_parses(name):
    assert [str(v) for v in parse_errors(name, registry()[name].text)] == []


@pytest.mark.parametrize("name", [_maybe_xfail(n) for n in SNIPPETS])
def test_shipped_snippet_has_no_violations(name):
    assert [str(v) for v in lint(name, registry()[name].text)] == []


# --- the sample itself is clean, and violations carry where and what ----------------------------------


def test_the_clean_sample_is_clean():
    assert lint("sample", sample()) == []


def test_a_violation_names_snippet_line_column_rule_and_text():
    (violation,) = lint("bad", sample("$x = $config.FooBar"))
    assert (violation.snippet, violation.line, violation.column, violation.rule) == (
        "bad",
        8,
        14,
        "unknown-member",
    )
    assert "FooBar" in violation.text
    assert str(violation).startswith("bad:8:14: [unknown-member] FooBar")


# --- (a) parse errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "if ($Path { $x = 1 }",  # unclosed condition
        "$x = @{ a = 1",  # unclosed hashtable
        "foreach ($i in $Path) { $x = 1",  # unclosed block
    ],
)
def test_parse_errors_are_reported_with_line_and_column(body):
    found = parse_errors("sample", sample(body))
    assert found and all(v.rule == "parse" for v in found)
    assert all(v.line >= 8 and v.column >= 1 for v in found)


def test_every_error_node_is_reported_where_it_starts():
    found = [(v.line, v.column) for v in parse_errors("sample", sample("if ($Path { $x = 1 }"))]
    assert (8, 1) in found and (8, 5) in found  # the if statement, and the unclosed condition in it
    missing = parse_errors("sample", sample("$c | Get-Member -Name A,B"))
    assert any(v.text.startswith("missing") for v in missing)
    assert "parse" in rules(sample("$a = ($Path\n$b = 1"))


# --- (b) PowerShell 3+ constructs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "$o = [pscustomobject]@{ a = 1 }",
        "$o = [System.Management.Automation.PSCustomObject]@{ a = 1 }",
        "$o = [ordered]@{ a = 1 }",
        "$j = $Path | ConvertTo-Json",
        "$j = ConvertFrom-Json $Path",
        "$l = [System.Collections.ArrayList]::new()",
        "$t = [System.Text.StringBuilder]::New(16)",
        "if ($Path -in @('a')) { }",
        "if ($Path -notin @('a')) { }",
        "$s = Get-CimInstance Win32_Service",
        "$s = Invoke-CimMethod -ClassName Win32_Service -MethodName StopService",
        "$x = @(1) | ForEach-Object { $PSItem }",
        "$x = Invoke-Command -ComputerName a -ScriptBlock { $using:Path }",
        "$r = Invoke-RestMethod http://x",
        "$r = Invoke-WebRequest http://x",
        "$t = Test-NetConnection wsus -Port 8530",
        "$s = Get-WsusServer",
        "Invoke-WsusServerCleanup -CleanupObsoleteUpdates",
        "$v = Get-ItemPropertyValue -Path $Path -Name ContentDir",
        "$g = New-Guid",
        "$t = Get-Content -Path $Path -Raw",
        "$f = Get-ChildItem -Path $Path -File",
        "$f = Get-ChildItem $Path -Directory",
        "Set-Content -Path $Path -Value 1 -NoNewline",
        "$n = Get-NetAdapter",
        "$e = [string]::IsNullOrWhiteSpace($Path)",
        "$e = [System.IO.Directory]::EnumerateFiles($Path)",
        "$d = Resolve-DnsName wsus",
        "$a = Get-Item x -ErrorAction Ignore",
        "$a = Get-Item x -ErrorAction 'Ignore'",
        "$a = Get-Item x -ea:Ignore",
        "$ErrorActionPreference = 'Ignore'",
        "class Thing { }",
        "enum Color { Red }",
        "$y = $config?.Name",
        "$y = $Path ?? 'default'",
        "$w = Get-Service | Where-Object Name -eq 'BITS'",
        "$w = Get-Service | ? Status -eq 'Running'",
        "$w = Get-Service | ForEach-Object Name",
        "$e = $Path.ForEach({ $_ })",
        "$e = @(1).Where({ $_ })",
        "#requires -Version 3.0",
        "#Requires -version 5",
        "$x = 1 -shl 2",
    ],
)
def test_powershell_3_constructs_are_rejected(body):
    assert "powershell-2" in rules(sample(body))


@pytest.mark.parametrize(
    "body",
    [
        "$w = Get-Service | Where-Object { $_.Name -eq 'BITS' }",
        "$w = Get-Service | Where-Object -FilterScript { $_.Name -eq 'BITS' }",
        "$w = Get-Service | ForEach-Object { $_.Name }",
        "$s = Get-WmiObject -Class Win32_Service",
        "$a = Get-Item x -ErrorAction SilentlyContinue",
        "$f = Get-ChildItem -Path $Path -Filter '*.cab'",
        "$f = Get-ChildItem -Path $Path -Fil '*.cab'",
        "$t = Get-Content -Path $Path -ReadCount 0",
        "$o = New-Object System.Collections.ArrayList",
        "if (@('a') -contains $Path) { }",
        "#requires -Version 2.0",
        "# ConvertTo-Json, [pscustomobject], -in, $PSItem and ?? in a comment are not code",
        "$m = 'ConvertTo-Json [pscustomobject] -in $PSItem ?? $x?.y .ForEach('",
        '$m = "text with -in and ?? and $Path"',
    ],
)
def test_powershell_2_equivalents_and_text_are_accepted(body):
    assert lint("sample", sample(body)) == []


# --- (c) members --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "$x = $config.FooBar",
        "$config.FooBar = 1",
        "$x = $server.GetConfigurationX()",
        "$x = [DateTime]::UtcNow",
        "$x = $config.Name.FooBar",
        '$x = "value: $($config.FooBar)"',
        "$x = @{ a = $config.FooBar }",
    ],
)
def test_unlisted_member_is_rejected(body):
    found = only(sample(body), "unknown-member")
    assert found and found[0].line == 8


def test_members_compare_case_insensitively_like_powershell():
    assert lint("sample", sample("$x = $config.syncfrommicrosoftupdate")) == []


def test_computed_member_names_are_rejected():
    assert "dynamic-member" in rules(sample("$m = 'FooBar'\n$x = $config.$m"))
    assert "dynamic-member" in rules(sample("$x = $config.'FooBar'"))


def test_unsure_member_without_a_probe_is_rejected():
    found = only(sample("$config.BitsDownloadPriorityForeground = $true"), "unsure-member")
    assert found and "Get-Member -Name BitsDownloadPriorityForeground" in found[0].text


@pytest.mark.parametrize(
    "probe",
    [
        "$has = [bool]($config | Get-Member -Name BitsDownloadPriorityForeground)",
        "$has = [bool]($config | Get-Member -Name 'BitsDownloadPriorityForeground')",
        "$has = [bool]($config | Get-Member BitsDownloadPriorityForeground)",
        "$has = [bool]($config | Get-Member -Name 'OobeInitialized', 'BitsDownloadPriorityForeground')",
    ],
)
def test_unsure_member_with_a_probe_is_accepted(probe):
    body = probe + "\nif ($has) { $config.BitsDownloadPriorityForeground = $true }"
    assert lint("sample", sample(body)) == []


def test_a_probe_must_come_before_the_use_and_be_code():
    use = "$x = $config.BitsDownloadPriorityForeground\n"
    probe = "$has = [bool]($config | Get-Member -Name BitsDownloadPriorityForeground)\n"
    assert "unsure-member" in rules(sample(use + probe))
    assert "unsure-member" in rules(sample("# Get-Member -Name BitsDownloadPriorityForeground\n" + use))
    assert "unsure-member" in rules(sample("$t = 'Get-Member -Name BitsDownloadPriorityForeground'\n" + use))


ARRAY_HEADER = "param(\n    [string[]]$Names\n)\n"


@pytest.mark.parametrize(
    "body",
    [
        "$t = $server.GetUpdates().Title",
        "$u = $server.GetUpdates()\n$t = $u.Title",
        "$u = $server.GetUpdates()\n$v = $u\n$t = $v.Title",
        "$g = @($server.GetComputerTargetGroups())\n$n = $g.Name",
        "$r = (Get-Acl -Path $Path).Access.IdentityReference",
        "$e = $server.GetSubscription().GetLastSynchronizationInfo().UpdateErrors.ErrorText",
        "$a = $Path, $Path\n$n = $a.Name",
        "$n = ([string[]]$Path).Name",
    ],
)
def test_member_enumeration_on_a_collection_is_rejected(body):
    found = only(sample(body), "member-enumeration")
    assert found and "PowerShell 3+" in found[0].text


def test_member_enumeration_on_an_array_parameter_is_rejected():
    text = ARRAY_HEADER + "$n = $Names.Name\n@{ n = $n }\n"
    assert [v.line for v in only(text, "member-enumeration")] == [4]


@pytest.mark.parametrize(
    "body",
    [
        "$u = $server.GetUpdates()\n$n = $u.Count",
        "$n = @($server.GetUpdates()).Length",
        "foreach ($u in $server.GetUpdates()) { $t = $u.Title }",
        "$s = $server.GetStatus()\n$n = $s.UpdateCount",
        "$t = $server.GetUpdates()[0].Title",
        "$u = $server.GetUpdates()\n$u = $server.GetStatus()\n$n = $u.Count",
    ],
)
def test_members_of_single_objects_and_collection_counts_are_accepted(body):
    assert only(sample(body), "member-enumeration") == []


def test_foreach_over_an_array_parameter_is_rejected():
    text = ARRAY_HEADER + "foreach ($n in $Names) { $a = $n }\n@{ n = 1 }\n"
    assert [v.line for v in only(text, "foreach-null")] == [4]
    guarded = (
        ARRAY_HEADER + "$names2 = @()\nif ($null -ne $Names) { $names2 = @($Names) }\n"
        "foreach ($n in $names2) { $a = $n }\n@{ n = 1 }\n"
    )
    assert only(guarded, "foreach-null") == []
    assert only(sample("foreach ($c in $server.GetUpdates()) { $t = $c.Title }"), "foreach-null") == []


@pytest.mark.parametrize(
    "body",
    [
        # the bug issue 14 found in get_facts and get_synchronization_status
        "$i = $server.GetSubscription().GetLastSynchronizationInfo()\n"
        "foreach ($e in $i.UpdateErrors) { $t = [string]$e.UpdateId }",
        "foreach ($u in $server.GetUpdates()) { $t = [string]$u.Id }",
        "$all = $server.GetUpdates()\nforeach ($u in $all) { $h = @{ UpdateId = $u.Id } }",
        '$u = $server.GetUpdate($Path)\n$t = "id $($u.Id)"',
        "$u = $server.GetUpdate($Path)\nif ($u.Id -eq [Guid]::Empty) { }",
        "foreach ($v in $server.GetUpdateEventHistory($a, $b)) { $g = [Guid]$v.UpdateId }",
    ],
)
def test_an_update_revision_id_used_as_text_or_guid_is_rejected(body):
    found = only(sample(body), "revision-id")
    assert found and "UpdateRevisionId" in found[0].text


@pytest.mark.parametrize(
    "body",
    [
        "$i = $server.GetSubscription().GetLastSynchronizationInfo()\n"
        "foreach ($e in $i.UpdateErrors) {\n"
        "$t = [string]$e.UpdateId.UpdateId; $r = [int]$e.UpdateId.RevisionNumber }",
        "foreach ($u in $server.GetUpdates()) { $again = $server.GetUpdate($u.Id) }",
        "foreach ($g in $server.GetComputerTargetGroups()) { $t = [string]$g.Id }",
        "$i = $server.GetSubscription().GetLastSynchronizationInfo()\n$t = [string]$i.Id",
    ],
)
def test_a_revision_ids_guid_and_other_ids_are_accepted(body):
    assert only(sample(body), "revision-id") == []


@pytest.mark.parametrize(
    "body",
    [
        "foreach ($g in $server.GetComputerTargetGroups()) { if ($g.Name -eq 'All Computers') { } }",
        "foreach ($g in $server.GetComputerTargetGroups()) { if ([string]$g.Name -ceq 'All Computers') { } }",
        "$r = (Get-Acl -Path $Path).Access\n"
        "foreach ($a in $r) { if ($a.IdentityReference -eq 'NT AUTHORITY\\NETWORK SERVICE') { } }",
        "try { $config.Save() } catch { if ($_.Exception.Message -like '*not valid*') { } }",
        "$e = Get-WinEvent -LogName Application -MaxEvents 1\nif ($e.Message -match 'Range protocol') { }",
        "$s = Get-WmiObject -Class Win32_Service\nif ('Update Services' -eq $s.DisplayName) { }",
    ],
)
def test_a_decision_by_display_text_is_rejected(body):
    assert "display-text" in rules(sample(body))


@pytest.mark.parametrize(
    "body",
    [
        "foreach ($g in $server.GetComputerTargetGroups()) { if ($g.Name -eq $Path) { } }",
        "foreach ($g in $server.GetComputerTargetGroups()) { if ([string]$g.Id -eq 'a0a08746') { } }",
        "$s = Get-WmiObject -Class Win32_Service\nif ($s.Name -eq 'WsusService') { }",
        "try { $config.Save() } catch { if ($_.Exception.InnerException.GetType().Name -eq 'X') { } }",
        "$t = $config.ProxyName\nif ($t -eq 'proxy') { }",
    ],
)
def test_decisions_by_names_ids_and_parameters_are_accepted(body):
    assert "display-text" not in rules(sample(body))


def test_count_of_a_commands_output_needs_an_array():
    found = only(sample("$s = Get-WmiObject -Class Win32_Service\n$n = $s.Count"), "powershell-2")
    assert found and "no Count" in found[0].text
    piped = "$s = Get-WmiObject -Class Win32_Service | Where-Object { $_.State -eq 'Running' }\n$n = $s.Count"
    assert "powershell-2" in rules(sample(piped))
    assert lint("sample", sample("$s = @(Get-WmiObject -Class Win32_Service)\n$n = $s.Count")) == []
    assert lint("sample", sample("$s = @()\n$s += 1\n$n = $s.Count")) == []


def test_null_on_the_right_of_a_collection_is_rejected():
    text = ARRAY_HEADER + "if ($Names -ne $null) { $a = 1 }\n@{ n = $Names }\n"
    assert [v.line for v in only(text, "null-comparison")] == [4]
    assert "null-comparison" in rules(sample("$u = $server.GetUpdates()\nif ($u -eq $null) { }"))
    fixed = ARRAY_HEADER + "if ($null -ne $Names) { $a = 1 }\n@{ n = $Names }\n"
    assert only(fixed, "null-comparison") == []
    assert only(sample("if ($Path -ne $null) { }"), "null-comparison") == []


def test_server_id_may_be_read_but_never_written():
    assert lint("sample", sample("$id = [string]$config.ServerId")) == []
    assert "forbidden-write" in rules(sample("$config.ServerId = [Guid]::Empty"))


# --- (d) code built from data -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "Invoke-Expression $Path",
        'Invoke-Expression "Get-Item $Path"',
        "iex 'Get-Date'",
        "$b = [scriptblock]::Create($Path)",
        '$b = [ScriptBlock]::Create("Get-Item $Path")',
        "Add-Type -TypeDefinition $Path",
        "& $Path",
        '& "Get-$Path"',
        ". $Path",
    ],
)
def test_code_built_from_data_is_rejected(body):
    assert "code-from-data" in rules(sample(body))


def test_calling_a_fixed_command_or_script_block_is_fine():
    body = "$block = { param($p) $p }\n$x = & $block $Path\n$y = & 'hostname'"
    assert "code-from-data" not in rules(sample(body))


# --- (e) the param block ------------------------------------------------------------------------------


def test_missing_param_block_is_rejected():
    assert "param-block" in rules(PRELUDE + "@{ Name = [string]$server.Name }\n")


def test_unused_parameter_is_rejected():
    text = "param(\n    [string]$Path,\n    [int]$Count,\n    [int]$Unused\n)\n" + PRELUDE + FOOTER
    (violation,) = lint("sample", text)
    assert violation.rule == "unused-parameter" and "$Unused" in violation.text


def test_assigning_a_parameter_is_not_using_it():
    text = HEADER + PRELUDE + "$Count = 5\n@{ Name = [string]$server.Name; Path = $Path }\n"
    assert [v.text for v in only(text, "unused-parameter")] == ["parameter $Count is declared but never used"]


def test_a_parameter_used_only_inside_a_string_counts():
    text = HEADER + PRELUDE + '@{ Name = [string]$server.Name; Text = "$Path and ${Count}" }\n'
    assert lint("sample", text) == []


def test_parameters_the_registry_cannot_read_are_rejected():
    one_line = "param([string]$Path, [int]$Count)\n" + PRELUDE + FOOTER
    assert "registry-params" in rules(one_line)
    untyped = "param(\n    [string]$Path,\n    $Count\n)\n" + PRELUDE + FOOTER
    assert "registry-params" in rules(untyped)


# --- (f) one hashtable out, last ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "ending",
    [
        "$result = @{ Path = $Path; Count = $Count }\n",  # assigned, not output
        "@{ Path = $Path; Count = $Count }\n$Path\n",  # not last
        "@{ Path = $Path; Count = $Count } | Out-Null\n",  # piped away
        "[void]@{ Path = $Path; Count = $Count }\n",
        "New-Object PSObject -Property @{ Path = $Path; Count = $Count }\n",
        "",
    ],
)
def test_the_last_statement_must_be_a_hashtable_literal(ending):
    text = HEADER + PRELUDE + ending
    assert "output" in rules(text)


def test_return_of_a_hashtable_and_trailing_comments_are_fine():
    assert lint("sample", HEADER + PRELUDE + "return @{ Path = $Path; Count = $Count }\n# done\n") == []


# --- the allowlist and the reference ------------------------------------------------------------------


def test_allowlist_format():
    members = allowlist()
    assert {"GetConfiguration", "SyncFromMicrosoftUpdate", "GetSynchronizationProgress"} <= members.wsus
    assert {"Count", "ToUniversalTime", "FullyQualifiedErrorId", "IdentityReference"} <= members.dotnet
    assert {"BitsDownloadPriorityForeground", "MaxSimultaneousFileDownloads", "OobeInitialized"} <= (
        members.unsure
    )
    assert "CreateConnection" in members.unsure
    # an UNSURE member listed as allowed would skip the Get-Member probe requirement
    assert not {m.lower() for m in members.unsure} & {m.lower() for m in members.allowed}


def test_allowlist_parser_refuses_malformed_files():
    with pytest.raises(ValueError, match="before any"):
        parse_allowlist("Name\n")
    with pytest.raises(ValueError, match="unknown section"):
        parse_allowlist("[other]\nName\n")
    with pytest.raises(ValueError, match="not a member name"):
        parse_allowlist("[wsus]\n$config.Name\n")
    assert parse_allowlist("# c\n[wsus]\nName  # why\n\n[unsure]\nX\n").unsure == frozenset({"X"})


def test_documented_list_format():
    text = (
        "# c\n[member]\n"
        "IUpdateServer.GetStatus()  UpdateServerStatus  [DLL]\n"
        "IUpdateServerConfiguration.MUUrl  -  MSD page.md (not in [DLL])  UNSURE  # why\n"
        "\n[registry]\nSetup\\ContentDir  -  MS Cc708545\n"
        "Setup\\Installed Role Services\\UpdateServices-Services  '2'=installed  [DSC-B]\n"
        "[enum]\nSynchronizationStatus::Running  1  [DLL]\n"
    )
    entries = parse_documented(text)
    assert [(e.section, e.member, e.type, e.unsure) for e in entries] == [
        ("member", "GetStatus", "UpdateServerStatus", False),
        ("member", "MUUrl", "-", True),
        ("registry", "ContentDir", "-", False),
        ("registry", "UpdateServices-Services", "'2'=installed", False),
        ("enum", "Running", "1", False),
    ]
    assert entries[1].sources == "MSD page.md (not in [DLL])"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("IUpdate.Title  -  [DLL]\n", "before any"),
        ("[other]\nIUpdate.Title  -  [DLL]\n", "unknown section"),
        ("[member]\nIUpdate.Title  -\n", "expected"),  # no source
        ("[member]\nIUpdate.Title  -  [DLL]  maybe\n", "expected"),  # a fourth column that is not UNSURE
        ("[member]\nTitle  -  [DLL]\n", "not a \\[member\\] name"),  # no interface
        ("[enum]\nUpdateState.Failed  7  [DLL]\n", "not a \\[enum\\] name"),
        ("[registry]\nContentDir  -  MS Cc708545\n", "not a \\[registry\\] name"),
        ("[member]\nIUpdate.Title  -  [DLL]\nIUpdate.Title  string  [DLL]\n", "listed twice"),
    ],
)
def test_documented_list_parser_refuses_malformed_lines(text, message):
    with pytest.raises(ValueError, match=message):
        parse_documented(text)


def test_the_documented_list_keeps_what_the_reference_says():
    by_name = {e.name: e for e in documented()}
    assert by_name["IUpdateServerConfiguration.UpstreamWsusServerName"].type == "string"
    assert by_name["IUpdateServerConfiguration.IsReplicaServer"].sources.startswith("[DLL] MS ms751943")
    assert by_name["ISubscription.SynchronizeAutomaticallyTimeOfDay"].type == "TimeSpan(UTC)"
    assert by_name["SynchronizationResult::NeverRun"].type == "0"
    # the reference's UNSURE marks (and members it says are not in the WSUS 3.0 SP1 assembly)
    assert {e.name for e in documented() if e.unsure} == {
        "IUpdateServerConfiguration.BitsDownloadPriorityForeground",
        "IUpdateServerConfiguration.MaxSimultaneousFileDownloads",
        "IUpdateServerConfiguration.OobeInitialized",
        "IUpdateServerConfiguration.MUUrl",
        "IDatabaseConfiguration.CreateConnection()",
        "Setup\\PortNumber",
        "Setup\\UsingSSL",
    }


def _undocumented(names: frozenset[str], documented_names: set[str]) -> list[str]:
    """Names not documented, compared case-insensitively as PowerShell (and the lint) compare them."""
    return sorted(name for name in names if name.lower() not in documented_names)


def test_every_wsus_member_in_the_allowlist_is_documented_in_the_reference():
    sure = {e.member.lower() for e in documented() if not e.unsure}
    unsure = {e.member.lower() for e in documented() if e.unsure}
    assert {"getconfiguration", "isreplicaserver", "getlastsynchronizationinfo"} <= sure
    # [wsus] names skip the Get-Member probe, so each needs a documentation that is not UNSURE;
    # each [unsure] name is one the reference marks UNSURE.
    assert _undocumented(allowlist().wsus, sure) == []
    assert _undocumented(allowlist().unsure, unsure) == []


def test_the_allowlist_and_the_documented_list_ship_inside_the_repository():
    for path in (MEMBERS_FILE, DOCUMENTED_FILE):
        assert path.is_file() and REPO in path.parents
