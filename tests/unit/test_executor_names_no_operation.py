"""The executor names no operation: what an operation needs of the play or the fleet is its own hooks
(``wsusauto.operations.base.Operation``), so the next operation cannot creep back into the executor.

Read from the code of every module under wsusauto/execution/: a string literal that is an
operation's name (``task.operation == "stagger"``), an operation's class, an import of one
operation's module (or of the stagger planner) or of a private name of the operations (the
check-mode simulation reads ``_FACT_FIELDS`` next to the operations now). Prose is not read: a
command (``wsusauto diagnose``) or a task status shares its word with an operation.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from wsusauto.operations import OPERATIONS

EXECUTION = Path(__file__).resolve().parents[2] / "wsusauto" / "execution"
NAMES = set(OPERATIONS)
CLASSES = {type(operation).__name__ for operation in OPERATIONS.values()}
# The modules that hold one operation or more (the registry, base, group and context hold none), and
# the stagger planner, which is the stagger operation's fleet logic.
OPERATION_MODULES = {type(operation).__module__ for operation in OPERATIONS.values()}


def _mirrors_an_attribute(key: ast.expr | None, value: ast.expr) -> bool:
    # {"status": result.status}: the key names the attribute it holds (a result's field), not an operation.
    return isinstance(key, ast.Constant) and isinstance(value, ast.Attribute) and value.attr == key.value


def offences(source: str) -> list[str]:
    """Where ``source`` names an operation, one line each."""
    found = []
    tree = ast.parse(source)
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            exempt |= {
                id(key)
                for key, value in zip(node.keys, node.values, strict=True)
                if _mirrors_an_attribute(key, value)
            }
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in exempt:
            if node.value in NAMES:
                found.append(f"line {line}: the string {node.value!r}")
        elif isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in CLASSES:
                found.append(f"line {line}: the operation class {name}")
        elif isinstance(node, ast.ImportFrom | ast.Import):
            modules = (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            )
            if isinstance(node, ast.ImportFrom) and node.module == "wsusauto.operations":
                modules += [f"wsusauto.operations.{a.name}" for a in node.names]
            for alias in node.names:
                if alias.name in CLASSES:
                    found.append(f"line {line}: imports the operation class {alias.name}")
                private = alias.name.startswith("_") and (node.module or "").startswith("wsusauto.operations")
                if isinstance(node, ast.ImportFrom) and private:
                    found.append(f"line {line}: imports the operations' private {alias.name}")
            for module in modules:
                if module in OPERATION_MODULES or module.startswith("wsusauto.stagger"):
                    found.append(f"line {line}: imports {module}")
    return sorted(set(found))


@pytest.mark.parametrize("module", sorted(EXECUTION.glob("*.py")), ids=lambda p: p.name)
def test_no_execution_module_names_an_operation(module):
    assert offences(module.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        'if task.operation == "stagger":\n    pass\n',
        '_HIERARCHY_OPERATIONS = {"update_source", "replica"}\n',
        'raw = {"proxy": 1}\n',
        "from wsusauto.operations.stagger import SLOT\n",
        "from wsusauto.operations import synchronize\n",
        "from wsusauto.stagger.planner import plan\n",
        "from wsusauto.operations import Synchronize\n",
        "from wsusauto.operations.base import _FACT_FIELDS\n",
        "x = operations.Stagger()\n",
    ],
)
def test_the_guard_sees_an_operation_named(source):
    assert offences(source), source


def test_the_guard_lets_a_result_field_and_the_interface_pass():
    source = (
        "from wsusauto.operations import get_operation, OPERATIONS\n"
        "from wsusauto.operations.base import Operation\n"
        "from wsusauto.operations.group import TaskGroup\n"
        'document = {"status": result.status}\n'
        'summary = "the replica waits for its upstream; diagnose names the cause"\n'
    )
    assert offences(source) == []
