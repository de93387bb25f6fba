"""The collection through real ansible-playbook (ansible-core in its own venv, the collection built and
installed from its tarball, the wsusauto wheel) against the lab, over the inventory made for psrp:

- the hierarchy designated (the collection's designate_hierarchy), a second run 0 changed;
- ``--check --diff`` shows the same changes, host by host and member by member, as
  ``wsusauto run --check --diff`` with playbooks/designate-replicas.yml on the same fleet;
- a host down is UNREACHABLE in the recap while the others finish;
- the proxy password appears nowhere in the output, even with -vvvv, also when the task fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.lab_fixtures import inventory_file, run_cli
from wsusauto.lab.wsman.endpoint import EndpointFaults

ROOT = Path(__file__).resolve().parents[2]
TREE = {
    "servers": [
        {"name": "wsus-root"},
        {"name": "wsus-eu", "upstream": "wsus-root"},
        {"name": "wsus-us", "upstream": "wsus-root"},
        {"name": "wsus-eu-1", "upstream": "wsus-eu", "replica": True},
        {"name": "wsus-us-1", "upstream": "wsus-us", "replica": True},
    ]
}
HOSTS = [s["name"] for s in TREE["servers"]]
DESIGNATE = "wsusauto.wsus.designate_hierarchy"  # the collection's playbook, by its name
Changes = set[tuple[str, str, str, str]]  # host, member, before, after (values as JSON text)


def counts(run: Any, host: str) -> dict[str, int]:
    assert host in run.recap, run
    return run.recap[host]


def facts_by_host(inventory: Path) -> dict[str, dict[str, Any]]:
    """The servers' state as wsusauto reads it (``wsusauto facts --json``), independent of Ansible."""
    done = run_cli("facts", "-i", str(inventory), "--json")
    assert done.returncode == 0, done.stderr
    return {host: entry["facts"] for host, entry in json.loads(done.stdout).items()}


# -- the two tools' --check --diff output, as sets of changes -------------------------------------

_ANSIBLE_DIFF_LINE = re.compile(r'^([-+])\s+"([^"]+)": (.*?),?$')
_ANSIBLE_STATUS = re.compile(r"^(changed|ok|fatal|skipping): \[([^\]]+)\]")


def ansible_changes(stdout: str) -> Changes:
    """Ansible's default output with --diff: each changed host's diff (a unified diff of the before
    and after JSON documents) is printed just before its ``changed: [host]`` line."""
    found: Changes = set()
    pending: dict[str, dict[str, Any]] = {}
    for line in stdout.splitlines():
        if line.startswith("TASK ["):
            pending = {}
        elif match := _ANSIBLE_DIFF_LINE.match(line):
            sign, member, value = match.groups()
            pending.setdefault(member, {})["before" if sign == "-" else "after"] = json.loads(value)
        elif match := _ANSIBLE_STATUS.match(line):
            if match[1] == "changed":
                for member, sides in pending.items():
                    found.add(
                        (match[2], member, json.dumps(sides.get("before")), json.dumps(sides.get("after")))
                    )
            pending = {}
    return found


_WSUSAUTO_STATUS = re.compile(r"^(changed|ok|failed|unreachable|skipped|ignored): \[([^\]]+)\]")
_WSUSAUTO_DIFF_LINE = re.compile(r"^  ([-+]) ([^:]+): ?(.*)$")


