"""decline_missing_updates' own logic, from a diagnosis given as its arguments (no server needed)."""

from __future__ import annotations

import pytest

from tests.unit.test_checks import evidence
from wsusauto.operations import get_operation
from wsusauto.operations.decline import MISSING

UPDATE = "3f2a9c1e-8d4b-4c57-9a0e-2b6f1d7c8e90"


@pytest.mark.parametrize("all_missing", [None, False])
def test_naming_updates_never_warns_that_only_some_were_compared(all_missing):
    # The server counts 5 failed downloads, one of them compared: that shortfall concerns
    # all_missing: true only, not a task that names its updates (all_missing absent or false).
    operation = get_operation("decline_missing_updates")
    given = {"updates": [UPDATE], **({} if all_missing is None else {"all_missing": all_missing})}
    args = operation.validate(given, "t")
    args[MISSING] = ("wsus-root", ((UPDATE, "KB1"),), "", 5)
    facts = evidence("wsus-eu", "wsus-root").facts
    result = operation.run(None, args, check=True, facts=facts)
    assert result.changed and result.warnings == ()
    everything = {**operation.validate({"all_missing": True}, "t"), MISSING: args[MISSING]}
    result = operation.run(None, everything, check=True, facts=facts)
    assert result.warnings == (
        "only the first 1 failed updates were compared with wsus-root (the server counts 5); run the "
        "task again after this one to take the rest",
    )
