"""Windows PowerShell 2.0 (WSUS 3.0 SP2's Windows Server 2008 R2): what it refuses in a script that
PowerShell 3 and later run.

The lab answers a script on a PowerShell 2.0 server only when its code (comments and string contents
left out) uses nothing newer, and otherwise fails the way 2.0 does: a parse error for operators it
does not know, "Unable to find type" for newer type accelerators, no ``new`` method on a type, no
``ForEach``/``Where`` method on a collection, and newer cmdlets not recognized. It can tell only
from the text, so what it cannot see (a newer parameter, $PSItem left $null) still passes.
"""

from __future__ import annotations

import re

from wsusauto.lab.invocation import ScriptError, command_not_found

_NEWER_OPERATORS = re.compile(r"(?i)(?<![\w-])-(in|notin|iin|inotin|cin|cnotin|shl|shr)\b")
_NEWER_TYPES = re.compile(r"(?i)\[(ordered|pscustomobject)\]")
_NEW_METHOD = re.compile(r"(?i)\[([\w.]+)\]::new\s*\(")
_COLLECTION_METHOD = re.compile(r"(?i)\.(ForEach|Where)\s*\(")
# Cmdlets 2.0 does not have: newer PowerShell versions', and the modules of Windows Server 2012 and
# later (NetTCPIP, Storage, ..., and UpdateServices: WSUS 3.0 SP2 has no Get-WsusServer).
_NEWER_COMMANDS = re.compile(
    r"(?i)(?<![\w-])(ConvertTo-Json|ConvertFrom-Json|Invoke-RestMethod|Invoke-WebRequest|Get-CimInstance|"
    r"Invoke-CimMethod|Set-CimInstance|Test-NetConnection|Resolve-DnsName|Get-ItemPropertyValue|New-Guid|"
    r"Get-FileHash|New-TemporaryFile|Expand-Archive|Compress-Archive|Write-Information|ConvertFrom-String|"
    r"Import-PowerShellDataFile|Unblock-File|Get-ComputerInfo|Get-TimeZone|Get-LocalUser|"
    r"Get-LocalGroupMember|Get-ScheduledTask|Get-NetAdapter|Get-NetIPAddress|Get-NetTCPConnection|"
    r"Get-SmbShare|Get-Volume|Get-Disk|[A-Za-z]+-Wsus[A-Za-z]*)(?![\w-])"
)


def code_only(script: str) -> str:
    """The script with comments removed and the contents of string literals blanked."""
    out: list[str] = []
    i, n = 0, len(script)
    while i < n:
        if script.startswith("<#", i):
            end = script.find("#>", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        elif script[i] == "#":
            end = script.find("\n", i)
            i = n if end < 0 else end
        elif script[i] in "'\"":
            quote, j = script[i], i + 1
            while j < n:
                if script[j] == quote and script.startswith(quote * 2, j):
                    j += 2  # '' (or "") inside the string is the quote itself
                elif script[j] == quote:
                    break
                elif quote == '"' and script[j] == "`":
                    j += 2
                else:
                    j += 1
            out.append(quote + quote)
            i = j + 1
        else:
            out.append(script[i])
            i += 1
    return "".join(out)


def _parse_error(token: str) -> ScriptError:
    return ScriptError(
        f"Unexpected token '{token}' in expression or statement.",
        error_id="UnexpectedToken",
        category="ParserError",
        exception_type="System.Management.Automation.ParseException",
    )


def refuse_newer(script: str) -> None:
    """Raise what Windows PowerShell 2.0 raises for the first newer construct in ``script``."""
    code = code_only(script)
    found = [
        (m.start(), kind, m)
        for kind, pattern in (
            ("operator", _NEWER_OPERATORS),
            ("type", _NEWER_TYPES),
            ("new", _NEW_METHOD),
            ("collection", _COLLECTION_METHOD),
            ("command", _NEWER_COMMANDS),
        )
        for m in pattern.finditer(code)
    ]
    if not found:
        return
    _start, kind, match = min(found, key=lambda f: f[0])
    if kind == "operator":
        raise _parse_error(match.group(0))  # the parser runs first: nothing of the script ran
    if kind == "type":
        raise ScriptError(
            f"Unable to find type [{match.group(1)}]: make sure that the assembly containing this type is "
            "loaded.",
            error_id="TypeNotFound",
            category="InvalidOperation",
        )
    if kind == "new":
        raise ScriptError(
            f"Method invocation failed because [{match.group(1)}] doesn't contain a method named 'new'.",
            error_id="MethodNotFound",
            category="InvalidOperation",
        )
    if kind == "collection":
        raise ScriptError(
            "Method invocation failed because [System.Object[]] doesn't contain a method named "
            f"'{match.group(1)}'.",
            error_id="MethodNotFound",
            category="InvalidOperation",
        )
    error = command_not_found(match.group(1))
    error.terminating = True  # under $ErrorActionPreference = 'Stop', as every snippet sets it
    raise error
