"""The checker every PowerShell snippet in ``ps_snippets/`` goes through (tests/unit/test_snippet_lint.py).

A snippet runs on Windows PowerShell 2.0 to 5.1 on a WSUS server. The checks work on the
tree-sitter-powershell parse tree, so text inside strings and comments is never taken for code:

* ``parse``            every ERROR or MISSING node of the parse tree, with line and column;
* ``powershell-2``     syntax, types, operators, cmdlets and cmdlet parameters that need PowerShell 3
  or newer (or Windows Server 2012's modules: the UpdateServices ``*-Wsus*`` cmdlets), and .NET 4
  members (PowerShell 2.0 runs on .NET 2.0/3.5);
* ``unknown-member``   ``.Member`` / ``::Member`` not listed in ``tests/data/wsus_api_members.txt``;
* ``dynamic-member``   ``$obj.$name`` / ``$obj.'name'``: a member name the checker cannot verify;
* ``unsure-member``    a member wsus-api.md marks UNSURE, used without a ``Get-Member -Name X`` probe
  earlier in the same snippet;
* ``forbidden-write``  assigning ``ServerId`` (rewrites the server identity; wsus-api.md P7);
* ``member-enumeration`` ``$collection.Property`` (other than Count/Length) on a value the snippet
  knows is a collection: PowerShell 3+ unrolls it to the elements' values, 2.0 gives $null. Known
  collections: array-typed parameters, ``@(...)``, comma lists, ``[type[]]`` casts, the WSUS and .NET
  members that return collections (``GetUpdates()``, ``UpdateErrors``, ``GetAccessRules()``, ...), and
  variables assigned from any of these;
* ``foreach-null``     ``foreach ($x in $ArrayParameter)``: PowerShell 2.0 runs the body once, with $null,
  when the parameter is $null (an omitted array parameter is);
* ``revision-id``      an UpdateRevisionId (IUpdate.Id, IUpdateEvent.UpdateId,
  SynchronizationUpdateErrorInfo.UpdateId) cast to [string]/[Guid], compared, interpolated or put in
  the output as it is: it is an object; its Guid is ``.UpdateId``;
* ``display-text``     a message, display name, account name, update title or computer group name
  compared with a literal: that text is in the server's language; decide by SID, id or enum;
* ``null-comparison``  ``$collection -eq $null`` / ``-ne $null`` on such a collection: with a collection
  on the left PowerShell filters its elements instead of testing for $null; write ``$null -ne $x``;
* ``code-from-data``   Invoke-Expression/iex, ``[scriptblock]::Create``, Add-Type, or ``&``/``.`` applied
  to a parameter or an expandable string: values must stay data;
* ``param-block``      the snippet starts with a ``param()`` block;
* ``registry-params``  wsusauto.client.snippets.parse_parameters must see the same parameters as the parser
  (it needs ``[type]$Name`` and the closing parenthesis at the start of a line);
* ``unused-parameter`` every parameter is read somewhere after the param block;
* ``output``           the last top-level statement is a hashtable literal ``@{ ... }``
  (or ``return @{ ... }``).

Use :func:`lint` for one snippet's text; :func:`parse_errors` for the parse check alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import tree_sitter
import tree_sitter_powershell

from wsusauto.client.snippets import parse_parameters

MEMBERS_FILE = Path(__file__).resolve().parent / "data" / "wsus_api_members.txt"
SECTIONS = ("wsus", "dotnet", "unsure")


@dataclass(frozen=True, order=True)
class Violation:
    snippet: str
    line: int
    column: int
    rule: str
    text: str

    def __str__(self) -> str:
        return f"{self.snippet}:{self.line}:{self.column}: [{self.rule}] {self.text}"


@dataclass(frozen=True)
class Allowlist:
    wsus: frozenset[str]
    dotnet: frozenset[str]
    unsure: frozenset[str]

    @property
    def allowed(self) -> frozenset[str]:
        return self.wsus | self.dotnet


def parse_allowlist(text: str, source: str = "allowlist") -> Allowlist:
    """Read the ``[wsus]``/``[dotnet]``/``[unsure]`` member file format (one name a line, ``#`` comments)."""
    sections: dict[str, set[str]] = {name: set() for name in SECTIONS}
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            if current not in sections:
                raise ValueError(f"{source}:{number}: unknown section [{current}]")
            continue
        if current is None:
            raise ValueError(f"{source}:{number}: member {line!r} before any [section]")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", line):
            raise ValueError(f"{source}:{number}: {line!r} is not a member name")
        sections[current].add(line)
    return Allowlist(*(frozenset(sections[name]) for name in SECTIONS))


@lru_cache(maxsize=1)
def allowlist() -> Allowlist:
    return parse_allowlist(MEMBERS_FILE.read_text(encoding="utf-8"), str(MEMBERS_FILE))


@lru_cache(maxsize=1)
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def parse(text: str) -> tree_sitter.Tree:
    return _parser().parse(text.encode("utf-8"))


def _walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _inside(node: tree_sitter.Node, *types: str) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.type in types:
            return True
        parent = parent.parent
    return False


# --- PowerShell 3+ -----------------------------------------------------------------------------------

_PS3_TYPES = {
    "pscustomobject": "[pscustomobject] is PowerShell 3+; build a hashtable @{ }",
    "ordered": "[ordered] is PowerShell 3+; use a plain hashtable",
}
_PS3_COMMANDS = {
    "convertto-json": "ConvertTo-Json is PowerShell 3+; return a hashtable (the caller serializes)",
    "convertfrom-json": "ConvertFrom-Json is PowerShell 3+",
    "invoke-restmethod": "Invoke-RestMethod is PowerShell 3+; use System.Net.WebClient",
    "irm": "irm (Invoke-RestMethod) is PowerShell 3+",
    "invoke-webrequest": "Invoke-WebRequest is PowerShell 3+; use System.Net.WebClient",
    "iwr": "iwr (Invoke-WebRequest) is PowerShell 3+",
    "test-netconnection": "Test-NetConnection is not in PowerShell 2.0; use System.Net.Sockets.TcpClient",
    "tnc": "tnc (Test-NetConnection) is not in PowerShell 2.0",
    "resolve-dnsname": "Resolve-DnsName is not in PowerShell 2.0; use [System.Net.Dns]",
    "get-itempropertyvalue": "Get-ItemPropertyValue is PowerShell 5+; use (Get-ItemProperty -Path P).Name",
    "new-guid": "New-Guid is PowerShell 5+; use [Guid]::NewGuid()",
    "get-filehash": "Get-FileHash is PowerShell 4+",
    "new-temporaryfile": "New-TemporaryFile is PowerShell 5+; use [System.IO.Path]::GetTempFileName()",
    "expand-archive": "Expand-Archive is PowerShell 5+",
    "compress-archive": "Compress-Archive is PowerShell 5+",
    "write-information": "Write-Information is PowerShell 5+",
    "convertfrom-string": "ConvertFrom-String is PowerShell 5+",
    "import-powershelldatafile": "Import-PowerShellDataFile is PowerShell 5+",
    "unblock-file": "Unblock-File is PowerShell 3+",
    "get-computerinfo": "Get-ComputerInfo is PowerShell 5.1+; use Get-WmiObject",
    "get-timezone": "Get-TimeZone is PowerShell 5.1+; use [TimeZoneInfo]::Local",
    "get-localuser": "Get-LocalUser is PowerShell 5.1+",
    "get-localgroupmember": "Get-LocalGroupMember is PowerShell 5.1+",
    "get-scheduledtask": "Get-ScheduledTask needs Windows Server 2012+ (ScheduledTasks module)",
    "get-netadapter": "Get-NetAdapter needs Windows Server 2012+ (NetAdapter module); use Get-WmiObject",
    "get-netipaddress": "Get-NetIPAddress needs Windows Server 2012+ (NetTCPIP module)",
    "get-nettcpconnection": "Get-NetTCPConnection needs Windows Server 2012+ (NetTCPIP module)",
    "get-smbshare": "Get-SmbShare needs Windows Server 2012+ (SmbShare module)",
    "get-volume": "Get-Volume needs Windows Server 2012+ (Storage module); use Get-WmiObject",
    "get-disk": "Get-Disk needs Windows Server 2012+ (Storage module); use Get-WmiObject",
    "get-windowsfeature": "Get-WindowsFeature needs Import-Module ServerManager on 2.0 (no module "
    "autoloading) and does not exist on client Windows",
}
# The UpdateServices module (Get-WsusServer, Invoke-WsusServerCleanup, ...) ships with the WSUS role of
# Windows Server 2012 and later; WSUS 3.0 SP2 (Windows Server 2008 R2, PowerShell 2.0) has none.
_WSUS_MODULE_COMMAND = re.compile(r"^\w+-Wsus\w*$", re.IGNORECASE)
# Parameters newer than PowerShell 2.0 on cmdlets that exist there: command -> parameter prefix -> why.
_PS3_PARAMETERS = {
    "get-content": {"-raw": "Get-Content -Raw is PowerShell 3+; use [System.IO.File]::ReadAllText"},
    "gc": {"-raw": "Get-Content -Raw is PowerShell 3+; use [System.IO.File]::ReadAllText"},
    "get-childitem": {
        "-file": "Get-ChildItem -File is PowerShell 3+; test $_.PSIsContainer",
        "-directory": "Get-ChildItem -Directory is PowerShell 3+; test $_.PSIsContainer",
        "-attributes": "Get-ChildItem -Attributes is PowerShell 3+",
    },
    "set-content": {"-nonewline": "-NoNewline is PowerShell 5+"},
    "add-content": {"-nonewline": "-NoNewline is PowerShell 5+"},
    "out-file": {"-nonewline": "-NoNewline is PowerShell 5+"},
    "add-member": {
        "-notepropertyname": "Add-Member -NotePropertyName is PowerShell 3+; use -MemberType NoteProperty",
        "-notepropertymembers": "Add-Member -NotePropertyMembers is PowerShell 3+",
    },
    "select-object": {"-skiplast": "Select-Object -SkipLast is PowerShell 5+"},
}
# .NET Framework 4+ members: Windows PowerShell 2.0 runs on .NET 2.0/3.5 (CLR 2).
_DOTNET4_MEMBERS = {
    "isnullorwhitespace": "[string]::IsNullOrWhiteSpace is .NET 4; PowerShell 2.0 runs on .NET 2.0/3.5",
    "hasflag": "Enum.HasFlag is .NET 4; PowerShell 2.0 runs on .NET 2.0/3.5: use -band",
    "enumeratefiles": "EnumerateFiles is .NET 4; use GetFiles",
    "enumeratedirectories": "EnumerateDirectories is .NET 4; use GetDirectories",
    "enumeratefilesystementries": "EnumerateFileSystemEntries is .NET 4; use GetFileSystemEntries",
    "readlines": "File.ReadLines is .NET 4; use ReadAllLines",
    "connectasync": "ConnectAsync is .NET 4.5; use BeginConnect with a wait handle",
}
_CIM_COMMAND = re.compile(r"^(\w+-Cim\w*|gcim|icim|ncim|rcim|scim|gcls|ncms|rcms|gcms|ncso)$", re.IGNORECASE)
_PS3_OPERATORS = {"-in", "-notin", "-iin", "-cin", "-inotin", "-cnotin", "-shl", "-shr"}
_WHERE_COMMANDS = {"where-object", "where", "?"}
_FOREACH_COMMANDS = {"foreach-object", "foreach", "%"}
_ACTION_PARAMETER = re.compile(r"^-(erroraction|ea|warningaction|wa|informationaction|infa)$", re.IGNORECASE)
_REQUIRES = re.compile(r"^#\s*requires\b(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
# Tokens the grammar cannot parse (they show up inside ERROR nodes); matched on code with strings and
# comments blanked out, to name the construct next to the parse error.
_UNPARSED_PS3 = [
    (re.compile(r"\?\?=?"), "the ?? / ??= operators are PowerShell 7"),
    (re.compile(r"(?<=[\w\)\]\}])\?\.|\?\["), "the ?. / ?[ operators are PowerShell 7"),
    (re.compile(r"\.\s*(ForEach|Where)\s*\(", re.IGNORECASE), ".ForEach()/.Where() are PowerShell 4+"),
]


# Members that return a collection (wsus-api.md and .NET): a property read on their result is
# member enumeration. Lower case, as PowerShell compares member names.
_COLLECTION_METHODS = {
    "getupdates",
    "getcomputertargetgroups",
    "getcomputertargets",
    "getchildtargetgroups",
    "getsynchronizationhistory",
    "geteventhistory",
    "getupdateeventhistory",
    "getenabledupdatelanguages",
    "getussenabledupdatelanguages",
    "getupdatecategories",
    "getupdateclassifications",
    "getrootupdatecategories",
    "getsubcategories",
    "getdownstreamservers",
    "getchildservers",
    "getcomponentswitherrors",
    "getsummaryperupdate",
    "getaccessrules",
    "gethostaddresses",
    "split",
}
_COLLECTION_PROPERTIES = {"updateerrors", "supportedupdatelanguages", "access"}
# Text shown in the server's language (localized Windows, wsus-api.md; issue 14 item 5): messages,
# display names, account names, titles. Compared with a literal, a decision holds in one language only.
_DISPLAY_MEMBERS = {
    "message",
    "displayname",
    "errortext",
    "identityreference",
    "title",
    "description",
    "caption",
    "accountname",
}
_TEXT_OPERATORS = {"eq", "ne", "like", "notlike", "match", "notmatch", "contains", "notcontains"}
# What a collection itself has (PowerShell 2.0 reads these on arrays and .NET collections).
_COLLECTION_OWN_MEMBERS = {"count", "length"}


def _core(node: tree_sitter.Node) -> tree_sitter.Node:
    """The expression a wrapper stands for: through single-child grammar layers and parentheses."""
    while True:
        named = [c for c in node.children if c.type not in ("(", ")")]
        if node.type == "parenthesized_expression" and len(named) == 1:
            node = named[0]
        elif len(node.children) == 1:
            node = node.children[0]
        else:
            return node


def _variable_key(text: str) -> str:
    return text.lstrip("$@").strip("{}").lower()


def _unquote(node: tree_sitter.Node, source: bytes) -> str:
    text = source[node.start_byte : node.end_byte].decode("utf-8")
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _command_name(command: tree_sitter.Node, source: bytes) -> str | None:
    for child in command.children:
        if child.type == "command_name":
            return source[child.start_byte : child.end_byte].decode("utf-8")
    return None


def _command_arguments(command: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The elements of a command (parameters and arguments), separators left out."""
    for child in command.children:
        if child.type == "command_elements":
            return [c for c in child.named_children if c.type not in ("command_argument_sep", "comment")]
    return []


def _words(node: tree_sitter.Node, source: bytes) -> list[str]:
    """The literal words of an argument: a bare token, a string, or a comma list of them."""
    if node.type in ("generic_token", "string_literal"):
        return [w.strip("'\"") for w in _unquote(node, source).split(",") if w.strip("'\" ")]
    words: list[str] = []
    for sub in _walk(node):
        if sub.type in ("generic_token", "string_literal") and sub is not node:
            words.extend(w.strip("'\"") for w in _unquote(sub, source).split(",") if w.strip("'\" "))
    return words


def _mask(tree: tree_sitter.Tree, source: bytes) -> str:
    """The source with comments and literal string text blanked (code inside "$(...)" kept)."""
    masked = bytearray(source)

    def blank(start: int, end: int) -> None:
        for i in range(start, end):
            if masked[i] not in (0x0A, 0x0D):
                masked[i] = 0x20

    for node in _walk(tree.root_node):
        if node.type == "comment":
            blank(node.start_byte, node.end_byte)
        elif node.type == "string_literal" and not _inside(node, "string_literal"):
            cursor = node.start_byte
            for sub in _walk(node):
                if (
                    sub.type in ("sub_expression", "variable")
                    and sub.parent is not None
                    and sub.parent.type in ("expandable_string_literal", "expandable_here_string_literal")
                ):
                    blank(cursor, sub.start_byte)
                    cursor = sub.end_byte
            blank(cursor, node.end_byte)
    return masked.decode("utf-8", errors="replace")


class _Linter:
    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.source = text.encode("utf-8")
        self.tree = _parser().parse(self.source)
        self.violations: list[Violation] = []
        self.nodes = list(_walk(self.tree.root_node))
        top = self.tree.root_node.children
        self.param_block = next((n for n in top if n.type == "param_block"), None)
        self.parameters: list[str] = []
        if self.param_block is not None:
            for node in _walk(self.param_block):
                if node.type == "script_parameter":
                    variable = next((c for c in node.children if c.type == "variable"), None)
                    if variable is not None:
                        self.parameters.append(self.node_text(variable).lstrip("$@"))

    # helpers
    def node_text(self, node: tree_sitter.Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8")

    def add(self, node_or_point, rule: str, text: str) -> None:
        if isinstance(node_or_point, tree_sitter.Node):
            row, column_bytes = node_or_point.start_point
        else:
            row, column_bytes = node_or_point
        line = self.source.split(b"\n")[row]
        column = len(line[:column_bytes].decode("utf-8", errors="replace")) + 1
        self.violations.append(Violation(self.name, row + 1, column, rule, text))

    def add_at_offset(self, char_offset: int, rule: str, text: str) -> None:
        before = self.text[:char_offset]
        row = before.count("\n")
        column = char_offset - (before.rfind("\n") + 1)
        self.violations.append(Violation(self.name, row + 1, column + 1, rule, text))

    def is_parameter(self, variable_text: str) -> str | None:
        """The parameter a ``$Name`` / ``${Name}`` / ``@Name`` refers to, if any (case-insensitive)."""
        bare = variable_text.lstrip("$@").strip("{}")
        for parameter in self.parameters:
            if bare.lower() == parameter.lower():
                return parameter
        return None

    # rules
    def run(self) -> list[Violation]:
        self.check_parse()
        self.check_powershell_2()
        self.check_members()
        self.check_collections()
        self.check_revision_ids()
        self.check_display_text()
        self.check_count_of_command_output()
        self.check_code_from_data()
        self.check_parameters()
        self.check_output()
        unique = {(v.line, v.column, v.rule, v.text): v for v in self.violations}
        return sorted(unique.values())

    def check_parse(self) -> None:
        """Every ERROR node (nested ones too: they point closer to the mistake) and every MISSING node."""
        seen: set[tuple[tuple[int, int], str]] = set()
        for node in self.nodes:
            if node.is_missing:
                message = f"missing {node.type!r}"
            elif node.type == "ERROR":
                snippet = " ".join(self.node_text(node).split())[:50]
                message = (
                    f"does not parse: {snippet!r}"
                    if snippet
                    else "unexpected end of script (unclosed block?)"
                )
            else:
                continue
            if (node.start_point, message) not in seen:
                seen.add((node.start_point, message))
                self.add(node, "parse", message)

    def check_powershell_2(self) -> None:
        for node in self.nodes:
            kind = node.type
            if kind == "type_literal":
                name = self.node_text(node).strip("[] ").lower()
                short = name.rsplit(".", 1)[-1]
                if short in _PS3_TYPES:
                    self.add(node, "powershell-2", _PS3_TYPES[short])
            elif kind == "comparison_operator":
                operator = self.node_text(node).lower()
                if operator in _PS3_OPERATORS:
                    self.add(node, "powershell-2", f"the {operator} operator is PowerShell 3+")
            elif kind == "variable":
                text = self.node_text(node).lower().replace("{", "").replace("}", "")
                if text in ("$psitem", "@psitem"):
                    self.add(node, "powershell-2", "$PSItem is PowerShell 3+; use $_")
                elif text.startswith(("$using:", "@using:")):
                    self.add(node, "powershell-2", "$using: is PowerShell 3+; pass values as parameters")
            elif kind in ("class_statement", "enum_statement"):
                self.add(node, "powershell-2", f"{kind.split('_')[0]} definitions are PowerShell 5+")
            elif kind == "pipeline_chain_tail":
                self.add(node, "powershell-2", "&& and || are PowerShell 7")
            elif kind in ("member_access", "invokation_expression"):
                self.check_static_new(node)
            elif kind == "command":
                self.check_command(node)
            elif kind == "comment":
                self.check_requires(node)
            elif kind == "assignment_expression":
                self.check_preference_assignment(node)
        masked = _mask(self.tree, self.source)
        for pattern, message in _UNPARSED_PS3:
            for match in pattern.finditer(masked):
                self.add_at_offset(match.start(), "powershell-2", message)

    def check_static_new(self, node: tree_sitter.Node) -> None:
        children = node.children
        for i, child in enumerate(children):
            if (
                child.type == "::"
                and i + 1 < len(children)
                and children[i + 1].type == "member_name"
                and self.node_text(children[i + 1]).lower() == "new"
            ):
                self.add(children[i + 1], "powershell-2", "::new( is PowerShell 5+; use New-Object")

    def check_command(self, command: tree_sitter.Node) -> None:
        name = _command_name(command, self.source)
        if name is None:
            return
        lowered = name.lower()
        if lowered in _PS3_COMMANDS:
            self.add(command, "powershell-2", _PS3_COMMANDS[lowered])
        elif _CIM_COMMAND.match(name):
            self.add(command, "powershell-2", f"{name}: CIM cmdlets are PowerShell 3+; use Get-WmiObject")
        elif _WSUS_MODULE_COMMAND.match(name):
            self.add(
                command,
                "powershell-2",
                f"{name}: the UpdateServices module exists only on Windows Server 2012+ "
                "(not on WSUS 3.0 SP2); "
                "use the API through AdminProxy",
            )
        arguments = _command_arguments(command)
        newer = _PS3_PARAMETERS.get(lowered, {})
        for element in arguments:
            if element.type != "command_parameter":
                continue
            parameter = self.node_text(element).split(":", 1)[0].lower()
            if parameter in newer:  # the full name only: a prefix may name a 2.0 parameter (-Fil: -Filter)
                self.add(element, "powershell-2", newer[parameter])
        for i, element in enumerate(arguments):
            value = arguments[i + 1] if i + 1 < len(arguments) else None
            if (
                element.type == "command_parameter"
                and _ACTION_PARAMETER.match(self.node_text(element))
                and value is not None
                and value.type != "command_parameter"
                and [w.lower() for w in _words(value, self.source)] == ["ignore"]
            ):
                self.add(
                    element, "powershell-2", "-ErrorAction Ignore is PowerShell 3+; use SilentlyContinue"
                )
        if lowered in _WHERE_COMMANDS | _FOREACH_COMMANDS:
            positional_block = any(
                sub.type == "script_block_expression"
                for a in arguments
                for sub in _walk(a)
                if a.type != "command_parameter"
            )
            if not positional_block:
                self.add(
                    command,
                    "powershell-2",
                    f"'{name}' without a script block is the PowerShell 3+ simplified syntax; "
                    f"write {name} {{ $_.Name -eq ... }}",
                )

    def check_requires(self, comment: tree_sitter.Node) -> None:
        match = _REQUIRES.match(self.node_text(comment))
        if match is None:
            return
        rest = match["rest"]
        version = re.search(r"-version\s+(\d+)", rest, re.IGNORECASE)
        if version and int(version.group(1)) >= 3:
            self.add(
                comment, "powershell-2", f"#requires -Version {version.group(1)}: the snippets run on 2.0"
            )
        if re.search(r"-(modules|runasadministrator|psedition|assembly)\b", rest, re.IGNORECASE):
            self.add(comment, "powershell-2", "this #requires option is PowerShell 3+")

    def check_preference_assignment(self, node: tree_sitter.Node) -> None:
        left = next((c for c in node.children if c.type == "left_assignment_expression"), None)
        if left is None or not re.fullmatch(r"\$\w*Preference", self.node_text(left).strip(), re.IGNORECASE):
            return
        right = node.children[-1]
        if _unquote(right, self.source).strip().lower() == "ignore":
            self.add(node, "powershell-2", "the Ignore action preference is PowerShell 3+")

    def check_members(self) -> None:
        members = allowlist()
        allowed = {m.lower(): m for m in members.allowed}
        unsure = {m.lower(): m for m in members.unsure}
        probes = self.probes()
        for node in self.nodes:
            if node.type != "member_name" or node.parent is None:
                continue
            if node.parent.type not in ("member_access", "invokation_expression"):
                continue
            if any(child.type != "simple_name" for child in node.named_children):
                self.add(
                    node,
                    "dynamic-member",
                    f"member {self.node_text(node)} is computed at run time; name the member literally",
                )
                continue
            member = self.node_text(node)
            key = member.lower()
            if key in _DOTNET4_MEMBERS:
                self.add(node, "powershell-2", _DOTNET4_MEMBERS[key])
                continue
            if key == "serverid" and self.is_assigned(node):
                self.add(
                    node, "forbidden-write", "never assign ServerId: it rewrites the server identity (P7)"
                )
            if key in allowed:
                continue
            if key in unsure:
                first_probe = probes.get(key)
                if first_probe is None or first_probe > node.start_byte:
                    self.add(
                        node,
                        "unsure-member",
                        f"{unsure[key]} is not in every WSUS version (UNSURE in wsus-api.md); probe it first "
                        f"with Get-Member -Name {unsure[key]}",
                    )
                continue
            if key == "new" and node.parent.type == "invokation_expression":
                continue  # reported by powershell-2
            self.add(
                node,
                "unknown-member",
                f"{member} is not in tests/data/wsus_api_members.txt "
                "(documented WSUS API members and listed .NET members)",
            )

    def is_assigned(self, member_name: tree_sitter.Node) -> bool:
        access = member_name.parent
        left = access.parent if access is not None else None
        while left is not None and left.type != "left_assignment_expression":
            if left.end_byte != access.end_byte:
                return False
            left = left.parent
        return left is not None

    def probes(self) -> dict[str, int]:
        """Member names probed with ``Get-Member -Name X`` (or ``Get-Member X``): name -> first offset."""
        found: dict[str, int] = {}
        for node in self.nodes:
            if node.type != "command":
                continue
            name = (_command_name(node, self.source) or "").lower()
            if name not in ("get-member", "gm"):
                continue
            arguments = _command_arguments(node)
            for i, element in enumerate(arguments):
                is_name = element.type == "command_parameter" and re.fullmatch(
                    r"-n(a(me?)?)?", self.node_text(element), re.IGNORECASE
                )
                positional = element.type != "command_parameter" and (
                    i == 0 or arguments[i - 1].type != "command_parameter"
                )
                target = None
                if is_name and i + 1 < len(arguments):
                    target = arguments[i + 1]
                elif positional:
                    target = element
                if target is not None:
                    for word in _words(target, self.source):
                        found.setdefault(word.lower(), node.start_byte)
        return found

    def check_collections(self) -> None:
        collections = self.collection_variables()
        for node in self.nodes:
            if node.type == "member_access" and len(node.children) >= 3:
                target, member = node.children[0], node.children[-1]
                name = self.node_text(member).lower()
                if (
                    member.type == "member_name"
                    and name not in _COLLECTION_OWN_MEMBERS
                    and self.is_collection(target, collections)
                ):
                    self.add(
                        member,
                        "member-enumeration",
                        f"{self.node_text(target)} is a collection: .{self.node_text(member)} on it is "
                        "PowerShell 3+ member enumeration ($null on 2.0); loop with foreach",
                    )
            elif node.type == "foreach_statement":
                iterated = next((c for c in node.children if c.type == "pipeline"), None)
                core = _core(iterated) if iterated is not None else None
                if core is not None and core.type == "variable" and self.is_array_parameter(core):
                    name = self.node_text(core)
                    self.add(
                        iterated,
                        "foreach-null",
                        f"PowerShell 2.0 runs 'foreach (... in {name})' once when the parameter is $null: "
                        f"loop over an array that is never $null ($a = @(); if ($null -ne {name}) "
                        f"{{ $a = @({name}) }})",
                    )
            elif node.type == "comparison_expression" and len(node.children) == 3:
                left, operator, right = node.children
                if (
                    operator.type == "comparison_operator"
                    and self.node_text(operator).lower() in ("-eq", "-ne", "-ieq", "-ine", "-ceq", "-cne")
                    and self.node_text(right).strip().lower() == "$null"
                    and self.is_collection(left, collections)
                ):
                    self.add(
                        node,
                        "null-comparison",
                        f"{self.node_text(left)} is a collection: '{self.node_text(operator)} $null' filters "
                        "its elements; put $null on the left",
                    )

    def check_count_of_command_output(self) -> None:
        """``$x = Get-Something; $x.Count``: a command that outputs one object hands over that object,
        not an array, and on PowerShell 2.0 a single object has no Count ($null; 3.0 added it)."""
        from_commands: set[str] = set()
        for node in self.nodes:
            if node.type != "assignment_expression" or len(node.children) < 3:
                continue
            left = _core(node.children[0])
            value = _core(node.children[-1])
            runs_command = value.type == "command" or (
                value.type == "pipeline_chain" and any(c.type == "command" for c in _walk(value))
            )
            if left.type == "variable" and runs_command:
                from_commands.add(_variable_key(self.node_text(left)))
        collections = self.collection_variables()
        for node in self.nodes:
            if node.type != "member_access" or len(node.children) < 3:
                continue
            target = _core(node.children[0])
            if self.node_text(node.children[-1]).lower() != "count" or target.type != "variable":
                continue
            key = _variable_key(self.node_text(target))
            if key in from_commands and key not in collections:
                self.add(
                    node.children[-1],
                    "powershell-2",
                    f"{self.node_text(target)} holds a command's output: one object is not an array, and on "
                    f"PowerShell 2.0 it has no Count; assign @(...) of the command",
                )

    def check_display_text(self) -> None:
        """A decision on text Windows or WSUS shows in the server's language: a message, a display
        name, an account name, an update title, a computer group's name, compared with a literal."""
        groups = self.group_variables()
        for node in self.nodes:
            if node.type != "comparison_expression" or len(node.children) != 3:
                continue
            left, operator, right = node.children
            name = self.node_text(operator).lower().lstrip("-")
            if name not in _TEXT_OPERATORS and not (name[:1] in ("i", "c") and name[1:] in _TEXT_OPERATORS):
                continue
            for side, other in ((left, right), (right, left)):
                access = _core(side)
                if access.type == "cast_expression":
                    access = _core(access.children[-1])
                if access.type != "member_access" or not self.is_text_literal(other):
                    continue
                member = self.node_text(access.children[-1]).lower()
                target = _core(access.children[0])
                group_name = (
                    member == "name"
                    and target.type == "variable"
                    and _variable_key(self.node_text(target)) in groups
                )
                if member in _DISPLAY_MEMBERS or group_name:
                    self.add(
                        node,
                        "display-text",
                        f"{self.node_text(access)} is text in the server's language: decide by a SID, an id, "
                        "an enum value or an error id, not by comparing it with a literal",
                    )

    def is_text_literal(self, node: tree_sitter.Node) -> bool:
        core = _core(node)
        if core.type in ("verbatim_string_characters", "verbatim_here_string_characters"):
            return True
        if core.type in ("expandable_string_literal", "expandable_here_string_literal"):
            return not any(
                sub.type in ("variable", "sub_expression") for sub in _walk(core) if sub is not core
            )
        return False

    def group_variables(self) -> set[str]:
        """Loop variables over GetComputerTargetGroups() / GetChildTargetGroups()."""
        found: set[str] = set()
        for node in self.nodes:
            if node.type != "foreach_statement":
                continue
            variable = next((c for c in node.children if c.type == "variable"), None)
            iterated = next((c for c in node.children if c.type == "pipeline"), None)
            if variable is None or iterated is None:
                continue
            core = _core(iterated)
            member = next((c for c in core.children if c.type == "member_name"), None)
            if (
                core.type == "invokation_expression"
                and member is not None
                and self.node_text(member).lower() in ("getcomputertargetgroups", "getchildtargetgroups")
            ):
                found.add(_variable_key(self.node_text(variable)))
        return found

    def check_revision_ids(self) -> None:
        """IUpdate.Id, IUpdateEvent.UpdateId and SynchronizationUpdateErrorInfo.UpdateId are
        UpdateRevisionId objects (wsus-api.md 1.4, 1.7): [string] of one is its type's name, and it
        equals no Guid. The Guid is its .UpdateId, the revision its .RevisionNumber."""
        holders = self.revision_id_holders()
        for node in self.nodes:
            if node.type != "member_access" or len(node.children) < 3:
                continue
            target, member = _core(node.children[0]), node.children[-1]
            if target.type != "variable" or _variable_key(self.node_text(target)) not in holders:
                continue
            if self.node_text(member).lower() != holders[_variable_key(self.node_text(target))]:
                continue
            outer = node.parent
            while outer is not None and (outer.start_byte, outer.end_byte) == (
                node.start_byte,
                node.end_byte,
            ):
                outer = outer.parent
            if outer is None:
                continue
            as_text = outer.type == "cast_expression" and re.search(
                r"^\[\s*(system\.)?(string|guid)\s*\]", self.node_text(outer.children[0]), re.IGNORECASE
            )
            if as_text or outer.type in ("comparison_expression", "hash_entry", "sub_expression"):
                self.add(
                    member,
                    "revision-id",
                    f"{self.node_text(node)} is an UpdateRevisionId (an object): as text it is its type's "
                    f"name and it equals no Guid; read {self.node_text(node)}.UpdateId (the Guid) and "
                    ".RevisionNumber",
                )

    def revision_id_holders(self) -> dict[str, str]:
        """Variables holding IUpdate (member ``id``), IUpdateEvent or SynchronizationUpdateErrorInfo
        (member ``updateid``): loop variables over GetUpdates()/GetUpdateEventHistory()/UpdateErrors
        (directly or through a variable assigned from them), and variables assigned GetUpdate()."""
        sources = {"getupdates": "id", "getupdateeventhistory": "updateid", "updateerrors": "updateid"}

        def source_of(node: tree_sitter.Node, assigned: dict[str, str]) -> str | None:
            core = _core(node)
            if core.type == "variable":
                return assigned.get(_variable_key(self.node_text(core)))
            if core.type in ("invokation_expression", "member_access"):
                member = next((c for c in core.children if c.type == "member_name"), None)
                if member is not None:
                    name = self.node_text(member).lower()
                    if core.type == "invokation_expression" and name in (
                        "getupdates",
                        "getupdateeventhistory",
                    ):
                        return sources[name]
                    if core.type == "member_access" and name == "updateerrors":
                        return sources[name]
            return None

        collections: dict[str, str] = {}
        holders: dict[str, str] = {}
        for node in self.nodes:
            if node.type == "assignment_expression" and len(node.children) >= 3:
                left = _core(node.children[0])
                if left.type != "variable" or self.node_text(node.children[1]).strip() != "=":
                    continue
                key = _variable_key(self.node_text(left))
                value = _core(node.children[-1])
                kind = source_of(value, collections)
                if kind is not None:
                    collections[key] = kind
                member = next((c for c in value.children if c.type == "member_name"), None)
                if (
                    value.type == "invokation_expression"
                    and member is not None
                    and self.node_text(member).lower() == "getupdate"
                ):
                    holders[key] = "id"
        for node in self.nodes:
            if node.type != "foreach_statement":
                continue
            variable = next((c for c in node.children if c.type == "variable"), None)
            iterated = next((c for c in node.children if c.type == "pipeline"), None)
            if variable is None or iterated is None:
                continue
            kind = source_of(iterated, collections)
            if kind is not None:
                holders[_variable_key(self.node_text(variable))] = kind
        return holders

    def is_array_parameter(self, variable: tree_sitter.Node) -> bool:
        return _variable_key(self.node_text(variable)) in self.array_parameters()

    def array_parameters(self) -> set[str]:
        found: set[str] = set()
        if self.param_block is not None:
            for node in _walk(self.param_block):
                if node.type == "script_parameter" and any(
                    sub.type == "array_type_name" for sub in _walk(node)
                ):
                    variable = next((c for c in node.children if c.type == "variable"), None)
                    if variable is not None:
                        found.add(_variable_key(self.node_text(variable)))
        return found

    def collection_variables(self) -> set[str]:
        """Variables known to hold a collection: array-typed parameters, and every variable assigned
        (anywhere) from a collection expression, repeated until nothing new is found."""
        found = self.array_parameters()
        assignments = []
        for node in self.nodes:
            if node.type != "assignment_expression" or len(node.children) < 3:
                continue
            operator = self.node_text(node.children[1]).strip()
            left = _core(node.children[0])
            if operator == "=" and left.type == "variable":
                assignments.append((_variable_key(self.node_text(left)), node.children[-1]))
        grew = True
        while grew:
            grew = False
            for key, value in assignments:
                if key not in found and self.is_collection(value, found):
                    found.add(key)
                    grew = True
        return found

    def is_collection(self, node: tree_sitter.Node, collections: set[str]) -> bool:
        core = _core(node)
        kind = core.type
        if kind == "array_expression":
            return True
        if kind == "array_literal_expression" and any(c.type == "," for c in core.children):
            return True
        if kind == "cast_expression":
            cast = core.children[0]
            return any(sub.type == "array_type_name" for sub in _walk(cast))
        if kind == "variable":
            return _variable_key(self.node_text(core)) in collections
        if kind in ("invokation_expression", "member_access") and len(core.children) >= 3:
            member = next((c for c in core.children if c.type == "member_name"), None)
            if member is None:
                return False
            name = self.node_text(member).lower()
            if kind == "invokation_expression":
                return name in _COLLECTION_METHODS
            return name in _COLLECTION_PROPERTIES
        return False

    def check_code_from_data(self) -> None:
        for node in self.nodes:
            if node.type == "command":
                name = (_command_name(node, self.source) or "").lower()
                if name in ("invoke-expression", "iex"):
                    self.add(node, "code-from-data", f"{name} runs text as code; take values as parameters")
                elif name == "add-type":
                    self.add(
                        node,
                        "code-from-data",
                        "Add-Type compiles code at run time; use the loaded assemblies",
                    )
                operator = next((c for c in node.children if c.type == "command_invokation_operator"), None)
                target = next((c for c in node.children if c.type == "command_name_expr"), None)
                if operator is not None and target is not None:
                    dynamic = [
                        sub
                        for sub in _walk(target)
                        if (sub.type == "variable" and self.is_parameter(self.node_text(sub)))
                        or sub.type in ("expandable_string_literal", "expandable_here_string_literal")
                    ]
                    if dynamic:
                        self.add(
                            node,
                            "code-from-data",
                            f"'{self.node_text(operator)}' runs a command named by data: "
                            f"{self.node_text(target)}",
                        )
            elif node.type in ("member_access", "invokation_expression"):
                text = re.sub(r"\s+", "", self.node_text(node)).lower()
                if re.match(r"\[(system\.management\.automation\.)?scriptblock\]::create", text) and (
                    node.type == "invokation_expression" or node.parent.type != "invokation_expression"
                ):
                    self.add(node, "code-from-data", "[scriptblock]::Create builds code from text")

    def check_parameters(self) -> None:
        if self.param_block is None:
            self.add(
                (0, 0), "param-block", "a snippet starts with a param() block: every value is a parameter"
            )
            return
        registry_view = [p.name for p in parse_parameters(self.text)]
        if registry_view != self.parameters:
            self.add(
                self.param_block,
                "registry-params",
                f"wsusauto.client.snippets.parse_parameters sees {registry_view}, "
                f"the parser sees {self.parameters}; "
                "write one '[type]$Name' per parameter and put the closing ')' at the start of a line",
            )
        used: set[str] = set()
        for node in self.nodes:
            if node.type != "variable" or node.start_byte < self.param_block.end_byte:
                continue
            parameter = self.is_parameter(self.node_text(node))
            if parameter is None:
                continue
            left = node.parent
            while (
                left is not None
                and left.type != "left_assignment_expression"
                and left.end_byte == node.end_byte
            ):
                left = left.parent
            if (
                left is not None
                and left.type == "left_assignment_expression"
                and left.end_byte == node.end_byte
            ):
                continue  # `$Param = ...` writes the parameter; it is not a use
            used.add(parameter)
        for parameter in self.parameters:
            if parameter not in used:
                self.add(
                    self.param_block, "unused-parameter", f"parameter ${parameter} is declared but never used"
                )

    def check_output(self) -> None:
        statements = [
            child
            for block in self.tree.root_node.children
            if block.type == "statement_list"
            for child in block.named_children
            if child.type not in ("comment", "empty_statement")
        ]
        last = statements[-1] if statements else None
        if last is None or not self.is_hash_literal(last):
            where = last if last is not None else (0, 0)
            self.add(where, "output", "the last statement must output one hashtable literal @{ ... }")

    def is_hash_literal(self, statement: tree_sitter.Node) -> bool:
        node = statement
        if node.type == "flow_control_statement":
            if not self.node_text(node).lower().startswith("return"):
                return False
            node = node.named_children[-1] if node.named_children else node
        while node.type != "hash_literal_expression":
            if node.named_child_count != 1:
                return False
            child = node.named_children[0]
            if child.start_byte != node.start_byte or child.end_byte != node.end_byte:
                return False
            node = child
        return True


def lint(name: str, text: str) -> list[Violation]:
    """Every violation in one snippet's text, sorted by position."""
    return _Linter(name, text).run()


def parse_errors(name: str, text: str) -> list[Violation]:
    linter = _Linter(name, text)
    linter.check_parse()
    return linter.violations
