"""Playbook expressions: Jinja2 in its immutable sandbox, with StrictUndefined.

- Task arguments: a string that is one ``{{ expression }}`` keeps the expression's type (a port
  stays an int, a list stays a list); ``{{ }}`` inside longer text is substituted as text.
  Values are data: a value that itself contains ``{{ }}`` is not expanded again.
- ``when:``: any Jinja expression, or a list of them (all must hold). As the playbooks here always
  allowed, a variable that is not defined counts as false when it is only tested for truth
  (``when: flag``, ``when: not flag``); any other use of it is the usual undefined-variable error.
  Ansible errors even on ``when: flag``: this difference is deliberate, so that the shipped
  set-update-source.yml (``when: use_microsoft_update``, the variable often left out) runs unchanged.
- Statements (``{% if %}``, ``{% for %}``, ``{% set %}``...) are refused, and with them
  ``include``/``import``/``extends``: there are no template files to load. What else an expression
  may do is in :mod:`wsusauto.config.expression_sandbox`.

Every refusal is one line naming the play, task and host (the ``where`` given), raised while the
run is being prepared, before any server is contacted.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined, UndefinedError, nodes
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser

from wsusauto.config.expression_sandbox import (
    ExpressionRefused,
    MaskedSecret,
    PlaybookSandbox,
    SecretRefused,
    end_budget,
    plain,
    start_budget,
)
from wsusauto.errors import UsageError

MAX_NODES = 300  # parts (names, operators, filters, literals) in one expression or text
_TEMPLATE_MARKS = ("{{", "{%")
_LOADING = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


class _Undefined(StrictUndefined):
    """StrictUndefined whose message names ``hostvars[...]`` instead of a Python class."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        label = getattr(self._undefined_obj, "label", None)
        if not self._undefined_hint and isinstance(label, str):
            return f"{label} has no {self._undefined_name!r}"
        return super()._undefined_message


class _FalseWhenTested(_Undefined):
    """In ``when:``, an undefined variable tested for truth is false (and anything else an error)."""

    __slots__ = ()

    # StrictUndefined's __bool__ always raises (typed as returning Never); this one answers False.
    def __bool__(self) -> bool:  # type: ignore[override]
        if self._undefined_hint:  # not a missing variable but a refusal (an unsafe attribute)
            self._fail_with_undefined_error()
        return False


_ARGUMENTS = PlaybookSandbox(undefined=_Undefined)
_CONDITIONS = PlaybookSandbox(undefined=_FalseWhenTested)


@dataclass(frozen=True)
class _Compiled:
    text: str
    evaluate: Callable[[Mapping[str, Any]], Any]
    whole: bool  # one expression: its value keeps its type
    condition: bool = False  # a when: (an undefined result is false there)


def render(value: Any, variables: Mapping[str, Any], where: str) -> Any:
    """Resolve expressions in strings, recursively through lists and mappings (keys stay as they are)."""
    if isinstance(value, str):
        if not any(mark in value for mark in _TEMPLATE_MARKS):
            return value
        compiled = _compile_text(value)
        return _run(compiled, variables, where)
    if isinstance(value, Mapping):
        return {k: render(v, variables, where) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables, where) for v in value]
    return value


def render_arguments(
    args: Mapping[str, Any], variables: Mapping[str, Any], where: str, secret_arguments: Collection[str] = ()
) -> dict[str, Any]:
    """A task's arguments rendered; a secret variable is accepted only whole, as the value of one of
    ``secret_arguments`` (it arrives there as the :class:`~wsusauto.config.secrets.Secret` itself)."""
    rendered: dict[str, Any] = render(dict(args), variables, where)
    for name, value in rendered.items():
        if isinstance(value, MaskedSecret) and name in secret_arguments:
            rendered[name] = value.secret
            continue
        leaked = _find_secret(value)
        if leaked is not None:
            raise UsageError(f"{where}: argument {name}: {SecretRefused(leaked.name)}")
    return rendered


def _find_secret(value: Any) -> MaskedSecret | None:
    if isinstance(value, MaskedSecret):
        return value
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, list) else ()
    for item in items:
        found = _find_secret(item)
        if found is not None:
            return found
    return None


def condition_holds(condition: Any, variables: Mapping[str, Any], where: str) -> bool:
    if condition is None:
        return True
    conditions = condition if isinstance(condition, list) else [condition]
    for item in conditions:
        if isinstance(item, bool):
            holds = item
        elif isinstance(item, str) and item.strip():
            holds = _run(_compile_condition(item.strip()), variables, where)
        else:
            raise UsageError(f"{where}: when: takes an expression or a list of them, not {item!r}")
        if not holds:
            return False
    return True


def check_expressions(value: Any, where: str, *, condition: bool = False) -> None:
    """Refuse, when the playbook is read, what no host could evaluate: bad syntax, an unknown filter
    or test, a statement (``include`` among them). What depends on a host's variables waits."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if condition and isinstance(item, str) and item.strip():
            compiled = _compile_condition(item.strip())
        elif not condition and isinstance(item, str) and any(mark in item for mark in _TEMPLATE_MARKS):
            compiled = _compile_text(item)
        elif isinstance(item, Mapping | list) and not condition:
            for inner in item.values() if isinstance(item, Mapping) else item:
                check_expressions(inner, where)
            continue
        else:
            continue
        if isinstance(compiled, str):
            raise UsageError(f"{where}: {compiled}")


def _truthy(value: Any) -> bool:
    # A condition that comes out as text follows Ansible's words for false.
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "off", "0")
    return bool(value)


# -- compiling (cached: a playbook's strings are the same for every host) ---------------------------


def _own_budget(compile_text: Callable[[str], _Compiled | str]) -> Callable[[str], _Compiled | str]:
    """Compiling folds constant filters (``{{ 'a' | upper }}``) by running them: they spend a budget
    of this one expression's, not one that would outlive it and fill up across playbooks."""

    @functools.wraps(compile_text)
    def compile_within_budget(text: str) -> _Compiled | str:
        token = start_budget()
        try:
            return compile_text(text)
        finally:
            end_budget(token)

    return compile_within_budget


