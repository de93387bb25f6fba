"""The lab never imports product logic to decide what a server does (DESIGN.md, "The lab").

A bug shared by the product and the lab would hide itself in every lab test. The lab may use the
product's neutral plumbing only: its error type, the registry of shipped snippet texts (the lab
answers exactly those) and the YAML file reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

LAB = Path(__file__).resolve().parents[2] / "wsusauto" / "lab"
PLUMBING = {"wsusauto.errors", "wsusauto.client.snippets", "wsusauto.config.yamlfile"}


def product_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name == "wsusauto" or (name.startswith("wsusauto.") and not name.startswith("wsusauto.lab")):
                found.add(name)
    return found


def test_the_lab_imports_only_the_products_plumbing():
    offenders = {}
    for path in sorted(LAB.rglob("*.py")):
        modules = {
            name
            for name in product_imports(path)
            if not any(name == allowed or name.startswith(allowed + ".") for allowed in PLUMBING)
        }
        if modules:
            offenders[str(path.relative_to(LAB))] = sorted(modules)
    assert offenders == {}
