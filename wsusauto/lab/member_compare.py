"""How a writing snippet decides that a member differs, read from its own text.

The snippets assign a member only when ``$config.Member -ne $Member`` (or ``-cne``) says it differs.
PowerShell's ``-ne`` compares strings without regard to case, so on a real server a change of case
only (``wsus-root`` to ``WSUS-ROOT``) is skipped: nothing is saved, and the value read back is the
old one. The lab compares as the snippet's operator does, so it is not kinder than PowerShell.
"""

from __future__ import annotations

import re
from typing import Any

_COMMENTS = re.compile(r"<#.*?#>|#[^\n]*", re.DOTALL)


def snippet_differs(script: str, member: str, current: Any, wanted: Any) -> bool:
    """Whether the script's test ``$x.<member> <op> $<param>`` finds ``current`` and ``wanted``
    different. Strings under ``-ne``/``-ine`` compare case-insensitively, under ``-cne`` exactly;
    other values (and a member the script tests some other way) compare exactly."""
    if not (isinstance(current, str) and isinstance(wanted, str)):
        return bool(current != wanted)
    code = _COMMENTS.sub(" ", script)
    test = re.search(rf"\$\w+\.{re.escape(member)}\s+(-[ci]?ne)\s+\$", code, re.IGNORECASE)
    if test is not None and test.group(1).lower() in ("-ne", "-ine"):
        return current.lower() != wanted.lower()
    return current != wanted
