"""The ``wsusauto`` command: a thin shell over the library.

User errors are one line on stderr and exit code 1 (nothing ran); ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click
import structlog

from wsusauto import exitcodes
from wsusauto.config.secrets import scrub
from wsusauto.errors import UsageError, WsusAutoError
from wsusauto.execution.verdict import exit_code_of_exception
from wsusauto.output.log import configure_logging


def _fail(message: str, code: int) -> None:
    click.echo(f"wsusauto: {scrub(message)}", err=True)
    sys.exit(code)


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected errors into one line and an Ansible-style exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return func(*args, **kwargs)
        except UsageError as exc:
            if debug:
                raise
            _fail(str(exc), exit_code_of_exception(exc))
        except WsusAutoError as exc:
            if debug:
                raise
            _fail(str(exc), exit_code_of_exception(exc))
        except KeyboardInterrupt as exc:
            from wsusauto.execution.interrupt import RunInterrupted

            if isinstance(exc, RunInterrupted):  # the run stopped and names the syncs it left running
                head, *syncs = exc.lines()
                click.echo(f"wsusauto: {head}", err=True)
                for line in syncs:  # one per synchronization left running
                    click.echo(line, err=True)
                sys.exit(exit_code_of_exception(exc))
            _fail("interrupted", exit_code_of_exception(exc))
        except Exception as exc:
            if debug:
                raise
            _fail(
                f"unexpected {type(exc).__name__}: {exc} (a bug; rerun with --debug for the traceback)",
                exit_code_of_exception(exc),
            )

    return wrapper


def _parse_extra_vars(values: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    extra: dict[str, Any] = {}
    for item in values:
        if item.startswith("@"):
            path = Path(item[1:])
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise UsageError(f"-e {item}: cannot read {path}: {exc}") from None
            if not isinstance(data, dict):
                raise UsageError(f"-e {item}: the file must hold a mapping of variables")
            extra.update(data)
            continue
        if "=" not in item:
            raise UsageError(f"-e {item!r}: write key=value, or @file.yml")
        key, _, value = item.partition("=")
        extra[key.strip()] = yaml.safe_load(value) if value else ""
    return extra


def _load_hosts(
    inventory_path: str, limit: str | None, extra_vars: tuple[str, ...] = ()
) -> tuple[Any, list[Any]]:
    """The inventory and the hosts ``limit`` selects; the inventory's warnings are logged and every
    selected host's connection vars are checked before any server is contacted."""
    from wsusauto.config.inventory import load_inventory

    inventory = load_inventory(inventory_path, _parse_extra_vars(extra_vars))
    for warning in inventory.warnings:
        structlog.get_logger("wsusauto").warning(warning)
    hosts = inventory.select(limit)
    for host in hosts:
        inventory.connection_options(host)
    return inventory, hosts


# Options several commands share, spelled as ansible-playbook spells them.
inventory_option = click.option(
    "-i",
    "--inventory",
    "inventory_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Ansible-style YAML inventory",
)
forks_option = click.option(
    "-f",
    "--forks",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="hosts worked on at the same time",
)
extra_vars_option = click.option(
    "-e", "--extra-vars", multiple=True, help="key=value or @file.yml; overrides inventory vars"
)
host_deadline_option = click.option(
    "--deadline",
    default=120.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="seconds one host may take",
)
snippet_deadline_option = click.option(
    "--deadline",
    default=300.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="seconds one snippet may take on one host",
)


