"""The registry of PowerShell snippets shipped with wsusauto.

Each remote action is one ``ps_snippets/<name>.ps1`` file with a ``param()`` block. Callers pass
values as parameters, never as script text, so hostile values stay data. The registry knows each
snippet's declared parameters and refuses a call that names an unknown snippet or parameter, or
leaves one out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from wsusauto.errors import SnippetError

# `[type]$Name` or `[type[]]$Name` inside the param() block; defaults are not used by our snippets.
_PARAM_RE = re.compile(r"\[(?P<type>[A-Za-z0-9_.]+(?:\[\])?)\]\s*\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)")
_PARAM_BLOCK_RE = re.compile(r"^param\s*\((?P<body>.*?)^\)", re.MULTILINE | re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class SnippetParameter:
    name: str
    ps_type: str  # as written in the param block, e.g. "int", "string[]", "Security.SecureString"


@dataclass(frozen=True)
class Snippet:
    name: str
    text: str
    parameters: tuple[SnippetParameter, ...]

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``values`` against the param() block and return them in declaration order."""
        declared = set(self.parameter_names)
        unknown = sorted(set(values) - declared)
        if unknown:
            raise SnippetError(
                f"snippet {self.name!r} has no parameter(s) {', '.join(unknown)}; "
                f"it takes {', '.join(self.parameter_names) or 'none'}"
            )
        missing = [name for name in self.parameter_names if name not in values]
        if missing:
            raise SnippetError(f"snippet {self.name!r} needs parameter(s) {', '.join(missing)}")
        return {name: values[name] for name in self.parameter_names}


def parse_parameters(text: str) -> tuple[SnippetParameter, ...]:
    match = _PARAM_BLOCK_RE.search(text)
    if match is None:
        return ()
    return tuple(SnippetParameter(m["name"], m["type"]) for m in _PARAM_RE.finditer(match["body"]))


def snippets_dir() -> Path:
    """Where the .ps1 files are: inside the installed wheel, or the repository's top level."""
    packaged = resources.files("wsusauto") / "ps_snippets"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "ps_snippets"


class SnippetRegistry(Mapping[str, Snippet]):
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._snippets: dict[str, Snippet] = {}
        for path in sorted(directory.glob("*.ps1")):
            # Read bytes and decode so the text is exactly the file (no newline translation).
            text = path.read_bytes().decode("utf-8")
            self._snippets[path.stem] = Snippet(path.stem, text, parse_parameters(text))
        self._by_text = {snippet.text: snippet for snippet in self._snippets.values()}

    def __getitem__(self, name: str) -> Snippet:
        try:
            return self._snippets[name]
        except KeyError:
            raise SnippetError(
                f"unknown snippet {name!r}; known: {', '.join(sorted(self._snippets))}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._snippets)

    def __len__(self) -> int:
        return len(self._snippets)

    def by_text(self, script: str) -> Snippet | None:
        """The snippet whose text is exactly ``script``, or None."""
        return self._by_text.get(script)


@lru_cache(maxsize=1)
def registry() -> SnippetRegistry:
    return SnippetRegistry(snippets_dir())
