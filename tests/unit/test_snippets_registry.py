"""The snippet registry: declared parameters, strict binding, exact-text lookup."""

from __future__ import annotations

import re

import pytest

from wsusauto.client.snippets import SnippetRegistry, parse_parameters, registry
from wsusauto.errors import SnippetError

GET_FACTS_PARAMETERS = (
    "HistoryCount",
    "EventLookbackHours",
    "EventIds",
    "MaxEvents",
    "ServiceNames",
    "SetupRegistryPath",
)
GOOD_VALUES = {
    "HistoryCount": 5,
    "EventLookbackHours": 24,
    "EventIds": [364, 10012],
    "MaxEvents": 50,
    "ServiceNames": ["WsusService", "BITS"],
    "SetupRegistryPath": r"HKLM:\SOFTWARE\Microsoft\Update Services\Server\Setup",
}


def test_get_facts_parameters_in_declaration_order():
    snippet = registry()["get_facts"]
    assert snippet.name == "get_facts"
    assert snippet.parameter_names == GET_FACTS_PARAMETERS
    assert [p.ps_type for p in snippet.parameters] == ["int", "int", "int[]", "int", "string[]", "string"]


def test_bind_returns_the_values_in_declaration_order():
    snippet = registry()["get_facts"]
    bound = snippet.bind(dict(reversed(list(GOOD_VALUES.items()))))
    assert tuple(bound) == GET_FACTS_PARAMETERS
    assert bound == GOOD_VALUES


def test_bind_refuses_an_unknown_parameter_and_says_what_it_takes():
    snippet = registry()["get_facts"]
    with pytest.raises(SnippetError) as caught:
        snippet.bind({**GOOD_VALUES, "Bogus": 1, "Another": 2})
    message = str(caught.value)
    assert "'get_facts'" in message and "has no parameter(s) Another, Bogus" in message
    assert "it takes " + ", ".join(GET_FACTS_PARAMETERS) in message


def test_bind_refuses_missing_parameters_and_names_them():
    snippet = registry()["get_facts"]
    values = {k: v for k, v in GOOD_VALUES.items() if k not in ("EventIds", "SetupRegistryPath")}
    with pytest.raises(SnippetError, match=r"'get_facts' needs parameter\(s\) EventIds, SetupRegistryPath$"):
        snippet.bind(values)


def test_parameter_names_are_case_sensitive_in_bind():
    snippet = registry()["get_facts"]
    values = {("historycount" if k == "HistoryCount" else k): v for k, v in GOOD_VALUES.items()}
    with pytest.raises(SnippetError, match="historycount"):
        snippet.bind(values)


def test_lookup_by_text_is_exact():
    snippet = registry()["get_facts"]
    text = snippet.text
    assert registry().by_text(text) is snippet
    assert registry().by_text(text + " ") is None
    assert registry().by_text(text.rstrip("\n")) is None
    assert registry().by_text(text.replace("\n", "\r\n")) is None
    assert registry().by_text(text.replace("Reads only", "Reads 0nly", 1)) is None
    position = text.index("$HistoryCount")
    assert registry().by_text(text[:position] + "$historyCount" + text[position + 13 :]) is None


def test_every_shipped_snippet_is_found_by_its_own_text():
    for name in registry():
        assert registry().by_text(registry()[name].text) is registry()[name]


def test_unknown_snippet_names_the_known_ones():
    with pytest.raises(SnippetError) as caught:
        registry()["no_such_snippet"]
    message = str(caught.value)
    assert message.startswith("unknown snippet 'no_such_snippet'; known: ")
    assert re.findall(r"known: (.*)$", message)[0].split(", ") == sorted(registry())


def test_registry_from_a_directory(tmp_path):
    (tmp_path / "one.ps1").write_text("param(\n    [string]$A,\n    [int[]]$B\n)\n@{ a = $A; b = $B }\n")
    (tmp_path / "notes.txt").write_text("not a snippet")
    loaded = SnippetRegistry(tmp_path)
    assert list(loaded) == ["one"] and len(loaded) == 1
    assert loaded["one"].parameter_names == ("A", "B")
    assert parse_parameters("@{ a = 1 }") == ()
    with pytest.raises(SnippetError, match=r"known: one$"):
        loaded["two"]
