"""The package type-checks under pyproject's ``[tool.mypy]`` (strict), so `make test` guards the
README's "typed" as it guards ruff's rules (test_code_style.py)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy is not installed (it comes with the test extras)"
)
def test_mypy():
    # No arguments: pyproject's [tool.mypy] names the files and the options, as `make lint` runs it.
    # Its cache (.mypy_cache in the repository) keeps a second run to a second or two.
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


IGNORE = re.compile(r"#\s*type:\s*ignore(\[[\w\-, ]+\])?(.*)$")


def test_every_type_ignore_names_its_error_and_says_why():
    # `# type: ignore[code]  # why`, or the why in a comment line right above the line (or above a
    # run of lines ignored for one reason)
    bare = []
    for path in sorted((ROOT / "wsusauto").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            found = IGNORE.search(line)
            if found is None:
                continue
            said_after = found[2].strip().startswith("#")
            above = number - 2  # the comment may stand above a run of such lines, for all of them
            while above >= 0 and IGNORE.search(lines[above]) and not lines[above].strip().startswith("#"):
                above -= 1
            said_above = above >= 0 and lines[above].strip().startswith("#")
            if found[1] is None or not (said_after or said_above):
                bare.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert bare == []
