"""A linter for the shipped PowerShell snippets (used by the tests; every snippet goes through it).

A snippet must: parse in a PowerShell grammar (tree-sitter-powershell); use nothing newer than
Windows PowerShell 2.0; reach only members listed in ``tests/data/wsus_api_members.txt`` (UNSURE
ones only after a ``Get-Member`` probe); never build code from data (no Invoke-Expression,
``[scriptblock]::Create``, ``Add-Type``); declare a ``param()`` block and use every parameter; and
end by writing one hashtable literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import tree_sitter
import tree_sitter_powershell

MEMBERS_FILE = Path(__file__).resolve().parent / "data" / "wsus_api_members.txt"


@dataclass(frozen=True)
class Violation:
    snippet: str
    line: int
    rule: str
    text: str

    def __str__(self) -> str:
        return f"{self.snippet}:{self.line}: [{self.rule}] {self.text}"


@dataclass(frozen=True)
class Allowlist:
    wsus: frozenset[str]
    dotnet: frozenset[str]
    unsure: frozenset[str]

    @property
    def allowed(self) -> frozenset[str]:
        return self.wsus | self.dotnet


@lru_cache(maxsize=1)
def allowlist() -> Allowlist:
    sections: dict[str, set[str]] = {"wsus": set(), "dotnet": set(), "unsure": set()}
    current = None
    for raw in MEMBERS_FILE.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        if current is None:
            raise ValueError(f"{MEMBERS_FILE}: member {line!r} before any [section]")
        sections[current].add(line)
    return Allowlist(*(frozenset(sections[k]) for k in ("wsus", "dotnet", "unsure")))


@lru_cache(maxsize=1)
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


# PowerShell 3+ only syntax and commands, with what to use instead on 2.0.
_PS3_PATTERNS: list[tuple[str, str]] = [
    (r"\[\s*pscustomobject\s*\]", "[pscustomobject] is PowerShell 3+; return a hashtable"),
    (r"\[\s*ordered\s*\]", "[ordered] is PowerShell 3+"),
    (r"\bConvert(To|From)-Json\b", "JSON cmdlets are PowerShell 3+; return a hashtable"),
    (r"::new\s*\(", "::new( is PowerShell 5+; use New-Object"),
    (r"\s-(not)?in\b", "-in/-notin are PowerShell 3+; use -contains/-notcontains"),
    (r"\b(Get|New|Set|Remove|Invoke)-Cim\w+", "CIM cmdlets are PowerShell 3+; use Get-WmiObject"),
    (r"\$PSItem\b", "$PSItem is PowerShell 3+; use $_"),
    (r"\$using:", "$using: is PowerShell 3+"),
    (r"\bInvoke-(RestMethod|WebRequest)\b", "web cmdlets are PowerShell 3+"),
    (
        r"\bTest-NetConnection\b",
        "Test-NetConnection is not in PowerShell 2.0; use System.Net.Sockets.TcpClient",
    ),
    (r"\bResolve-DnsName\b", "Resolve-DnsName is not in PowerShell 2.0; use [System.Net.Dns]"),
    (r"-ErrorAction\s+'?Ignore'?", "-ErrorAction Ignore is PowerShell 3+; use SilentlyContinue"),
    (r"(?m)^\s*(class|enum)\s+\w+", "class/enum definitions are PowerShell 5+"),
    (r"\?\.|\?\?", "?. and ?? are PowerShell 7"),
    (
        r"\b(Where-Object|where|\?)\s+\w+\s+-\w+",
        "the simplified Where-Object syntax is PowerShell 3+; use { }",
    ),
    (r"\.(ForEach|Where)\s*\(", ".ForEach()/.Where() are PowerShell 4+"),
    (r"#requires\s+-version\s+[3-9]", "the snippets run on PowerShell 2.0"),
]
_CODE_FROM_DATA = re.compile(r"\b(Invoke-Expression|iex|Add-Type)\b|\[scriptblock\]::Create", re.IGNORECASE)


def _strip_comments_and_strings(text: str) -> str:
    """Blank out comments and string contents so regex rules only see code (positions kept)."""

    def blank(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    text = re.sub(r"<#.*?#>", blank, text, flags=re.DOTALL)
    text = re.sub(r"'(?:[^']|'')*'", lambda m: "'" + blank(m)[1:-1] + "'", text)
    text = re.sub(r'"(?:[^"`]|`.)*"', lambda m: '"' + blank(m)[1:-1] + '"', text)
    return re.sub(r"#[^\n]*", blank, text)


def _walk(node: tree_sitter.Node):
    yield node
    for child in node.children:
        yield from _walk(child)


def lint(name: str, text: str) -> list[Violation]:
    violations: list[Violation] = []
    source = text.encode("utf-8")
    tree = _parser().parse(source)

    def line_of(node: tree_sitter.Node) -> int:
        return node.start_point[0] + 1

    def node_text(node: tree_sitter.Node) -> str:
        return source[node.start_byte : node.end_byte].decode("utf-8")

    for node in _walk(tree.root_node):
        if node.type == "ERROR" or node.is_missing:
            if any(d is not node and (d.type == "ERROR" or d.is_missing) for d in _walk(node)):
                continue  # report the innermost error: its line points at the mistake
            violations.append(
                Violation(
                    name,
                    line_of(node),
                    "parse",
                    f"does not parse near {node_text(node)[:40]!r} (column {node.start_point[1] + 1})",
                )
            )

    code = _strip_comments_and_strings(text)
    for pattern, message in _PS3_PATTERNS:
        for match in re.finditer(pattern, code, re.IGNORECASE):
            violations.append(
                Violation(name, code.count("\n", 0, match.start()) + 1, "powershell-2", message)
            )
    for match in _CODE_FROM_DATA.finditer(code):
        violations.append(
            Violation(
                name,
                code.count("\n", 0, match.start()) + 1,
                "code-from-data",
                f"{match.group(0)} builds code at run time; take values as parameters",
            )
        )

    members = allowlist()
    probed = set(re.findall(r"Get-Member\b[^\n|;]*?-Name\s+'?([A-Za-z_]\w*)", code + text, re.IGNORECASE))
    for node in _walk(tree.root_node):
        if node.type != "member_name" or node.parent is None:
            continue
        if node.parent.type not in ("member_access", "invokation_expression"):
            continue
        member = node_text(node)
        if member in members.allowed:
            continue
        if member in members.unsure:
            if member not in probed:
                violations.append(
                    Violation(
                        name,
                        line_of(node),
                        "unsure-member",
                        f"{member} is not in every WSUS version; probe it first with "
                        f"Get-Member -Name {member}",
                    )
                )
            continue
        violations.append(
            Violation(
                name,
                line_of(node),
                "unknown-member",
                f"{member} is not a documented WSUS API member (tests/data/wsus_api_members.txt)",
            )
        )

    param_blocks = [n for n in _walk(tree.root_node) if n.type == "param_block"]
    if not param_blocks:
        violations.append(Violation(name, 1, "param-block", "a snippet starts with a param() block"))
    else:
        declared = [node_text(v)[1:] for v in _walk(param_blocks[0]) if v.type == "variable"]
        body = code[len(source[: param_blocks[0].end_byte].decode("utf-8")) :]
        for parameter in declared:
            if not re.search(r"\$" + re.escape(parameter) + r"\b", body, re.IGNORECASE):
                violations.append(
                    Violation(
                        name,
                        line_of(param_blocks[0]),
                        "unused-parameter",
                        f"parameter ${parameter} is declared but never used",
                    )
                )

    lists = [n for n in tree.root_node.children if n.type == "statement_list"]
    last = lists[-1].named_children[-1] if lists and lists[-1].named_children else None
    if last is None or not _is_hash_literal(last):
        violations.append(
            Violation(
                name,
                line_of(last) if last else 1,
                "output",
                "the last statement must output one hashtable literal @{ ... }",
            )
        )
    return violations


def _is_hash_literal(statement: tree_sitter.Node) -> bool:
    """True when the statement is exactly a hashtable literal (not assigned, not piped, not wrapped)."""
    for node in _walk(statement):
        if node.type == "hash_literal_expression":
            return node.start_byte == statement.start_byte and node.end_byte == statement.end_byte
    return False


def members_in_reference(markdown: str) -> set[str]:
    """Identifiers that appear inside backticks in wsus-api.md."""
    names: set[str] = set()
    fenced = re.findall(r"```.*?```", markdown, flags=re.DOTALL)
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)
    for span in fenced + re.findall(r"`([^`\n]+)`", markdown):
        names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span))
    return names
