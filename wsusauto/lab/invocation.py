"""The contract between the lab's WinRM transport and the WSUS model behind it.

The transport (``wsusauto.lab.wsman``) turns a PSRP CreatePipeline into an ``Invocation`` with
plain Python values and hands it to a ``ScriptHandler``. The handler returns the pipeline's output
objects (plain Python: str, int, float, bool, None, list, dict, datetime) or raises ``ScriptError``,
which the transport reports the way PowerShell reports a terminating error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class SecureValue:
    """A SecureString parameter, decrypted by the lab; it never shows its value when printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecureValue(********)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecureValue) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("SecureValue", self._value))


@dataclass(frozen=True)
class Invocation:
    endpoint: str  # the lab server's name (one endpoint = one WSUS server)
    script: str  # the script text exactly as the client sent it
    parameters: dict[str, Any] = field(default_factory=dict)  # name -> plain Python value
    username: str = ""  # the authenticated user


class ScriptError(Exception):
    """A PowerShell error raised by a handler.

    ``error_id`` and ``category`` become the ErrorRecord's FullyQualifiedErrorId and category
    (``NotSpecified``, ``ObjectNotFound``, ``InvalidOperation``, ...). With ``terminating`` the
    pipeline ends Failed, as a ``throw`` under ``$ErrorActionPreference = 'Stop'`` does; without it
    the record is written to the error stream and the pipeline completes.
    """

    def __init__(
        self,
        message: str,
        *,
        error_id: str = "RuntimeException",
        category: str = "NotSpecified",
        exception_type: str = "System.Management.Automation.RuntimeException",
        terminating: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.category = category
        self.exception_type = exception_type
        self.terminating = terminating


ScriptHandler = Callable[[Invocation], list[Any]]


def not_recognized(script: str) -> ScriptError:
    """PowerShell's own error for a command it does not know."""
    # PowerShell names the first command it could not resolve; comments are not commands.
    code = re.sub(r"<#.*?#>", " ", script, flags=re.DOTALL)
    code = re.sub(r"(?m)#.*$", " ", code)
    words = code.split()
    return command_not_found(words[0] if words else script.strip())


def command_not_found(term: str) -> ScriptError:
    """PowerShell's CommandNotFoundException for ``term`` (a name or a path, as written)."""
    return ScriptError(
        f"The term '{term}' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
        "and try again.",
        error_id="CommandNotFoundException",
        category="ObjectNotFound",
        exception_type="System.Management.Automation.CommandNotFoundException",
        terminating=False,
    )