def _shown(text: str) -> Any:
    """wsusauto's console shows a string as it is and any other value as JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def wsusauto_changes(stdout: str) -> Changes:
    """``wsusauto run --diff``: after a host's ``changed: [host] ...`` line, ``  - Member: before``
    and ``  + Member: after`` for each change."""
    found: Changes = set()
    host, sides = None, {}
    for line in [*stdout.splitlines(), "ok: [end]"]:
        if match := _WSUSAUTO_STATUS.match(line):
            for member, values in sides.items():
                found.add((host, member, json.dumps(values.get("before")), json.dumps(values.get("after"))))
            host, sides = (match[2] if match[1] == "changed" else None), {}
        elif host is not None and (match := _WSUSAUTO_DIFF_LINE.match(line)):
            sign, member, value = match.groups()
            sides.setdefault(member, {})["before" if sign == "-" else "after"] = _shown(value)
    return found


# -- the tests ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_check_diff_shows_what_wsusauto_run_shows_then_the_hierarchy_is_designated_once(
    ansible_each, make_lab
):
    lab = make_lab(TREE)
    inventory = inventory_file(lab)

    checked = ansible_each.playbook(inventory, DESIGNATE, "--check", "--diff")
    assert checked.rc == 0, checked
    cli = run_cli(
        "run", str(ROOT / "playbooks" / "designate-replicas.yml"), "-i", str(inventory), "--check", "--diff"
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    planned = ansible_changes(checked.stdout)
    assert planned == wsusauto_changes(cli.stdout), (checked, cli.stdout)
    # every server below the root points at its upstream; the replicas, planned on that, become replicas
    assert {(h, m) for h, m, _, _ in planned} == {
        *((h, m) for h in HOSTS[1:] for m in ("SyncFromMicrosoftUpdate", "UpstreamWsusServerName")),
        ("wsus-eu-1", "IsReplicaServer"),
        ("wsus-us-1", "IsReplicaServer"),
    }
    assert all(
        counts(checked, h)["changed"] == (0 if h == "wsus-root" else 2 if "-1" in h else 1) for h in HOSTS
    )
    before = facts_by_host(inventory)
    assert all(before[h]["sync_from_microsoft_update"] for h in HOSTS), "check mode changed a server"

    designated = ansible_each.playbook(inventory, DESIGNATE)
    assert designated.rc == 0, designated
    assert sum(c["changed"] for c in designated.recap.values()) == 6, designated
    after = facts_by_host(inventory)
    for server in TREE["servers"]:
        facts = after[server["name"]]
        assert facts["sync_from_microsoft_update"] is ("upstream" not in server)
        assert facts["upstream_wsus_server_name"] == server.get("upstream", "")
        assert facts["is_replica_server"] is server.get("replica", False)

    again = ansible_each.playbook(inventory, DESIGNATE, "--diff")
    assert again.rc == 0, again
    assert {h: c["changed"] for h, c in again.recap.items()} == dict.fromkeys(HOSTS, 0), again
    assert ansible_changes(again.stdout) == set()


PROXY_PASSWORD = "Prx-Pw-Z9q4-never-shown"


def proxy_task(**more: Any) -> dict[str, Any]:
    return {
        "name": "authenticated proxy",
        "wsusauto.wsus.wsus_proxy": {
            "enabled": True,
            "name": "proxy.corp.example",
            "port": 3128,
            "anonymous": False,
            "user": "svc-wsus",
            "domain": "CORP",
            "password": "{{ lookup('ansible.builtin.env', 'WSUS_PROXY_PASSWORD') }}",
            **more,
        },
    }


@pytest.mark.slow
def test_the_proxy_password_appears_nowhere_even_with_vvvv_also_when_tasks_fail(ansible_each, make_lab):
    lab = make_lab({"servers": [{"name": "wsus-root"}, {"name": "wsus-eu"}]})
    inventory = inventory_file(lab)
    # wsus-eu: the pipeline that sets the password runs, its answer is lost (the task fails, unreachable)
    lab.set_faults("wsus-eu", EndpointFaults(reset_on_receive=1, reset_match="SetProxyPassword"))
    plays = [
        {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {**proxy_task(), "ignore_unreachable": True},
                # refused by wsusauto's own checks, with the password given
                {**proxy_task(port=99999), "ignore_errors": True},
                # refused by Ansible's argument spec, with the password given
                {**proxy_task(colour="blue"), "ignore_errors": True},
                # a second run on wsus-root sends the password again (update_password: always)
                {**proxy_task(update_password="always"), "ignore_unreachable": True},
            ],
        }
    ]
    run = ansible_each.playbook(
        inventory, plays, "-vvvv", "--diff", env={"WSUS_PROXY_PASSWORD": PROXY_PASSWORD}
    )
    output = run.stdout + run.stderr
    assert PROXY_PASSWORD not in output
    # wsusauto's debug lines reach -vvvv through Ansible's display, not written past it by a worker
    assert "session opened" in output and "errantly sent data directly to stderr" not in output
    assert counts(run, "wsus-root")["changed"] == 2, run  # the password was really set, twice
    assert counts(run, "wsus-root")["ignored"] == 2, run  # both refusals ran and failed
    # wsus-eu: the first task unreachable (ignore_unreachable counts it ignored), the refusals ignored
    assert "fatal: [wsus-eu]: UNREACHABLE!" in run.stdout
    assert counts(run, "wsus-eu")["ignored"] == 3 and counts(run, "wsus-eu")["changed"] == 1, run
    assert '"ProxyPassword": "(set)"' in run.stdout  # the diff says so, and only so
    assert "a TCP port is 1 to 65535" in run.stdout and "colour" in run.stdout
    assert facts_by_host(inventory)["wsus-root"]["has_proxy_password"] is True


def test_a_host_down_is_unreachable_and_the_others_finish(ansible_each, make_lab):
    lab = make_lab({"servers": [{"name": "wsus-root"}, {"name": "wsus-eu"}, {"name": "wsus-us"}]})
    inventory = inventory_file(lab)
    lab.set_faults("wsus-eu", EndpointFaults(down=True))
    plays = [
        {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {"name": "facts", "wsusauto.wsus.wsus_facts": {}},
                {"name": "schedule", "wsusauto.wsus.wsus_schedule": {"automatic": True, "time": "02:15"}},
            ],
        }
    ]
    run = ansible_each.playbook(inventory, plays)
    assert run.rc == 4, run  # ansible-playbook's exit code for an unreachable host, as wsusauto's
    assert "fatal: [wsus-eu]: UNREACHABLE!" in run.stdout
    assert counts(run, "wsus-eu") == {
        "ok": 0,
        "changed": 0,
        "unreachable": 1,
        "failed": 0,
        "skipped": 0,
        "rescued": 0,
        "ignored": 0,
    }
    for host in ("wsus-root", "wsus-us"):
        assert counts(run, host)["ok"] == 2 and counts(run, host)["changed"] == 1, run
        assert counts(run, host)["unreachable"] == 0 and counts(run, host)["failed"] == 0


def _no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.slow
def test_check_diff_of_schedule_and_proxy_shows_what_wsusauto_run_shows_with_its_warnings(
    ansible, make_lab, tmp_path
):
    lab = make_lab({"servers": [{"name": "wsus-root"}, {"name": "wsus-eu", "upstream": "wsus-root"}]})
    inventory = inventory_file(lab)
    schedule = {"automatic": True, "time": "02:30", "timezone": "Europe/Berlin", "per_day": 2}
    proxy = {
        "enabled": True,
        "name": "proxy.corp.example",
        "port": 3128,
        "anonymous": False,
        "user": "svc-wsus",
        "domain": "CORP",
        "password_env": "WSUS_PROXY_PASSWORD",
    }
    env = {"WSUS_PROXY_PASSWORD": PROXY_PASSWORD}
    playbook = tmp_path / "schedule-proxy.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "name": "schedule and proxy",
                    "hosts": "all",
                    "tasks": [{"name": "schedule", "schedule": schedule}, {"name": "proxy", "proxy": proxy}],
                }
            ]
        )
    )
    cli = run_cli("run", str(playbook), "-i", str(inventory), "--check", "--diff", env=env)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    plays = [
        {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {"name": "schedule", "wsusauto.wsus.wsus_schedule": schedule},
                {"name": "proxy", "wsusauto.wsus.wsus_proxy": proxy},
            ],
        }
    ]
    checked = ansible.playbook(inventory, plays, "--check", "--diff", env=env)
    assert checked.rc == 0, checked
    planned = ansible_changes(checked.stdout)
    assert planned == wsusauto_changes(cli.stdout), (checked, cli.stdout)
    assert {m for _, m, _, _ in planned} >= {"SynchronizeAutomaticallyTimeOfDay", "ProxyPassword", "UseProxy"}
    assert ("wsus-eu", "ProxyPassword", '"(none)"', '"(set)"') in planned
    warnings = {line.split("warning: ", 1)[1] for line in cli.stdout.splitlines() if "  warning: " in line}
    assert any("Europe/Berlin" in w for w in warnings), cli.stdout
    shown = _no_space(checked.stdout + checked.stderr)
    assert all(_no_space(w) in shown for w in warnings), (warnings, checked)
    assert PROXY_PASSWORD not in checked.stdout + checked.stderr + cli.stdout + cli.stderr