def stagger_policy_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The stagger planner's policy, as plan-schedule and report take it (``k``, ``syncs_per_day``,
    ``offset``, ``default_duration``)."""
    for option in reversed(
        (
            click.option(
                "--max-concurrent-per-upstream", "k", default=1, show_default=True, type=click.IntRange(min=1)
            ),
            click.option("--syncs-per-day", default=1, show_default=True, type=click.IntRange(1, 24)),
            click.option(
                "--offset",
                default=30,
                show_default=True,
                type=click.IntRange(min=0),
                help="worst-case random start offset WSUS adds, minutes",
            ),
            click.option(
                "--default-duration",
                default=30,
                show_default=True,
                type=click.IntRange(min=1),
                help="minutes per sync for servers with no sync history",
            ),
        )
    ):
        command = option(command)
    return command


def journal_option(help_text: str) -> Callable[[Any], Any]:
    return click.option(
        "--journal", "journal_path", type=click.Path(dir_okay=False), default=None, help=help_text
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-format",
    type=click.Choice(["console", "json"]),
    default="console",
    show_default=True,
    help="console lines for people, JSON lines for machines (secrets are always redacted)",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
)
@click.option("--debug", is_flag=True, help="show tracebacks for errors")
@click.version_option(package_name="wsusauto")
def cli(log_format: str, log_level: str, debug: bool) -> None:
    """Automate fleets of WSUS servers over WinRM."""
    configure_logging(log_format, "debug" if debug else log_level)


@cli.command()
@inventory_option
@click.option("-l", "--limit", default=None, help="host pattern, as in Ansible (groups, globs, a:b, a:!b)")
@forks_option
@extra_vars_option
@host_deadline_option
@click.option("--json", "as_json", is_flag=True, help="print JSON: host -> status, facts, error")
@user_errors
def facts(
    inventory_path: str,
    limit: str | None,
    forks: int,
    extra_vars: tuple[str, ...],
    deadline: float,
    as_json: bool,
) -> None:
    """Read every server's state (update source, replica, schedule, last sync, services, ...)."""
    from wsusauto.execution.fleet import collect_facts
    from wsusauto.output.console import facts_json, print_facts_table

    inventory, hosts = _load_hosts(inventory_path, limit, extra_vars)
    results = collect_facts(inventory, hosts, forks=forks, deadline=deadline)
    if as_json:
        click.echo(facts_json(results))
    else:
        print_facts_table(results)
    sys.exit(results.exit_code)


@cli.command()
@click.argument("playbook_path", metavar="PLAYBOOK", type=click.Path(dir_okay=False))
@inventory_option
@click.option("-l", "--limit", default=None, help="further limit the plays' hosts (an Ansible host pattern)")
@click.option("-C", "--check", is_flag=True, help="report what would change; change nothing")
@click.option("-D", "--diff", "show_diff", is_flag=True, help="show each change's before and after")
@forks_option
@extra_vars_option
@click.option("--json", "as_json", is_flag=True, help="print one JSON document: hosts -> task results, recap")
@journal_option("append a JSON-lines record of every change to this file (flushed as it happens)")
@snippet_deadline_option
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help="client processes to spread hosts over (default: one per 150 hosts, at most one per CPU)",
)
@user_errors
def run(
    playbook_path: str,
    inventory_path: str,
    limit: str | None,
    check: bool,
    show_diff: bool,
    forks: int,
    extra_vars: tuple[str, ...],
    as_json: bool,
    journal_path: str | None,
    deadline: float,
    processes: int | None,
) -> None:
    """Run a playbook over an inventory, Ansible-style (exit 0 ok, 2 failed, 4 unreachable, 1 bad input)."""
    import json as json_module
    import uuid

    from wsusauto.config.inventory import load_inventory
    from wsusauto.config.playbook import load_playbook
    from wsusauto.execution.interrupt import RunInterrupted
    from wsusauto.execution.runner import Runner
    from wsusauto.output.console import RunPrinter
    from wsusauto.output.journal import Journal

    inventory = load_inventory(inventory_path, _parse_extra_vars(extra_vars))
    for warning in inventory.warnings:
        structlog.get_logger("wsusauto").warning(warning)
    playbook = load_playbook(playbook_path)
    journal = Journal(journal_path, uuid.uuid4().hex[:12]) if journal_path else None
    total = sum(len(inventory.select(p.hosts)) * len(p.tasks) for p in playbook.plays)
    printer = None if as_json else RunPrinter(show_diff=show_diff, total=total)
    runner = Runner(
        inventory,
        playbook,
        limit=limit,
        forks=forks,
        check=check,
        journal=journal,
        deadline=deadline,
        on_result=printer.result if printer else None,
        on_play=printer.play if printer else None,
        processes=processes,
    )
    try:
        result = runner.run()
    except RunInterrupted as stop:  # what had finished, then the stop's lines (user_errors): exit 99
        if printer is not None:
            printer.recap(stop.result)
        else:
            click.echo(json_module.dumps(stop.result.document(), indent=2, default=str))
        raise
    finally:
        if journal is not None:
            journal.close()
    if printer is not None:
        printer.recap(result)
    else:
        click.echo(json_module.dumps(result.document(), indent=2, default=str))
    sys.exit(result.exit_code)


