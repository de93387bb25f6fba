"""Playbook parsing, expressions, batches, check-mode simulation, exit codes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_facts_parsing import sample
from wsusauto import exitcodes
from wsusauto.config.playbook import Play, playbook_from_data
from wsusauto.config.templating import condition_holds, render
from wsusauto.errors import UsageError
from wsusauto.execution.runner import RunResult, TaskResult
from wsusauto.operations import Change, OperationRefused, get_operation
from wsusauto.operations.base import simulate_changes
from wsusauto.state.facts import parse_facts

VARS = {"wsus_upstream": "wsus-root", "port": 8531, "flag": False, "empty": ""}


def test_render_keeps_types_for_whole_references_and_substitutes_text():
    assert render("{{ port }}", VARS, "t") == 8531
    assert render("https://{{ wsus_upstream }}:{{ port }}", VARS, "t") == "https://wsus-root:8531"
    assert render("{{ missing | default(8530) }}", VARS, "t") == 8530
    assert render("{{ missing | default('x y') }}", VARS, "t") == "x y"
    assert render({"a": ["{{ flag }}"]}, VARS, "t") == {"a": [False]}


def test_render_keeps_values_as_data_and_refuses_statements():
    assert render("{{ v }}", {"v": "{{ port }}"}, "t") == "{{ port }}"  # a value is data, not a template
    assert render("{{ v | upper }}", {"v": "{{ port }}"}, "t") == "{{ PORT }}"
    assert render("{{ port + 1 }}", VARS, "t") == 8532
    with pytest.raises(UsageError, match="statements"):
        render("{% if x %}y{% endif %}", VARS, "t")
    with pytest.raises(UsageError, match="'nope' is not defined"):
        render("{{ nope }}", VARS, "task 1")


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("wsus_upstream is defined", True),
        ("wsus_upstream is not defined", False),
        ("nope is defined", False),
        ("nope is not defined", True),
        ("flag", False),
        ("not flag", True),
        ("empty", False),
        ("nope", False),
        ("not nope", True),
        (["wsus_upstream is defined", "not flag"], True),
        (None, True),
    ],
)
def test_when(condition, expected):
    assert condition_holds(condition, VARS, "t") is expected


def test_when_takes_any_expression_and_refuses_braces():
    assert condition_holds("port > 8000 and wsus_upstream | upper == 'WSUS-ROOT'", VARS, "t") is True
    with pytest.raises(UsageError, match="already an expression"):
        condition_holds("{{ port > 8000 }}", VARS, "t")


def _play(**extra):
    return {"hosts": "all", "tasks": [{"name": "s", "status": {}}], **extra}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "a playbook is a list of plays"),
        ([{"tasks": [{"status": {}}]}], "hosts must be a host pattern"),
        ([_play(order="random")], "order must be one of"),
        ([_play(serial="ten")], "serial must be"),
        ([_play(max_fail_percentage=120)], "0 to 100"),
        ([_play(become=True)], "unknown key"),
        ([{"hosts": "all", "tasks": [{"name": "x", "win_shell": "whoami"}]}], "exactly one operation"),
        (
            [{"hosts": "all", "tasks": [{"status": {}, "replica": {"enabled": True}}]}],
            "exactly one operation",
        ),
        (
            [
                {
                    "hosts": "all",
                    "tasks": [{"proxy": {"enabled": True, "allow_cleartext_proxy_password": True}}],
                }
            ],
            "play setting",
        ),
        # expressions no host could evaluate are refused when the file is read
        (
            [{"hosts": "all", "tasks": [{"update_source": {"upstream": "{{ x | center(9) }}"}}]}],
            "No filter named 'center'",
        ),
        ([{"hosts": "all", "tasks": [{"status": {}, "when": "port >"}]}], "not a valid expression"),
        ([{"hosts": "all", "tasks": [{"status": {}, "when": ["x", "{{ y }}"]}]}], "already an expression"),
        (
            [{"hosts": "all", "tasks": [{"proxy": {"name": ["{% include 'pb.yml' %}"]}}]}],
            "include, import and extends are not available",
        ),
        ([_play(vars={"a": "{% for i in x %}{% endfor %}"})], r"vars a: .*statements"),
    ],
)
def test_playbook_errors_name_the_place(data, message):
    with pytest.raises(UsageError, match=message) as info:
        playbook_from_data(data, "pb.yml")
    assert str(info.value).startswith("pb.yml")


@given(
    st.integers(1, 60),
    st.lists(st.one_of(st.integers(1, 10), st.sampled_from(["10%", "50%", "100%"])), min_size=1, max_size=3),
)
def test_serial_batches_cover_every_host_once_in_order(count, serial):
    hosts = [f"h{i}" for i in range(count)]
    play = Play("p", "all", (), serial=tuple(serial))
    batches = play.batches(hosts)
    assert [h for batch in batches for h in batch] == hosts
    assert all(batches)


def test_serial_sizes_follow_ansible():
    play = Play("p", "all", (), serial=(1, "50%"))
    assert [len(b) for b in play.batches([f"h{i}" for i in range(9)])] == [1, 4, 4]


@pytest.mark.parametrize(
    ("operation", "args", "message"),
    [
        ("update_source", {"source": "upstream"}, "needs upstream"),
        ("update_source", {"source": "microsoft_update", "port": 8530}, "takes no upstream"),
        ("update_source", {"source": "upstream", "upstream": "a b"}, "without spaces"),
        ("update_source", {"source": "upstream", "upstream": "x", "port": 70000}, "1 to 65535"),
        ("schedule", {"time": "25:00"}, "not a time of day|hour must be"),
        ("schedule", {"per_day": 0}, "1 to 24"),
        ("schedule", {"time": "22:00", "timezone": "Mars/Base"}, "IANA time zone"),
        ("proxy", {"enabled": True, "basic_auth_cleartext": True}, "allow_cleartext_proxy_password"),
        ("replica", {"enabled": "maybe"}, "must be bool"),
        ("replica", {"enabled": True, "force": True}, "has no argument force"),
    ],
)
def test_operation_arguments_are_checked_before_anything_runs(operation, args, message):
    with pytest.raises(UsageError, match=message):
        get_operation(operation).validate(args, "task 1")


def test_plans_refuse_what_wsus_save_refuses():
    facts = parse_facts("h", sample())  # the sample is a replica of wsus-root
    with pytest.raises(OperationRefused, match="Release it first"):
        get_operation("update_source").plan(facts, {"source": "microsoft_update"})
    mu = parse_facts("h", {**sample(), "IsReplicaServer": False, "SyncFromMicrosoftUpdate": True})
    with pytest.raises(OperationRefused, match="update source to the upstream server first"):
        get_operation("replica").plan(mu, {"enabled": True})


def test_plan_touches_only_named_members():
    facts = parse_facts("h", sample())
    plan = get_operation("update_source").plan(
        facts, {"source": "upstream", "upstream": "wsus-root", "ssl": False}
    )
    assert [c.member for c in plan.changes] == ["UpstreamWsusServerUseSsl"]
    assert plan.parameters["Members"] == ["UpstreamWsusServerUseSsl"]


def test_schedule_converts_a_zone_to_utc_and_warns():
    op = get_operation("schedule").__class__(today=dt.date(2026, 1, 15))
    plan = op.plan(parse_facts("h", sample()), {"time": "22:30", "timezone": "Europe/Berlin"})
    assert plan.changes[0].after == dt.time(21, 30)
    assert plan.parameters["TimeOfDaySeconds"] == 21 * 3600 + 30 * 60
    assert "daylight saving" in plan.warnings[0]


def test_simulate_applies_changes_to_facts():
    facts = parse_facts("h", sample())
    after = simulate_changes(
        facts, [Change("IsReplicaServer", True, False), Change("ProxyPassword", "(none)", "(set)")]
    )
    assert after.is_replica_server is False and after.has_proxy_password is True


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        (["ok", "changed"], exitcodes.OK),
        (["ok", "failed"], exitcodes.HOST_FAILED),
        (["failed", "unreachable"], exitcodes.HOST_UNREACHABLE),
        (["ignored", "skipped"], exitcodes.OK),
    ],
)
def test_exit_codes_follow_ansible(statuses, code):
    run = RunResult("r", False)
    for i, status in enumerate(statuses):
        run.add(TaskResult(f"h{i}", "p", "t", "status", status))
    assert run.exit_code == code
