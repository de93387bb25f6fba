"""Reading the user's YAML files (inventories, playbooks, topologies) with errors that name the place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from wsusauto.errors import UsageError


def read_file(path: str | Path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None


# libyaml's safe loader where PyYAML was built with it: the same plain data, parsed about ten times
# faster (an inventory of 200 hosts: 7 ms instead of 65 ms, paid again in every worker process).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load`` (plain data only), with a syntax error as one line: file, line, column, problem."""
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)  # a safe loader, C or Python
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise UsageError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None


def load_yaml(path: str | Path, what: str) -> Any:
    return parse_yaml(read_file(path, what), str(path))