@cli.command("plan-schedule")
@inventory_option
@click.option("-l", "--limit", default=None, help="host pattern, as in Ansible")
@click.option("--window", default="22:00-05:00", show_default=True, help="when syncs may run, HH:MM-HH:MM")
@click.option(
    "--tz", "zone", default="UTC", show_default=True, help="IANA zone of --window and the local column"
)
@stagger_policy_options
@forks_option
@extra_vars_option
@host_deadline_option
@click.option(
    "--json", "as_json", is_flag=True, help="print the plan as JSON: one slot per host, with its status"
)
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False), default=None, help="write a timeline SVG")
@user_errors
def plan_schedule(
    inventory_path: str,
    limit: str | None,
    window: str,
    zone: str,
    k: int,
    syncs_per_day: int,
    offset: int,
    default_duration: int,
    forks: int,
    extra_vars: tuple[str, ...],
    deadline: float,
    as_json: bool,
    svg_path: str | None,
) -> None:
    """Plan synchronization times that never overload an upstream, even in the worst case (a host
    whose facts could not be read is planned with the default duration; exit codes as every command's:
    2 a host failed, 4 a host was unreachable, after printing the plan)."""
    import json as json_module

    from wsusauto.execution.fleet import collect_facts
    from wsusauto.output.console import print_plan_table
    from wsusauto.stagger.fleet import schedule_collisions, servers_from_facts, svg_timeline
    from wsusauto.stagger.planner import StaggerPolicy, plan
    from wsusauto.stagger.planner import window as parse_window

    inventory, hosts = _load_hosts(inventory_path, limit, extra_vars)
    start, length = parse_window(window, zone)
    policy = StaggerPolicy(
        window_start=int(start),
        window_length=length,
        syncs_per_day=syncs_per_day,
        max_concurrent=k,
        offset=float(offset),
    )
    results = collect_facts(inventory, hosts, forks=forks, deadline=deadline)
    facts = {r.host: r.facts for r in results if r.facts is not None}
    upstreams = {h.name: h.upstream for h in hosts}
    servers = servers_from_facts(upstreams, facts, float(default_duration))
    collisions = schedule_collisions(servers, facts, policy)
    result = plan(servers, policy)
    log = structlog.get_logger("wsusauto")
    for r in results:
        if r.facts is None:
            log.warning(
                "no facts; planned with the default duration",
                host=r.host,
                status=r.status,
                error=str(r.error),
            )
    for collision in collisions:
        click.echo(
            f"finding: current schedules can make {collision.upstream} serve {collision.peak} syncs at once "
            f"(more than {k}): {', '.join(collision.servers)}",
            err=True,
        )
    if svg_path:
        Path(svg_path).write_text(
            svg_timeline(result, {s.name: s.duration for s in servers}), encoding="utf-8"
        )
    read = {r.host: r for r in results}
    if as_json:
        click.echo(
            json_module.dumps(
                [
                    {
                        "host": s.host,
                        "upstream": s.upstream,
                        "time_of_day_utc": s.time_of_day_utc.strftime("%H:%M:%S"),
                        "syncs_per_day": s.syncs_per_day,
                        # the host's verdict (as facts'): a host not read is planned with the default
                        "status": read[s.host].status,
                        "error": str(read[s.host].error) if read[s.host].error is not None else None,
                    }
                    for s in result.slots
                ],
                indent=2,
            )
        )
    else:
        print_plan_table(result, zone)
    sys.exit(results.exit_code)


