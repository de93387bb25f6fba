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
        "left_running": [
            {"host": "wsus-c", "task": "", "operation": "", "attempt": 2, "started": "2026-11-30T01:30:00Z"}
        ]
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


def test_a_ctrl_c_around_an_executor_becomes_a_run_interrupted_naming_the_syncs_and_journaled(tmp_path):
    import pytest

    from wsusauto.execution.interrupt import naming_syncs_left_running
    from wsusauto.output.journal import Journal, read_journal

    journal = Journal(tmp_path / "journal.jsonl", "run-2")
    with pytest.raises(RunInterrupted) as stopped, naming_syncs_left_running(journal) as syncs:
        syncs.on_record("wsus-e", "applying", {"attempt": 1, "started": STARTED})
        syncs.on_record("wsus-f", "applying", {"attempt": 1, "started": STARTED})
        syncs.on_record("wsus-f", "attempt", {"attempt": 1, "result": "Succeeded"})
        raise KeyboardInterrupt
    journal.close()
    assert [s.host for s in stopped.value.left_running] == ["wsus-e"]
    [line] = read_journal(tmp_path / "journal.jsonl")
    assert line["event"] == "interrupted" and line["left_running"][0]["host"] == "wsus-e"
