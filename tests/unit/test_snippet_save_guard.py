"""Every snippet that saves goes through the one shared guard, the same text in each.

WSUS refuses Save() while a synchronization runs or a previous save is processing (wsus-api.md 1.2a);
each writing snippet waits for that with Wait-ServerReady and saves with Save-WhenReady. The lab
models that wait once for all of them (wsusauto/lab/saves.py), so a copy that drifted in one snippet
would pass in the lab and misbehave on a real server: every copy must be this one text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wsusauto.client.snippets import registry

GUARD = (Path(__file__).resolve().parent.parent / "data" / "wsus_save_when_ready.txt").read_text()
_FUNCTION = re.compile(r"^function (Wait-ServerReady|Save-WhenReady)\b.*?^}\n", re.M | re.S)
_SAVE_CALL = re.compile(r"\.Save\(")


def _code_lines(text: str) -> list[str]:
    """The script's lines without comments (# lines and <# #> blocks)."""
    text = re.sub(r"<#.*?#>", "", text, flags=re.S)
    return [line for line in text.splitlines() if not line.lstrip().startswith("#")]


def _saving_snippets() -> list[str]:
    return sorted(
        name
        for name, snippet in registry().items()
        if any(_SAVE_CALL.search(line) for line in _code_lines(snippet.text))
    )


def test_the_writing_snippets_are_found():
    assert _saving_snippets() == [
        "set_bits_foreground",
        "set_proxy",
        "set_replica",
        "set_schedule",
        "set_storage_option",
        "set_update_source",
    ]


@pytest.mark.parametrize("name", _saving_snippets())
def test_a_snippet_saves_only_through_the_shared_guard(name):
    text = registry()[name].text
    assert "".join(match.group(0) for match in _FUNCTION.finditer(text)) == GUARD
    outside = _FUNCTION.sub("", text)
    assert not [line for line in _code_lines(outside) if _SAVE_CALL.search(line)], (
        f"{name} calls Save() outside Save-WhenReady"
    )
