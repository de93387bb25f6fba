"""Exceptions shared across wsusauto.

Every message is one line a person can act on. Exception texts never carry secrets: callers pass
host names, snippet names and remote error text, never credentials.
"""

from __future__ import annotations


class WsusAutoError(Exception):
    """Base class of every error wsusauto raises on purpose."""


class UsageError(WsusAutoError):
    """The user's input (inventory, topology, playbook, flags) is wrong; nothing was changed."""


class SnippetError(WsusAutoError):
    """A snippet is unknown or was called with parameters it does not declare."""


class Interrupted(WsusAutoError):
    """The run was stopped (Ctrl+C) before or while this work ran on a host."""


class HostError(WsusAutoError):
    """Something went wrong with one host. ``host`` names it."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.reason = message

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take other constructor arguments than their ``args``: rebuild from the state, so
        # an error crosses from a worker process to the parent as it was raised.
        return (_rebuild_host_error, (type(self), self.args, self.__dict__))


class Unreachable(HostError):
    """The host could not be reached or stopped answering (connection refused, reset, HTTP 5xx)."""


class AuthenticationFailed(HostError):
    """The host answered but refused the credentials."""


class DeadlineExceeded(Unreachable):
    """The host did not finish a command within its deadline."""


# What counts as unreachable in every command's results and exit code (run, facts, diagnose,
# report): nothing ran on the host, because it did not answer or refused the login (as Ansible counts).
NEVER_RAN = (Unreachable, AuthenticationFailed)


class RemoteError(HostError):
    """The snippet ran on the host and failed there; ``remote_text`` is PowerShell's error text."""

    def __init__(self, host: str, snippet: str, remote_text: str) -> None:
        super().__init__(host, f"{snippet} failed on the server: {remote_text}")
        self.snippet = snippet
        self.remote_text = remote_text


# How a writing snippet's error text starts when WSUS was busy (a synchronization running, or a
# configuration save still processing) for longer than the snippet may wait: nothing was changed.
BUSY_MARKER = "WSUS busy (retry later):"


class ServerBusy(RemoteError):
    """A writing snippet gave up waiting for WSUS to be free; nothing was changed, and the same call
    can succeed later (``retryable``)."""

    retryable = True

    def __init__(self, host: str, snippet: str, remote_text: str) -> None:
        super().__init__(host, snippet, remote_text)
        detail = remote_text.split(BUSY_MARKER, 1)[-1].strip()
        self.reason = f"{snippet}: WSUS is busy, nothing was changed; run it again later ({detail})"
        self.args = (f"{host}: {self.reason}",)


def remote_error(host: str, snippet: str, remote_text: str) -> RemoteError:
    """The error for a snippet that failed on the server: ServerBusy when the snippet says so."""
    if BUSY_MARKER in remote_text:
        return ServerBusy(host, snippet, remote_text)
    return RemoteError(host, snippet, remote_text)


class FactsError(HostError):
    """The facts snippet answered, but its output does not have the promised shape."""


def _rebuild_host_error(
    cls: type[HostError], args: tuple[object, ...], state: dict[str, object]
) -> HostError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error
