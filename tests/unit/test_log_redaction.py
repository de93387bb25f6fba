"""Secrets never reach a log line, console or JSON."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from wsusauto.config.secrets import Secret
from wsusauto.output.log import configure_logging


def _log(fmt: str, **event) -> str:
    stream = io.StringIO()
    configure_logging(fmt, "debug", stream)
    structlog.get_logger("t").info("event", **event)
    return stream.getvalue()


def test_secret_values_are_scrubbed_everywhere_in_both_formats():
    canary = "Canary-7f3a9-pw"
    Secret(canary)
    for fmt in ("console", "json"):
        out = _log(
            fmt,
            password=canary,
            url=f"https://u:{canary}@h",
            nested={"a": [f"x{canary}y"]},
            error=RuntimeError(f"failed with {canary}"),
            secret=Secret(canary),
        )
        assert canary not in out, fmt
        assert "********" in out


def _fail_with(password: str) -> None:
    """Raise with the secret in the exception's text and in a local of the failing frame."""
    connection_string = f"Server=wsus;Password={password}"
    raise RuntimeError(f"login failed for {connection_string}")


def _log_exception(fmt: str) -> str:
    stream = io.StringIO()
    configure_logging(fmt, "debug", stream)
    try:
        _fail_with(EXCEPTION_CANARY)
    except RuntimeError:
        structlog.get_logger("t").exception("connecting failed", host="wsus-eu")
    return stream.getvalue()


EXCEPTION_CANARY = "Canary-Exc-4c1d8-pw"


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_logged_traceback_carries_no_secret(fmt):
    Secret(EXCEPTION_CANARY)
    out = _log_exception(fmt)
    assert EXCEPTION_CANARY not in out
    # the traceback is there: the failing frame and the exception's (scrubbed) text
    assert "_fail_with" in out and "RuntimeError: login failed for Server=wsus;Password=********" in out


def test_json_lines_are_json_with_the_masked_key():
    out = _log("json", proxy_password="anything", host="wsus-eu")
    record = json.loads(out.strip().splitlines()[-1])
    assert record["proxy_password"] == "********"
    assert record["host"] == "wsus-eu"


def test_secret_repr_and_str_mask_the_value():
    secret = Secret("hunter2-xyz")
    assert "hunter2-xyz" not in repr(secret) + str(secret) + f"{secret}"
    assert secret.reveal() == "hunter2-xyz"
