"""Microsoft's documents are cited by title ("Running WSUS 3.0 SP2 in Replica Mode", "Issues with
Synchronization", "Synchronization issues"), never as "seeds" or by a file number, and nothing in
the repository names a path outside it. (The lab's fault evidence is "seeded": that verb stays.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# "seed 001", "seeds 000/001", "the seed's", "the seeds'", "SEED_ISSUES", "shared/seeds"
SEED_CITATION = re.compile(r"(?i:\bseeds? 0\d\d\b|\bthe seeds?'?s?\b|shared/seeds)|\bSEED_[A-Z]")
OUTSIDE_PATH = re.compile(r"\.\./shared\b|/work/shared\b|parent / \"shared\"")


def _text_files() -> list[Path]:
    listed = subprocess.run(
        [
            "git",
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "*.py",
            "*.md",
            "*.txt",
            "*.yml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    # the scan covers the repository, not an empty or mangled listing
    assert {"README.md", "tests/lab_fixtures.py", "wsusauto/cli.py"} <= set(listed), listed[:5]
    # ps_snippets/ is checked by its owners; this file spells the patterns out.
    return [
        ROOT / name
        for name in listed
        if not name.startswith("ps_snippets/") and name != "tests/unit/test_document_citations.py"
    ]


def _hits(pattern: re.Pattern[str]) -> list[str]:
    hits = []
    for path in _text_files():
        if not path.is_file():  # deleted in the work tree, not yet in the index
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return hits


def test_documents_are_cited_by_title_not_as_seeds():
    assert _hits(SEED_CITATION) == []


def test_nothing_names_a_path_outside_the_repository():
    assert _hits(OUTSIDE_PATH) == []


def test_the_patterns_find_what_they_are_for():
    assert SEED_CITATION.search("retried twice (seeds 000/001)")
    assert SEED_CITATION.search("what the seed asks for") and SEED_CITATION.search("the seeds' last step")
    assert SEED_CITATION.search("from wsusauto.checks.base import SEED_ISSUES")
    assert not SEED_CITATION.search("each fault seeds its evidence; SEEDERS; seed_new_faults(servers)")
    assert OUTSIDE_PATH.search('REPO.parent / "shared" / "reference" / "wsus-api.md"')
    assert OUTSIDE_PATH.search("../shared/reference/wsus-api.md")
