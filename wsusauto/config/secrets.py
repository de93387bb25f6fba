"""Secrets: a wrapper that never prints its value, and the sources a password may come from.

Every Secret created is remembered (as a value only) so the log set-up can scrub it from any line,
whatever key or text it hides in.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from wsusauto.errors import UsageError

_known_values: set[str] = set()
_known_lock = threading.Lock()

MASK = "********"

# Values shorter than this are not scrubbed from free text: replacing every "a" or "pw" in a log
# line would destroy it while protecting nothing. Secret-named keys are masked whatever the length.
MIN_SCRUB_LENGTH = 4


class Secret:
    """A string that shows as ``********`` in repr, str, f-strings, logs and exceptions."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= MIN_SCRUB_LENGTH:
            with _known_lock:
                _known_values.add(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # Pickling (e.g. to a worker process) keeps the value; printing never does.
        return (Secret, (self._value,))


def known_secret_values() -> frozenset[str]:
    with _known_lock:
        return frozenset(_known_values)


def scrub(text: str) -> str:
    """Replace every known secret value in ``text`` with the mask."""
    for value in sorted(known_secret_values(), key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


def secret_from_env(variable: str, *, what: str) -> Secret:
    value = os.environ.get(variable)
    if value is None:
        raise UsageError(f"{what}: environment variable {variable} is not set")
    return Secret(value)


def secret_from_file(path: str | Path, *, what: str) -> Secret:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{what}: cannot read password file {path}: {exc.strerror}") from None
    # One trailing newline is an editor's, not part of the password.
    return Secret(text[:-1] if text.endswith("\n") else text)
