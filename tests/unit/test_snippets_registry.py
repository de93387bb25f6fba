"""The snippet registry: declared parameters, strict binding, exact-text lookup."""

from __future__ import annotations

import pytest

from wsusauto.errors import SnippetError
from wsusauto.snippets import SnippetRegistry, parse_parameters, registry


def test_get_facts_parameters_in_declaration_order():
    snippet = registry()["get_facts"]
    assert snippet.parameter_names == (
        "HistoryCount",
        "EventLookbackHours",
        "EventIds",
        "MaxEvents",
        "ServiceNames",
        "SetupRegistryPath",
    )
    assert [p.ps_type for p in snippet.parameters][:3] == ["int", "int", "int[]"]


def test_bind_refuses_unknown_and_missing_parameters():
    snippet = registry()["get_facts"]
    with pytest.raises(SnippetError, match=r"has no parameter.*Bogus"):
        snippet.bind({"Bogus": 1})
    with pytest.raises(SnippetError, match=r"needs parameter.*SetupRegistryPath"):
        snippet.bind(
            {"HistoryCount": 1, "EventLookbackHours": 1, "EventIds": [], "MaxEvents": 1, "ServiceNames": []}
        )


def test_lookup_by_text_is_exact():
    snippet = registry()["get_facts"]
    assert registry().by_text(snippet.text) is snippet
    assert registry().by_text(snippet.text + " ") is None
    assert registry().by_text(snippet.text.replace("Reads only", "Reads 0nly")) is None


def test_unknown_snippet_names_the_known_ones():
    with pytest.raises(SnippetError, match=r"known: .*get_facts"):
        registry()["no_such_snippet"]


def test_registry_from_a_directory(tmp_path):
    (tmp_path / "one.ps1").write_text("param(\n    [string]$A,\n    [int[]]$B\n)\n@{ a = $A; b = $B }\n")
    loaded = SnippetRegistry(tmp_path)
    assert list(loaded) == ["one"] and loaded["one"].parameter_names == ("A", "B")
    assert parse_parameters("@{ a = 1 }") == ()
