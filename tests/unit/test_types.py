"""The package type-checks under pyproject's ``[tool.mypy]`` (strict), so `make test` guards the
README's "typed" as it guards ruff's rules (test_code_style.py)."""

from __future__ import annotations

import importlib.util
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
