"""The run's console lines: written directly when piped, through rich on a terminal; the same text."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from rich.console import Console

from wsusauto.execution.hostwork import TaskResult
from wsusauto.execution.runner import RunResult
from wsusauto.output.console import RunPrinter

HOSTILE = "x [bold]y[/bold] \\[z] \x07bell\ttab\rcr \x1b[31mesc $(rm -rf) `n`"


def results() -> list[TaskResult]:
    return [
        TaskResult("wsus-[eu]", "play", "status", "status", "ok", message="never shown for ok"),
        TaskResult(
            "wsus-us",
            "play",
            "schedule",
            "schedule",
            "changed",
            changed=True,
            message=HOSTILE,
            warnings=("DST " + HOSTILE,),
            diff={"before": {"ProxyName": None}, "after": {"ProxyName": HOSTILE}},
        ),
        TaskResult(
            "wsus-us-01",
            "play",
            "sync",
            "synchronize",
            "failed",
            message="no luck",
            details={
                "attempts": [
                    {"attempt": 1, "result": "Failed", "error": "UssNotFound", "error_text": HOSTILE},
                    {"attempt": 2, "result": "Succeeded"},
                ]
            },
        ),
    ]


def printed(plain: bool, only_changes: bool = False) -> str:
    out = io.StringIO()
    printer = RunPrinter(Console(file=out, width=220), show_diff=True, only_changes=only_changes)
    assert printer._plain  # a StringIO is no terminal: the direct path
    printer._plain = plain
    printer.play(SimpleNamespace(name="designate [replicas]"), ["a", "b"])
    run = RunResult(run_id="r", check_mode=True, aborted="aborted: " + HOSTILE)
    for result in results():
        printer.result(result)
        run.add(result)
    printer.recap(run)
    return out.getvalue()


@pytest.mark.parametrize("only_changes", [False, True])
def test_direct_lines_are_the_text_rich_prints(only_changes):
    direct = printed(plain=True, only_changes=only_changes)
    assert direct == printed(plain=False, only_changes=only_changes)
    assert ("ok: [wsus-[eu]] status" in direct) is not only_changes


def test_user_text_is_shown_as_text():
    text = printed(plain=True)
    assert "changed: [wsus-us] schedule (schedule) - x [bold]y[/bold] \\[z]" in text
    assert "PLAY [designate [replicas]] (2 hosts)" in text
    assert "  attempt 1: Failed UssNotFound: x [bold]" in text
    assert "\x07" not in text and "\r" not in text and "\t" not in text  # as rich strips them
    assert "wsus-[eu]  : ok=1" in text  # recap lines keep their brackets too


def test_a_terminal_console_is_rendered_by_rich():
    printer = RunPrinter(Console(file=io.StringIO(), force_terminal=True, width=100))
    assert printer._plain is False