@functools.lru_cache(maxsize=2048)
@_own_budget
def _compile_text(text: str) -> _Compiled | str:
    try:
        template = _ARGUMENTS.parse(text)
        problem = _refusal(template, repr(text))
        if problem:
            return problem
        # _refusal let through templates of output alone: every part of the body is an Output
        outputs = [n for o in template.body if isinstance(o, nodes.Output) for n in o.nodes if not _blank(n)]
        if len(outputs) == 1 and not isinstance(outputs[0], nodes.TemplateData):
            return _Compiled(text, _expression(_ARGUMENTS, outputs[0]), whole=True)
        return _Compiled(text, _ARGUMENTS.from_string(template).render, whole=False)
    except TemplateSyntaxError as exc:  # also an unknown filter or test, found while compiling
        return f"{text!r} is not a valid expression: {_syntax(exc)}"
    except RecursionError:
        return f"{text!r} is nested too deeply"


@functools.lru_cache(maxsize=1024)
@_own_budget
def _compile_condition(text: str) -> _Compiled | str:
    if any(mark in text for mark in _TEMPLATE_MARKS):
        return f"when: {text!r}: when: is already an expression; write it without {{{{ }}}} or {{% %}}"
    try:
        parser = Parser(_CONDITIONS, text, state="variable")
        expression = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("unexpected text after the expression", parser.stream.current.lineno)
        expression.set_environment(_CONDITIONS)
        problem = _refusal(expression, f"when: {text!r}")
        compiled = _expression(_CONDITIONS, expression)
        return problem or _Compiled(f"when: {text}", compiled, whole=True, condition=True)
    except TemplateSyntaxError as exc:
        return f"when: {text!r} is not a valid expression: {_syntax(exc)}"
    except RecursionError:
        return f"when: {text!r} is nested too deeply"


def _syntax(exc: TemplateSyntaxError) -> str:
    message = " ".join(str(exc.message or exc).split()).rstrip(".")
    if message.startswith(("No filter named", "No test named")):
        kind, known = ("filter", _ARGUMENTS.filters) if "filter" in message else ("test", _ARGUMENTS.tests)
        message += f"; playbooks have the {kind}s {', '.join(sorted(known))}"
    return message


def _blank(node: nodes.Node) -> bool:
    return isinstance(node, nodes.TemplateData) and not node.data.strip()


def _refusal(tree: nodes.Node, text: str) -> str:
    """Why a parsed expression is refused before it runs ("" when it is not)."""
    for _ in tree.find_all(_LOADING):
        return (
            f"{text}: include, import and extends are not available: playbook expressions "
            "have no template files to load"
        )
    if isinstance(tree, nodes.Template) and not all(isinstance(n, nodes.Output) for n in tree.body):
        return (
            f"{text}: statements ({{% ... %}}) are not supported in playbooks; use an expression, "
            "such as {{ a if condition else b }}"
        )
    if sum(1 for _ in tree.find_all(nodes.Node)) > MAX_NODES:
        return f"{text}: the expression is too long (more than {MAX_NODES} parts)"
    return ""


def _expression(environment: PlaybookSandbox, expression: nodes.Node) -> Callable[[Mapping[str, Any]], Any]:
    # Environment.compile_expression's own construction, from an expression already parsed.
    body = [nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)]
    return TemplateExpression(environment.from_string(nodes.Template(body, lineno=1)), False)


# -- running --------------------------------------------------------------------------------------


def _run(compiled: _Compiled | str, variables: Mapping[str, Any], where: str) -> Any:
    if isinstance(compiled, str):
        raise UsageError(f"{where}: {compiled}")
    token = start_budget()
    try:
        result = compiled.evaluate(variables)
        if compiled.condition:
            return _truthy(result)
        if isinstance(result, Undefined):
            result._fail_with_undefined_error()
        return plain(result) if compiled.whole else result
    except UndefinedError as exc:
        raise UsageError(f"{where}: {_undefined(exc, compiled.text)}") from None
    except SecurityError as exc:
        raise UsageError(f"{where}: {compiled.text!r} is refused: {_security(exc)}") from None
    except ExpressionRefused as exc:
        raise UsageError(f"{where}: {compiled.text!r} is refused: {exc}") from None
    except RecursionError:
        raise UsageError(f"{where}: {compiled.text!r} is refused: it nests too deeply") from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(f"{where}: {compiled.text!r} failed: {reason}") from None
    finally:
        end_budget(token)


_NOT_DEFINED = re.compile(r"^'([A-Za-z_][A-Za-z0-9_]*)' is undefined$")
_UNSAFE = re.compile(r"access to attribute '(.*)' of '(.*)' object is unsafe\.?")


def _undefined(exc: UndefinedError, text: str) -> str:
    message = " ".join(str(exc).split())
    named = _NOT_DEFINED.match(message)
    if named:
        return (
            f"variable {named[1]!r} is not defined for this host (give it in the inventory, with -e, "
            "in the play's vars, or use | default(...))"
        )
    return f"{text!r}: {message} (use | default(...) where it may be missing)"


def _security(exc: SecurityError) -> str:
    message = " ".join(str(exc).split())
    unsafe = _UNSAFE.match(message)
    if unsafe:
        return (
            f"{unsafe[1]!r} of a {unsafe[2]} is out of reach (names starting with _, Python internals "
            "and methods that change a value are not available in playbooks)"
        )
    return message
