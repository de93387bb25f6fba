# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""The one base class of the collection's action plugins.

Each plugin names its wsusauto operation and its argument spec; this class does the rest, the
same way for all of them:

- checks the task's arguments with Ansible's own argument spec validation (one clear error);
- templates the host's connection vars (``ansible_host``, ``ansible_port``, ``ansible_user``, the
  password vars, ``ansible_psrp_*``, ``wsus_busy_wait``, ``wsusauto_password_env``/``_file``) and
  only those, with ``-k``'s password as the fallback;
- runs the operation on the controller over wsusauto's own Session (opened and closed here), in
  check mode when the task is, with a diff when the task asks for one;
- returns the result wsusauto.ansible.results makes (unreachable as Ansible's unreachable).

Ansible's own connection to the host is never used: the psrp connection plugin connects lazily,
on a module's first command, and these plugins run none (``_requires_connection = False`` also
spares a persistent connection's start). Nothing is copied to the Windows server.
"""

from __future__ import annotations

import os
import sys
import typing as t

from ansible import context
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

try:
    from wsusauto.ansible.checkmode import CHECK_CHANGES
    from wsusauto.ansible.connection import connection_var_names, connection_warnings, host_from_vars
    from wsusauto.ansible.controller import prepare_controller
    from wsusauto.ansible.task import run_task
    from wsusauto.config.secrets import Secret, scrub
    from wsusauto.output.log import configure_logging
except ImportError as exc:  # ansible-test's import sanity, or a controller without the library
    WSUSAUTO_IMPORT_ERROR: ImportError | None = exc
else:
    WSUSAUTO_IMPORT_ERROR = None
    # Imported in the controller's main process before it forks a worker per task per host: what
    # a Session reads once per process is read here once, not in every worker.
    prepare_controller()

display = Display()

MISSING_LIBRARY = (
    "the collection wsusauto.wsus needs the Python package wsusauto on the Ansible controller (or in "
    "the execution environment): install the collection's requirements.txt with the Python that "
    "runs Ansible ({python} -m pip install -r requirements.txt); importing it failed: {error}"
)


class WsusAction(ActionBase):
    """Subclasses set ``operation`` (a wsusauto operation's name) and ``argument_spec`` (Ansible's
    argument spec, the same options as the module's DOCUMENTATION), and may override
    ``operation_args`` (validated task arguments -> the operation's arguments)."""

    operation: str = ""
    argument_spec: dict[str, dict[str, t.Any]] = {}
    # Ansible's rules across options, for validate_argument_spec (mutually_exclusive, required_if, ...).
    argument_rules: dict[str, list[t.Any]] = {}
    # The operation's arguments a task does not set (the plugin fills them in); every other argument
    # of the operation is an option of the plugin's (tests/ansible/test_plugin_specs.py).
    hidden_arguments: tuple[str, ...] = ()
    # Add the facts the operation read to the result (ansible_facts.wsus_facts).
    with_facts = False
    # Seconds one snippet may run before the host counts as not answering.
    deadline = 120.0

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def operation_args(self, args: dict[str, t.Any]) -> dict[str, t.Any]:
        """The operation's arguments from the validated task arguments (unset options left out)."""
        return args

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        super().run(tmp, task_vars)  # refuses async; check mode is supported
        del tmp
        if WSUSAUTO_IMPORT_ERROR is not None:
            missing = MISSING_LIBRARY.format(python=sys.executable, error=WSUSAUTO_IMPORT_ERROR)
            raise AnsibleActionFail(missing)
        _configure_logging()
        task_vars = task_vars or {}
        _validation, validated = self._validated_arguments()
        args = self.operation_args({k: v for k, v in validated.items() if v is not None})
        host_vars = task_vars
        if self._task.delegate_to:  # reach the host the task is delegated to, with its vars
            host_vars = task_vars.get("ansible_delegated_vars", {}).get(self._task.delegate_to, task_vars)
        name = self._task.delegate_to or task_vars.get("inventory_hostname", "")
        connection_vars = {n: self._templar.template(host_vars[n]) for n in connection_var_names(host_vars)}
        host = host_from_vars(str(name), connection_vars, self._play_context.password or None)
        result = self.run_on_host(args, host, task_vars)
        warnings = connection_warnings(host)  # as wsusauto's inventory warns (certificate validation off)
        if warnings:
            result["warnings"] = [*warnings, *result.get("warnings", ())]
        return result

    def _validated_arguments(self) -> tuple[t.Any, dict[str, t.Any]]:
        """Ansible's argument spec validation. Its error may quote a value given (an option's value
        in another option's place): a no_log option's value shows as ********, as a module's
        no_log values show nowhere in its output."""
        for name, rules in self.argument_spec.items():
            given = self._task.args.get(name)
            if rules.get("no_log") and isinstance(given, str) and given:
                secret(given)  # known to scrub from now on
        try:
            return self.validate_argument_spec(self.argument_spec, **self.argument_rules)
        except AnsibleActionFail as exc:
            raise AnsibleActionFail(scrub(exc.message), obj=self._task.args) from None

    def run_on_host(
        self, args: dict[str, t.Any], host: t.Any, task_vars: dict[str, t.Any]
    ) -> dict[str, t.Any]:
        """The task's result for ``host`` (wsusauto's ``Host``, from its connection vars) with the
        validated ``args``: by default the operation over a Session of the host's own. The fleet
        plugins override it, as they also read the play's other hosts (``task_vars['hostvars']``)."""
        return run_task(
            self.operation,
            args,
            host,
            check=bool(self._task.check_mode),
            diff=bool(self._task.diff),
            with_facts=self.with_facts,
            deadline=self.deadline,
            carried=(task_vars.get("ansible_facts") or {}).get(CHECK_CHANGES),
            # delegated: the facts Ansible keeps are the inventory host's, not the server's reached
            scope=None if self._task.delegate_to else self._check_scope(),
            # --check: a task with check_mode: false keeps what the earlier check-mode tasks planned
            check_run=bool(context.CLIARGS.get("check", False)),
        )

    def _check_scope(self) -> str:
        """This ansible-playbook run and play: the scope of the changes check mode carries from a
        host's task to its next (wsusauto.ansible.checkmode). A worker's parent is the
        ansible-playbook process (TaskExecutor passes os.getppid() to connections as its pid)."""
        play = self._task.get_play()
        return f"{os.getppid()}/{getattr(play, '_uuid', '')}"


def secret(value: t.Any) -> Secret:
    """A no_log option's value as wsusauto's Secret: it shows as ******** in any text wsusauto makes."""
    return Secret(str(value))


class _DisplayStream:
    """Where wsusauto's log lines go: Ansible's Display (a worker must not write to stderr itself),
    as warnings, or at -vvvv every line wsusauto logs (secrets redacted by its log set-up)."""

    def __init__(self, show: t.Callable[[str], t.Any]) -> None:
        self._show = show

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self._show(line)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:  # no colour codes in Ansible's output
        return False


def _configure_logging() -> None:
    if display.verbosity >= 4:
        configure_logging("console", "debug", stream=_DisplayStream(display.vvvv))
    else:
        configure_logging("console", "warning", stream=_DisplayStream(display.warning))