@cli.command()
@inventory_option
@click.option("-l", "--limit", default=None, help="host pattern, as in Ansible (groups, globs, a:b, a:!b)")
@forks_option
@extra_vars_option
@click.option(
    "--json", "as_json", is_flag=True, help="print JSON: host -> findings (check, severity, evidence, remedy)"
)
@click.option("--fix", is_flag=True, help="apply the documented fixes the findings name, then diagnose again")
@click.option(
    "-C", "--check", is_flag=True, help="with --fix: report what the fixes would change; change nothing"
)
@journal_option("with --fix: append a JSON-lines record of every fix to this file")
@click.option(
    "--max-concurrent-per-upstream",
    "k",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="syncs one upstream may serve at once: schedule-collisions checks it, --fix's syncs keep to it",
)
@click.option(
    "--poll-interval",
    default="30s",
    show_default=True,
    help="with --fix: how often the synchronization after a repair is polled",
)
@snippet_deadline_option
@user_errors
def diagnose(
    inventory_path: str,
    limit: str | None,
    forks: int,
    extra_vars: tuple[str, ...],
    as_json: bool,
    fix: bool,
    check: bool,
    journal_path: str | None,
    k: int,
    poll_interval: str,
    deadline: float,
) -> None:
    """Run the documented troubleshooting checks on every server (exit 0 clean, 2 findings, 4 unreachable)."""
    import json as json_module
    import uuid

    from wsusauto.diagnose import diagnose_fleet, document, fix_fleet, verdicts_with_fixes
    from wsusauto.execution.executor import HostExecutor, default_processes
    from wsusauto.execution.interrupt import RunInterrupted, naming_syncs_left_running
    from wsusauto.execution.verdict import exit_code
    from wsusauto.operations.synchronize import parse_duration
    from wsusauto.output.console import print_diagnosis
    from wsusauto.output.journal import Journal

    if check and not fix:
        raise UsageError("--check goes with --fix (diagnose alone never changes anything)")
    try:
        parse_duration(poll_interval)
    except ValueError as exc:
        raise UsageError(f"--poll-interval: {exc}") from None
    inventory, hosts = _load_hosts(inventory_path, limit, extra_vars)
    journal = Journal(journal_path, uuid.uuid4().hex[:12]) if fix and journal_path else None
    fixes = None
    try:
        # One executor for the whole command: the fixes and the second diagnosis reuse the first
        # diagnosis' Sessions, and a host found unreachable is not tried again. A fix synchronizes:
        # Ctrl+C names the syncs it leaves running.
        with (
            naming_syncs_left_running(journal) as syncs,
            HostExecutor(
                inventory,
                forks=min(forks, max(1, len(hosts))),
                processes=default_processes(len(hosts)),  # for the hosts asked, not the inventory
                deadline=deadline,
                journal=journal,
                on_record=syncs.on_record,
            ) as executor,
        ):
            diagnosis = diagnose_fleet(inventory, hosts, executor=executor, max_concurrent_per_upstream=k)
            result = diagnosis
            if fix:
                fixes = fix_fleet(
                    inventory,
                    diagnosis,
                    executor=executor,
                    check=check,
                    arguments={"poll_interval": poll_interval},
                    max_concurrent_per_upstream=k,
                )
                if not check:
                    result = diagnose_fleet(
                        inventory, hosts, executor=executor, max_concurrent_per_upstream=k
                    )
    except RunInterrupted as stop:
        if as_json:
            click.echo(json_module.dumps({"interrupted": stop.journal_fields()}, indent=2, default=str))
        raise
    finally:
        if journal is not None:
            journal.close()
    doc = document(result, fixes, before=diagnosis if fixes is not None and not check else None)
    if as_json:
        click.echo(json_module.dumps(doc, indent=2, default=str))
    else:
        print_diagnosis(doc)
    sys.exit(result.exit_code if fixes is None else exit_code(verdicts_with_fixes(result, fixes).values()))


