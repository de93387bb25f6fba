"""Jinja2's immutable sandbox, narrowed to what a playbook expression needs, with a budget.

The sandbox already refuses attributes starting with ``_``, Python internals and methods that change
a list, dict or set. On top of it, so that no expression can run away or reach a secret:

- no loader: ``include``, ``import`` and ``extends`` have nothing to load (templating refuses
  them, and every other ``{% %}`` statement, before anything runs);
- the filters Ansible users reach for (``default``/``d``, ``bool``, ``int``, ``lower``, ``upper``,
  ``join``, ``regex_replace``, ``to_json``, ``ternary``) and Jinja's harmless ones; none of those
  that pad or repeat text to a width (``center``, ``indent``, ``format``, ``wordwrap``, ``batch``);
- calls only to ``range``, ``dict`` and a short list of read-only ``str``/mapping/sequence methods;
- a budget per evaluation: ``range`` builds at most ``MAX_RANGE_ITEMS`` items in all, and what
  filters, calls and ``*``/``**``/``%`` produce counts against ``MAX_PRODUCED`` (characters or
  items), checked *before* an operation that could multiply its input;
- secrets are :class:`MaskedSecret` objects that refuse every use but being passed on whole.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from types import BuiltinMethodType, GeneratorType, MethodType
from typing import Any

from jinja2 import StrictUndefined, Undefined, pass_environment
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from wsusauto.config.secrets import Secret

MAX_RANGE_ITEMS = 10_000  # range() items per evaluation (Jinja's own MAX_RANGE is 100000 per call)
MAX_PRODUCED = 1_000_000  # characters or items that filters, calls and operators may make per evaluation
MAX_INT_BITS = 4096  # the largest integer ``**`` may make


class ExpressionRefused(Exception):
    """The expression asks for something playbooks may not do (the text says what)."""


class SecretRefused(ExpressionRefused):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name} is a secret: it can only be given whole, as '{{{{ {name} }}}}', to an argument "
            "that takes a secret (such as proxy's password); it cannot be printed, compared or changed"
        )


class MaskedSecret:
    """A secret variable as expressions see it: every use but passing it on whole is refused."""

    __slots__ = ("_name", "_secret")

    def __init__(self, secret: Secret, name: str) -> None:
        self._secret = secret
        self._name = name

    # For Python only: the sandbox refuses every attribute of this object.
    @property
    def secret(self) -> Secret:
        return self._secret

    @property
    def name(self) -> str:
        return self._name

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise SecretRefused(self._name)

    # repr too: a list holding the secret must not print as text, even masked.
    __repr__ = __str__ = __format__ = __iter__ = __len__ = __contains__ = __getitem__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __hash__ = _refuse
    __add__ = __radd__ = __mul__ = __rmul__ = __mod__ = __rmod__ = _refuse
    __int__ = __float__ = __index__ = _refuse


class _Budget:
    def __init__(self) -> None:
        self.produced = 0
        self.range_items = 0


_budget: ContextVar[_Budget | None] = ContextVar("expression_budget", default=None)


def start_budget() -> Any:
    """A fresh budget for one evaluation; give the returned token to :func:`end_budget`."""
    return _budget.set(_Budget())


def end_budget(token: Any) -> None:
    _budget.reset(token)


def _current() -> _Budget:
    budget = _budget.get()
    # Called outside an evaluation (a library caller using a filter directly): a budget for this one
    # call, never one left set in the caller's context to fill up across its later calls.
    return budget if budget is not None else _Budget()


def size_of(value: Any, limit: int = MAX_PRODUCED) -> int:
    """Characters or items in ``value``, counted deeply; stops counting once past ``limit``."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, Mapping):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple | set | frozenset):
        total = len(value)
        for item in value:
            if total > limit:
                break
            total += size_of(item, limit - total)
        return total
    return 1


def _ensure_room(size: int, what: str) -> None:
    budget = _current()
    if budget.produced + size > MAX_PRODUCED:
        raise ExpressionRefused(
            f"{what} would make more than {MAX_PRODUCED} characters or items; expressions stay small"
        )


def _charge(value: Any) -> None:
    size = size_of(value)
    _ensure_room(size, "it")
    _current().produced += size


