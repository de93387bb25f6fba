"""The little of Jinja that playbooks may use, evaluated without evaluating anything else.

- ``"{{ var }}"`` and ``"{{ var | default(<YAML literal>) }}"`` in task arguments: a whole-string
  reference keeps the variable's type (a port stays an int); inside longer text it is substituted
  as text. Values are data: a value that itself contains ``{{ }}`` is not expanded again.
- ``when:`` conditions: ``var is defined``, ``var is not defined``, ``var``, ``not var``, and a
  list of them (all must hold).

Anything else is a clear error naming the task, not a silent literal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from wsusauto.errors import UsageError

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_EXPR = re.compile(r"\{\{\s*(?P<name>" + _NAME + r")\s*(?:\|\s*default\((?P<default>[^()]*)\)\s*)?\}\}")
_ANY = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_WHEN = re.compile(r"^(?:(?P<not>not)\s+)?(?P<name>" + _NAME + r")(?:\s+is\s+(?P<neg>not\s+)?defined)?$")
_MISSING = object()


def _lookup(match: re.Match[str], variables: Mapping[str, Any], where: str) -> Any:
    name = match["name"]
    if name in variables:
        return variables[name]
    if match["default"] is not None:
        try:
            return yaml.safe_load(match["default"]) if match["default"].strip() else ""
        except yaml.YAMLError:
            raise UsageError(f"{where}: default({match['default']}) is not a literal value") from None
    raise UsageError(
        f"{where}: variable {name!r} is not defined for this host (give it in the inventory, "
        "with -e, or use | default(...))"
    )


def render(value: Any, variables: Mapping[str, Any], where: str) -> Any:
    """Resolve references in strings, recursively through lists and mappings."""
    if isinstance(value, str):
        whole = _EXPR.fullmatch(value.strip())
        if whole:
            return _lookup(whole, variables, where)
        for expression in _ANY.findall(value):
            if not _EXPR.fullmatch(expression):
                raise UsageError(
                    f"{where}: {expression!r} is not supported; playbooks may only use "
                    "{{ var }} and {{ var | default(value) }}"
                )
        return _EXPR.sub(lambda m: str(_lookup(m, variables, where)), value)
    if isinstance(value, Mapping):
        return {k: render(v, variables, where) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables, where) for v in value]
    return value


def condition_holds(condition: Any, variables: Mapping[str, Any], where: str) -> bool:
    if condition is None:
        return True
    conditions = condition if isinstance(condition, list) else [condition]
    for item in conditions:
        if isinstance(item, bool):
            holds = item
        else:
            match = _WHEN.match(str(item).strip())
            if match is None:
                raise UsageError(
                    f"{where}: when: {item!r} is not supported; use 'var is defined', "
                    "'var is not defined', 'var' or 'not var'"
                )
            value = variables.get(match["name"], _MISSING)
            if " is " in str(item):
                holds = (value is not _MISSING) != bool(match["neg"])
            else:
                holds = value is not _MISSING and _truthy(value)
            if match["not"]:
                holds = not holds
        if not holds:
            return False
    return True


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "off", "0")
    return bool(value)
