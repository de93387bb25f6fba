"""Check mode of the documented fixes: the facts a fix leaves (``Operation.simulate``) are what a
real run would read back, so a later task of the same host (the fix again, resume_downloads) plans on
them; and a fix that would change says it would then synchronize, as a real run does. Pure: check
mode on given facts contacts no server."""

from __future__ import annotations

import dataclasses

import pytest

from tests.unit.test_facts_parsing import sample
from wsusauto.operations import get_operation
from wsusauto.state.facts import Facts, parse_facts


class NoServer:
    name = "wsus-a"

    def invoke(self, *args, **kwargs):
        raise AssertionError("check mode on given facts contacts no server")


def broken() -> Facts:
    """BITS disabled and stopped, Users cannot read the content folder, three failed downloads,
    the Range-header fix not made (the API has the member)."""
    facts = parse_facts("wsus-a", sample())
    status = dataclasses.replace(facts.update_server_status, updates_with_server_errors_count=3)
    return dataclasses.replace(facts, update_server_status=status, bits_download_priority_foreground=False)


@pytest.mark.parametrize("name", ["bits_service", "bits_foreground", "content_permissions"])
def test_a_fix_planned_again_on_its_simulated_facts_changes_nothing(name):
    operation = get_operation(name)
    facts = broken()
    first = operation.run(NoServer(), {}, check=True, facts=facts)
    assert first.changed and first.check_mode, first
    after = operation.simulate(facts, first)
    again = operation.run(NoServer(), {}, check=True, facts=after)
    assert not again.changed, again.message
    # the fix resumed the failed downloads: a resume_downloads task after it has nothing to do
    assert after.update_server_status.updates_with_server_errors_count == 0
    assert not get_operation("resume_downloads").plan(after, {}).changes


@pytest.mark.parametrize(
    ("name", "args", "synchronizes"),
    [
        ("bits_service", {}, True),
        ("bits_foreground", {}, True),
        ("bits_service", {"synchronize": False}, False),
        ("content_permissions", {}, False),  # no synchronization after it
    ],
)
def test_check_mode_says_a_fix_would_then_synchronize(name, args, synchronizes):
    result = get_operation(name).run(NoServer(), args, check=True, facts=broken())
    assert result.message.endswith("; then would synchronize") is synchronizes, result.message
