"""Whether a lab server accepts the way a script connects to its WSUS administration API.

A server set up for SSL (its setup key says ``UsingSSL`` = 1) serves the administration web service
only over SSL: ``AdminProxy.GetUpdateServer()`` without arguments connects over plain HTTP, which IIS
refuses, and the call fails with a System.Net.WebException. Over SSL, the server's certificate names
the machine by its DNS name, so the connection must use that name (not localhost), with SSL, on the
port the setup key gives.

The lab runs no PowerShell, so it reads the connection form from the script text: a script that
connects the SSL way reads the setup key's UsingSSL and PortNumber and calls
``GetUpdateServer(<the machine's DNS name>, $true, [int]<setup key>.PortNumber)``. Any other script
that calls ``GetUpdateServer`` is taken to connect with the local default, over HTTP. Stricter than
unsure: a form the lab does not recognise counts as HTTP.

While IIS's WsusPool application pool is stopped (the lab's ``wsus_pool_stopped`` fault), the web
service answers every call with HTTP 503 (wsus-api.md: "A stopped WsusPool gives HTTP 503"), however
the script connects.
"""

from __future__ import annotations

import re

from wsusauto.lab.invocation import ScriptError

SETUP_KEY = r"HKLM:\SOFTWARE\Microsoft\Update Services\Server\Setup"

_COMMENTS = re.compile(r"<#.*?#>|#[^\n]*", re.DOTALL)
_ANY_CALL = re.compile(r"AdminProxy\]::GetUpdateServer\s*\(", re.IGNORECASE)
_SSL_CALL = re.compile(
    r"AdminProxy\]::GetUpdateServer\(\s*\$(?P<name>\w+)\s*,\s*\$true\s*,\s*\[int\]\$(?P<key>\w+)\.PortNumber\s*\)",
    re.IGNORECASE,
)


def _code(script: str) -> str:
    return _COMMENTS.sub(" ", script)


def connects_over_ssl(script: str) -> bool:
    """The script reads the setup key and, when it says UsingSSL = 1, connects with the machine's DNS
    name, SSL and the key's PortNumber."""
    code = _code(script)
    call = _SSL_CALL.search(code)
    if call is None:
        return False
    key, name = re.escape(call["key"]), re.escape(call["name"])
    reads_key = re.search(
        rf"\${key}\s*=\s*Get-ItemProperty\s+-Path\s+'{re.escape(SETUP_KEY)}'", code, re.IGNORECASE
    )
    tests_ssl = re.search(rf"\[string\]\${key}\.UsingSSL\s+-eq\s+'1'", code, re.IGNORECASE)
    dns_name = re.search(
        rf"\${name}\s*=\s*\[System\.Net\.Dns\]::GetHostEntry\(\[System\.Net\.Dns\]::GetHostName\(\)\)\.HostName",
        code,
        re.IGNORECASE,
    )
    return bool(reads_key and tests_ssl and dns_name)


def _argument_count(code: str, start: int) -> int:
    """How many arguments the call whose "(" ends at ``start`` passes (commas at its own depth)."""
    depth, count, seen = 0, 0, False
    for char in code[start:]:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            count += 1
        elif not char.isspace():
            seen = True
    return count + 1 if seen else 0


def check_connection(script: str, using_ssl: bool, *, pool_stopped: bool = False) -> None:
    """Raise what PowerShell shows when the script's GetUpdateServer call fails on this server: IIS
    refuses a plain connection to a server set up for SSL (403), and answers no call at all while
    the WsusPool application pool is stopped (503)."""
    code = _code(script)
    call = _ANY_CALL.search(code)
    if call is None:
        return
    if pool_stopped:
        refusal = "The request failed with HTTP status 503: Service Unavailable."
    elif using_ssl and not connects_over_ssl(script):
        refusal = "The request failed with HTTP status 403: Forbidden."
    else:
        return
    raise ScriptError(
        f'Exception calling "GetUpdateServer" with "{_argument_count(code, call.end())}" argument(s): '
        f'"{refusal}"',
        error_id="WebException",
        category="NotSpecified",
        exception_type="System.Management.Automation.MethodInvocationException",
    )
