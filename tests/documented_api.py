"""Reads ``tests/data/wsus_api_documented.txt``: what the WSUS API reference (wsus-api.md) documents.

The snippet lint's allowlist (``wsus_api_members.txt``) may name a WSUS member only when this list
documents it (tests/unit/test_snippet_lint.py). The file's header gives the format; in short, a
line is ``name  type  sources  [UNSURE]`` (columns separated by two or more spaces) in one of the
sections ``[member]`` (``Interface.Member`` or ``Interface.Method()``), ``[registry]``
(``Setup\\Value``) or ``[enum]`` (``Enumeration::Value``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DOCUMENTED_FILE = Path(__file__).resolve().parent / "data" / "wsus_api_documented.txt"

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
# The form of a name in each section; the last group is the name a snippet writes after `.` or `::`.
_NAME_FORMS = {
    "member": re.compile(rf"{_IDENTIFIER}\.({_IDENTIFIER})(?:\(\))?"),
    "registry": re.compile(r"Setup(?:\\[A-Za-z][A-Za-z0-9 ]*)*\\([A-Za-z][A-Za-z0-9_-]*)"),
    "enum": re.compile(rf"{_IDENTIFIER}::({_IDENTIFIER})"),
}


@dataclass(frozen=True)
class Documented:
    section: str
    name: str  # as written: IUpdateServer.GetStatus(), Setup\ContentDir, SynchronizationStatus::Running
    member: str  # what a snippet writes after `.` or `::`: GetStatus, ContentDir, Running
    type: str
    sources: str
    unsure: bool


def parse_documented(text: str, source: str = "documented") -> list[Documented]:
    """Every line of the documented-list format; a malformed line raises ValueError naming it."""
    entries: list[Documented] = []
    seen: set[str] = set()
    section: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{source}:{number}"
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            if section not in _NAME_FORMS:
                raise ValueError(f"{where}: unknown section [{section}]")
            continue
        if section is None:
            raise ValueError(f"{where}: {line!r} before any [section]")
        columns = re.split(r"\s{2,}", line)
        unsure = len(columns) == 4 and columns[3] == "UNSURE"
        if len(columns) != 3 and not unsure:
            raise ValueError(f"{where}: expected `name  type  sources  [UNSURE]`, got {line!r}")
        name, type_, sources = columns[:3]
        form = _NAME_FORMS[section].fullmatch(name)
        if form is None:
            raise ValueError(f"{where}: {name!r} is not a [{section}] name")
        if name in seen:
            raise ValueError(f"{where}: {name} is listed twice")
        seen.add(name)
        entries.append(Documented(section, name, form.group(1), type_, sources, unsure))
    return entries


@lru_cache(maxsize=1)
def documented() -> tuple[Documented, ...]:
    return tuple(parse_documented(DOCUMENTED_FILE.read_text(encoding="utf-8"), str(DOCUMENTED_FILE)))
