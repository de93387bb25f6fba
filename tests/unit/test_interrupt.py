"""What a run stopped by Ctrl+C says: its exit code, its --json document, one line per sync left running."""

from __future__ import annotations

import datetime as dt

from wsusauto import exitcodes
from wsusauto.execution.hostwork import TaskResult
from wsusauto.execution.interrupt import RunInterrupted
from wsusauto.execution.runner import RunResult
from wsusauto.execution.running_syncs import RunningSync

STARTED = dt.datetime(2026, 11, 30, 1, 30, tzinfo=dt.timezone.utc)


def test_a_stopped_run_exits_99_whatever_its_hosts_did_and_its_document_names_the_syncs_left_running():
    result = RunResult("run-1", check_mode=False)
    result.add(TaskResult("wsus-a", "play", "sync", "synchronize", "failed"))
    result.add(TaskResult("wsus-b", "play", "sync", "synchronize", "unreachable"))
    assert result.exit_code == exitcodes.HOST_UNREACHABLE and "interrupted" not in result.document()

    result.interrupted = [RunningSync("wsus-c", 2, STARTED)]
    assert result.exit_code == exitcodes.INTERRUPTED
    assert result.document()["interrupted"] == {
        "left_running": [{"host": "wsus-c", "attempt": 2, "started": "2026-11-30T01:30:00Z", "task": ""}]
    }


def test_the_message_has_one_line_per_sync_left_running_with_its_server_and_start():
    stop = RunInterrupted([RunningSync("wsus-c", 1, STARTED), RunningSync("wsus-d", 3, STARTED)])
    head, *lines = stop.lines()
    assert head.startswith("interrupted")
    assert [line.split(":")[0].strip() for line in lines] == ["wsus-c", "wsus-d"]
    assert all("2026-11-30 01:30:00 UTC" in line and "left running" in line for line in lines)
    assert stop.journal_fields()["left_running"][1]["host"] == "wsus-d"
    assert isinstance(stop, KeyboardInterrupt)  # a library caller sees the Ctrl+C it pressed


def test_no_sync_left_running_says_so_in_one_line():
    assert RunInterrupted([]).lines() == [
        "interrupted: the run stopped; no synchronization it started is left running"
    ]