@cli.command()
@inventory_option
@click.option("-l", "--limit", default=None, help="host pattern, as in Ansible")
@click.option(
    "--html", "html_path", type=click.Path(dir_okay=False), default=None, help="write the HTML report here"
)
@click.option("--json", "as_json", is_flag=True, help="print the report's data as one JSON document")
@click.option(
    "--tz",
    "zone",
    default=None,
    help="IANA zone of the local times and of --window (default: this machine's zone, else UTC)",
)
@click.option("--window", default="22:00-05:00", show_default=True, help="stagger plan: when syncs may run")
@stagger_policy_options
@forks_option
@extra_vars_option
@host_deadline_option
@user_errors
def report(
    inventory_path: str,
    limit: str | None,
    html_path: str | None,
    as_json: bool,
    zone: str | None,
    window: str,
    k: int,
    syncs_per_day: int,
    offset: int,
    default_duration: int,
    forks: int,
    extra_vars: tuple[str, ...],
    deadline: float,
) -> None:
    """The fleet report: one self-contained HTML file (hierarchy, schedules, last syncs, findings, the
    stagger timeline); --json prints the same data (exit 0, 2 a host failed, 4 a host was unreachable)."""
    from wsusauto.output.html import (
        gather_fleet_report,
        local_zone_name,
        report_json,
        write_report,
        zone_info,
    )
    from wsusauto.stagger.planner import StaggerPolicy
    from wsusauto.stagger.planner import window as parse_window

    if not html_path and not as_json:
        raise UsageError("say where the report goes: --html FILE, and/or --json for its data on stdout")
    zone = zone or local_zone_name()
    zone_info(zone)  # a bad --tz or --window is one line, before anything else
    start, length = parse_window(window, zone)
    inventory, hosts = _load_hosts(inventory_path, limit, extra_vars)
    policy = StaggerPolicy(
        window_start=int(start),
        window_length=length,
        syncs_per_day=syncs_per_day,
        max_concurrent=k,
        offset=float(offset),
    )
    fleet_report = gather_fleet_report(
        inventory,
        hosts,
        zone=zone,
        policy=policy,
        default_duration=default_duration,
        forks=forks,
        deadline=deadline,
    )
    if html_path:
        path = write_report(fleet_report, html_path)
        click.echo(f"report written: {path.resolve()}", err=as_json)
    if as_json:
        click.echo(report_json(fleet_report))
    sys.exit(fleet_report.exit_code)


@cli.group()
def lab() -> None:
    """The lab: simulated WSUS servers behind real WinRM endpoints on 127.0.0.0/8."""


@lab.command("serve")
@click.option(
    "--topology",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="YAML topology (default: 1 root, 3 regional, 12 branch servers)",
)
@click.option(
    "--inventory-out",
    type=click.Path(dir_okay=False),
    default=None,
    help="write an Ansible-style inventory for the lab here",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default="lab-state",
    show_default=True,
    help="where each server's SUSDB and the lab's certificates live (kept across restarts)",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="server processes to shard endpoints across (default: one per 100 endpoints, at most CPUs)",
)
@click.option(
    "--first-address",
    default="127.0.10.1",
    show_default=True,
    help="address of the first server; the others follow it",
)
@click.option(
    "--auth",
    type=click.Choice(["ntlm", "negotiate", "basic", "kerberos"]),
    default="ntlm",
    show_default=True,
    help="authentication the written inventory uses (kerberos: implies --kerberos)",
)
@click.option(
    "--kerberos",
    is_flag=True,
    help="also run a Kerberos realm (MIT's KDC on the first server's address) the servers accept",
)
@click.option(
    "--krb5-conf-out",
    type=click.Path(dir_okay=False),
    default=None,
    help="write the realm's krb5.conf here (for KRB5_CONFIG; implies --kerberos)",
)
@click.option(
    "--protocol",
    type=click.Choice(["http", "https"]),
    default="http",
    show_default=True,
    help="protocol the written inventory uses (NTLM over http is encrypted)",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="run the lab's clock this many times faster (sync durations and schedules)",
)
@user_errors
def lab_serve(
    topology: str | None,
    inventory_out: str | None,
    state_dir: str,
    workers: int | None,
    first_address: str,
    auth: str,
    kerberos: bool,
    krb5_conf_out: str | None,
    protocol: str,
    time_scale: float,
) -> None:
    """Serve the lab until SIGINT/SIGTERM; prints a line starting with 'ready' when every endpoint listens."""
    from wsusauto.lab.serve import serve_forever

    serve_forever(
        topology_path=topology,
        state_dir=Path(state_dir),
        inventory_out=inventory_out,
        workers=workers,
        first_address=first_address,
        auth=auth,
        protocol=protocol,
        time_scale=time_scale,
        kerberos=kerberos or auth == "kerberos" or krb5_conf_out is not None,
        krb5_conf_out=krb5_conf_out,
    )


def main(argv: list[str] | None = None) -> None:
    """Console entry point. Click's own usage errors exit 2, which Ansible reserves for a failed host,
    so they are reported here with exit code 1 instead."""
    try:
        cli.main(args=argv, prog_name="wsusauto", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exitcodes.USAGE)
    except click.Abort:
        click.echo("wsusauto: interrupted", err=True)
        sys.exit(exitcodes.INTERRUPTED)


if __name__ == "__main__":  # pragma: no cover
    main()
