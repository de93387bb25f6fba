"""structlog set-up: readable console lines for people, JSON lines for machines; secrets redacted.

Redaction works twice: any key that names a secret (password, secret, token, ...) has its value
replaced, and every known ``Secret`` value is scrubbed from every string in the event, wherever it
hides (a URL, an exception text, a nested dict).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog

from wsusauto.config.secrets import MASK, Secret, scrub

_SECRET_KEY = re.compile(r"pass(word)?|secret|token|credential|api[_-]?key", re.IGNORECASE)


def _redact_value(value: Any) -> Any:
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(k, str) and _SECRET_KEY.search(k) else _redact_value(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    if isinstance(value, BaseException):
        return scrub(f"{type(value).__name__}: {value}")
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask secret-named keys and scrub known secret values."""
    return {
        key: (MASK if _SECRET_KEY.search(key) and value not in (None, "", False) else _redact_value(value))
        for key, value in event_dict.items()
    }


def _scrub_rendered(_logger: Any, _method: str, rendered: str) -> str:
    # Last line of defence: tracebacks are rendered after the processors above ran.
    return scrub(rendered)


_settings = ("console", "warning")


def current_settings() -> tuple[str, str]:
    """The format and level last configured, so worker processes can log the same way."""
    return _settings


def configure_logging(fmt: str = "console", level: str = "warning", stream: TextIO | None = None) -> None:
    """Configure structlog for the whole process (CLI entry points call this once)."""
    global _settings
    if fmt not in ("console", "json"):
        raise ValueError(f"log format must be console or json, not {fmt!r}")
    _settings = (fmt, level)
    stream = stream or sys.stderr
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    if fmt == "json":
        processors += [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=True),
        ]
    else:
        processors += [
            structlog.dev.ConsoleRenderer(
                colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback
            )
        ]
    processors.append(_scrub_rendered)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