def budgeted_range(*args: int) -> range:
    items = range(*args)
    budget = _current()
    if budget.range_items + len(items) > MAX_RANGE_ITEMS:
        raise ExpressionRefused(
            f"range of {len(items)} items is too big: an expression may build at most "
            f"{MAX_RANGE_ITEMS} range items"
        )
    budget.range_items += len(items)
    return items


# -- the filters Ansible users reach for -----------------------------------------------------------

_TRUE = {"yes", "on", "1", "true", "y", "t"}
_FALSE = {"no", "off", "0", "false", "n", "f", ""}


def ansible_bool(value: Any) -> bool:
    """Ansible's ``bool``: yes/on/1/true (any case) are true, no/off/0/false false; others are an error."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ExpressionRefused(f"{value!r} is not a boolean for | bool (use yes/no, true/false, on/off or 1/0)")


def ternary(value: Any, true_value: Any, false_value: Any, none_value: Any = None) -> Any:
    if value is None and none_value is not None:
        return none_value
    return true_value if bool(value) else false_value


def _json_default(value: Any) -> Any:
    if isinstance(value, MaskedSecret):
        value._refuse()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"a {type(value).__name__} cannot be written as JSON")


def to_json(value: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    # JSON escapes may grow text six times (\uXXXX); check the worst case before writing it.
    _ensure_room(6 * size_of(value) + 16, "to_json")
    if indent is not None and not (isinstance(indent, int) and 0 <= indent <= 8):
        raise ExpressionRefused("to_json indent must be a number from 0 to 8")
    return json.dumps(value, default=_json_default, indent=indent, sort_keys=sort_keys, ensure_ascii=False)


def regex_replace(
    value: Any,
    pattern: str = "",
    replacement: str = "",
    ignorecase: bool = False,
    multiline: bool = False,
    count: int = 0,
) -> str:
    text = value if isinstance(value, str) else str(value)
    flags = (re.IGNORECASE if ignorecase else 0) | (re.MULTILINE if multiline else 0)
    try:
        regex = re.compile(str(pattern), flags)
    except re.error as exc:
        raise ExpressionRefused(f"regex_replace: {pattern!r} is not a regular expression ({exc})") from None
    _refuse_nested_repeats(regex)
    made = [0]
    room = MAX_PRODUCED - _current().produced

    def replace(match: re.Match[str]) -> str:
        # The replacement is expanded match by match, so the result is measured while it is built.
        piece = match.expand(replacement)
        made[0] += len(piece)
        if made[0] > room:
            raise ExpressionRefused(f"regex_replace would make more than {MAX_PRODUCED} characters")
        return piece

    return regex.sub(replace, text, count=int(count))


def _refuse_nested_repeats(regex: re.Pattern[str]) -> None:
    """A repeat inside a repeat (``(a+)+``) can take exponential time on a near miss: refused."""
    if sys.version_info >= (3, 11):
        import re._parser as sre_parse  # the standard library's own regex parser
    else:
        import sre_parse  # its name before 3.11 (deprecated since)

    def walk(items: Iterable[Any], inside_repeat: bool) -> None:
        for op, arg in items:
            name = str(op)
            if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                _low, high, body = arg
                if inside_repeat and high > 1:
                    raise ExpressionRefused(
                        f"regex_replace: {regex.pattern!r} repeats a repeat, which can take "
                        "exponential time; write it without the nested repetition"
                    )
                walk(body, inside_repeat or high > 1)
            elif name == "SUBPATTERN":
                walk(arg[-1], inside_repeat)
            elif name == "BRANCH":
                for branch in arg[1]:
                    walk(branch, inside_repeat)
            elif name in ("ASSERT", "ASSERT_NOT"):
                walk(arg[1], inside_repeat)
            elif name == "ATOMIC_GROUP":
                walk(arg, inside_repeat)
            elif name == "GROUPREF_EXISTS":
                walk(arg[1], inside_repeat)
                walk(arg[2] or [], inside_repeat)

    walk(sre_parse.parse(regex.pattern, regex.flags).data, False)


@pass_environment
def join(environment: Any, value: Any, separator: str = "", attribute: Any = None) -> str:
    items = list(value)
    if attribute is not None:
        items = [environment.getitem(item, attribute) for item in items]
    _ensure_room(size_of(items) + max(0, len(items) - 1) * len(str(separator)), "join")
    return str(separator).join(_text(item) for item in items)


def replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    text, old, new = _text(value), _text(old), _text(new)
    hits = text.count(old) if count is None else min(int(count), text.count(old))
    _ensure_room(len(text) + hits * max(0, len(new) - len(old)), "replace")
    return text.replace(old, new, -1 if count is None else int(count))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


# Jinja's own filters that neither pad to a width nor repeat their input.
_JINJA_FILTERS = [
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "first",
    "float",
    "int",
    "items",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "reverse",
    "round",
    "select",
    "selectattr",
    "sort",
    "string",
    "sum",
    "title",
    "trim",
    "unique",
    "upper",
]

_OWN_FILTERS: dict[str, Callable[..., Any]] = {
    "bool": ansible_bool,
    "ternary": ternary,
    "to_json": to_json,
    "regex_replace": regex_replace,
    "join": join,
    "replace": replace,
}


def _metered(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps Jinja's pass_environment / pass_context marks
    def metered(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        _charge(result)
        return result

    return metered


# -- calls and operators ---------------------------------------------------------------------------

_READ_ONLY_METHODS: tuple[tuple[type | tuple[type, ...], frozenset[str]], ...] = (
    (
        str,
        frozenset(
            [
                "lower",
                "upper",
                "strip",
                "lstrip",
                "rstrip",
                "startswith",
                "endswith",
                "split",
                "rsplit",
                "splitlines",
                "title",
                "capitalize",
                "find",
                "rfind",
                "count",
                "isdigit",
                "isalpha",
                "isalnum",
                "isspace",
                "islower",
                "isupper",
            ]
        ),
    ),
    (Mapping, frozenset({"get", "keys", "values", "items"})),
    ((list, tuple), frozenset({"index", "count"})),
)

_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


class PlaybookSandbox(ImmutableSandboxedEnvironment):
    """The environment every playbook expression runs in (no loader: nothing can be included)."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, undefined: type[Undefined] = StrictUndefined) -> None:
        super().__init__(undefined=undefined, autoescape=False, loader=None)
        self.filters = {name: _metered(FILTERS[name]) for name in _JINJA_FILTERS}
        self.filters.update({name: _metered(function) for name, function in _OWN_FILTERS.items()})
        # No cycler, joiner, namespace or lipsum. ``null`` is YAML's None, which playbooks wrote in
        # ``default(null)`` when defaults were YAML literals; Jinja itself spells it ``none``.
        self.globals = {"range": budgeted_range, "dict": dict, "null": None}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, MaskedSecret):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(__obj, Undefined):
            __obj._fail_with_undefined_error()
        if not (__obj is budgeted_range or __obj is dict or _read_only_method(__obj)):
            name = getattr(__obj, "__name__", type(__obj).__name__)
            raise SecurityError(f"calling {name} is not allowed")
        result = __context.call(__obj, *args, **kwargs)
        _charge(result)
        return result

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                    _ensure_room(size_of(sequence) * max(0, times), "'*'")
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            if right * max(1, abs(left).bit_length()) > MAX_INT_BITS:
                raise ExpressionRefused(f"'**' would make a number of more than {MAX_INT_BITS} bits")
        elif operator == "%" and isinstance(left, str):
            for width, precision in _PERCENT_FIELD.findall(left):
                if "*" in (width, precision) or int(width or 0) > 1000 or int(precision or 0) > 1000:
                    raise ExpressionRefused("'%' formatting takes widths of at most 1000")
        result = super().call_binop(context, operator, left, right)
        _charge(result)
        return result


def _read_only_method(obj: Any) -> bool:
    if not isinstance(obj, BuiltinMethodType | MethodType):
        return False
    owner = getattr(obj, "__self__", None)
    return any(isinstance(owner, kinds) and obj.__name__ in names for kinds, names in _READ_ONLY_METHODS)


def plain(value: Any) -> Any:
    """An expression's result as plain data: read-only mappings become dicts, generators lists."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | GeneratorType):
        return [plain(v) for v in value]
    return value
