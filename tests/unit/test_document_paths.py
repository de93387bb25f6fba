"""Every repository path (``wsusauto/execution/runner.py``, ``playbooks/sync.yml``, ...) and every
dotted name under ``wsusauto`` (``wsusauto.stagger.planner``, ``wsusauto.output.html.gather_fleet_report``)
written in the README, bench/README.md, the docstrings and comments, the Makefile and CI still
exists: the packages moved once (4365ea2) and a stale name sends a reader nowhere."""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A path inside the repository, not part of a longer one (/etc/wsusauto/inventory.yml is a user's file).
REPOSITORY_PATH = re.compile(
    r"(?<![\w./-])((?:wsusauto|tests|bench|playbooks|ps_snippets|docker|collection|\.ci)/[\w./-]*"
    r"\.(?:py|ps1|yml|yaml|md|sh|txt|toml|json))\b"
)
# A module path inside the package, as the README's architecture drawing writes it (execution/runner.py).
PACKAGE_PATH = re.compile(
    r"(?<![\w./-])((?:checks|client|config|execution|lab|operations|output|stagger|state)/[\w/]*\.py)\b"
)
# wsusauto.<module>[.<name>...], not a file name such as wsusauto.service (systemd) or wsusauto.lock,
# nor the Ansible collection wsusauto.wsus and its plugins (wsusauto.wsus.wsus_facts: collection/).
DOTTED_NAME = re.compile(
    r"(?<![\w./-])(wsusauto(?!\.wsus\b)(?:\.[A-Za-z_]\w*)+)(?![\w/-])(?<!\.service)(?<!\.timer)(?<!\.lock)"
)


def _documents() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    wanted = [
        name
        for name in listed
        if name.endswith((".py", ".md", ".txt", ".toml", ".yml")) or name in ("Makefile", ".ci/run")
    ]
    assert {"README.md", "bench/README.md", "Makefile", "wsusauto/cli.py"} <= set(wanted), wanted[:5]
    return [ROOT / name for name in wanted if (ROOT / name).is_file() and name != _THIS]


_THIS = "tests/unit/test_document_paths.py"


def _resolves(dotted: str) -> bool:
    """The longest importable module prefix, then attributes for the rest."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def _references() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    paths, names = [], []
    for document in _documents():
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{document.relative_to(ROOT)}:{number}"
            paths += [(where, m[1]) for m in REPOSITORY_PATH.finditer(line)]
            paths += [(where, f"wsusauto/{m[1]}") for m in PACKAGE_PATH.finditer(line)]
            names += [(where, m[1]) for m in DOTTED_NAME.finditer(line)]
    return paths, names


def test_every_path_and_module_named_in_the_documents_exists():
    paths, names = _references()
    # the scan reads what it is for (the README names modules both ways)
    assert {"wsusauto/lab/faults.py", "wsusauto/execution/scheduler.py"} <= {p for _, p in paths}
    assert len(paths) > 50
    assert "wsusauto.stagger.planner" in {n for _, n in names} and len(names) > 20
    missing = [f"{where}: {path}" for where, path in paths if not (ROOT / path).exists()]
    unresolved = [f"{where}: {name}" for where, name in names if not _resolves(name)]
    assert missing + unresolved == []


def test_the_patterns_find_what_they_are_for():
    assert REPOSITORY_PATH.findall("see `wsusauto/execution/runner.py` and tests/lab_fixtures.py.") == [
        "wsusauto/execution/runner.py",
        "tests/lab_fixtures.py",
    ]
    assert REPOSITORY_PATH.findall("run /etc/wsusauto/designate-replicas.yml -i ~/wsusauto/x.yml") == []
    assert PACKAGE_PATH.findall("├─ execution/prepare.py and wsusauto/execution/runner.py") == [
        "execution/prepare.py"
    ]
    assert DOTTED_NAME.findall("(``wsusauto.output.html.gather_fleet_report``), wsusauto.policy.") == [
        "wsusauto.output.html.gather_fleet_report",
        "wsusauto.policy",
    ]
    assert DOTTED_NAME.findall("systemctl enable wsusauto.timer; flock /run/lock/wsusauto.lock") == []
    assert not _resolves("wsusauto.policy") and not _resolves("wsusauto.stagger.planner.Plan")
    assert _resolves("wsusauto.sync_retry") and _resolves("wsusauto.stagger.planner.StaggerPlan")


# The collection's own names: a plugin, an example playbook or a doc fragment of collection/.
COLLECTION_NAME = re.compile(r"(?<![\w.])(?<!ansible_collections\.)wsusauto\.wsus\.([a-z_]\w*)\b")
COLLECTION_PLACEHOLDERS = {"wsus_x"}  # bench/ansible_side_by_side.py: "operation x is wsusauto.wsus.wsus_x"
# A Markdown link to a file beside the document ([docs/awx.md](docs/awx.md)), not a URL nor an anchor.
RELATIVE_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|#)([^)\s#]+)(?:#[^)\s]*)?\)")


def _collection_has(name: str) -> bool:
    collection = ROOT / "collection"
    return (
        (collection / "plugins" / "action" / f"{name}.py").is_file()
        or (collection / "playbooks" / f"{name}.yml").is_file()
        or (collection / "plugins" / "doc_fragments" / f"{name}.py").is_file()
    )


def test_every_collection_name_and_relative_link_in_the_documents_exists():
    names, links = [], []
    for document in _documents():
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{document.relative_to(ROOT)}:{number}"
            names += [(where, m[1]) for m in COLLECTION_NAME.finditer(line)]
            if document.suffix == ".md":
                links += [(where, document.parent / m[1]) for m in RELATIVE_LINK.finditer(line)]
    # the scan reads what it is for: the collection's README links its docs, awx.md its playbooks
    assert {"wsus_facts", "awx_keytab", "connection"} <= {n for _, n in names}
    assert ROOT / "collection" / "docs" / "inventory.yml" in {p for _, p in links}
    unknown = [
        f"{where}: wsusauto.wsus.{n}"
        for where, n in names
        if n not in COLLECTION_PLACEHOLDERS and not _collection_has(n)
    ]
    broken = [f"{where}: {path.relative_to(ROOT)}" for where, path in links if not path.exists()]
    assert unknown + broken == []


def test_the_collection_patterns_find_what_they_are_for():
    line = (
        "`wsusauto.wsus.wsus_facts`, from ansible_collections.wsusauto.wsus.plugins.x, wsusauto.wsus.<name>"
    )
    assert COLLECTION_NAME.findall(line) == ["wsus_facts"]
    assert RELATIVE_LINK.findall("[a](docs/awx.md) [b](https://x.example/y) [c](#top) [d](x.yml#l2)") == [
        "docs/awx.md",
        "x.yml",
    ]
    assert _collection_has("wsus_facts") and _collection_has("sync_tree") and not _collection_has("wsus_x")
