"""Playbooks over the lab fleet with the real client: convergence, check mode, failures, secrets."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml

from tests.lab_fixtures import inventory_file, record_scripts, running_lab
from tests.lab_fixtures import run_cli as wsusauto
from wsusauto import exitcodes
from wsusauto.client.snippets import registry
from wsusauto.config.inventory import load_inventory
from wsusauto.config.playbook import load_playbook
from wsusauto.execution.procwork import start_method
from wsusauto.execution.runner import Runner
from wsusauto.lab.topology import load_topology, topology_from_dict
from wsusauto.lab.wsman import EndpointFaults
from wsusauto.output.journal import read_journal
from wsusauto.state.facts import facts_parameters

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


def model_state(lab) -> dict[str, dict]:
    members = (
        "SyncFromMicrosoftUpdate",
        "UpstreamWsusServerName",
        "UpstreamWsusServerPortNumber",
        "UpstreamWsusServerUseSsl",
        "IsReplicaServer",
        "UseProxy",
        "ProxyName",
        "ProxyUserName",
        "ProxyUserDomain",
        "AllowProxyCredentialsOverNonSsl",
        "SynchronizeAutomatically",
        "SynchronizeAutomaticallyTimeOfDay",
        "NumberOfSynchronizationsPerDay",
    )
    return {
        name: {m: server.get(m) for m in members} | {"HasProxyPassword": server.has_proxy_password}
        for name, server in lab.handlers.servers.items()
    }


def changes_of(document: dict) -> set[tuple[str, str, str]]:
    return {
        (host, r["name"], json.dumps(r["diff"], sort_keys=True))
        for host, results in document["hosts"].items()
        for r in results
        if r["changed"]
    }


def journal_at_each_change(lab, monkeypatch, journal: Path) -> list[tuple[str, str, dict | None]]:
    """(server, snippet, that server's last journal record then) for every ``set_*`` snippet that
    reaches the lab from now on: what the journal on disk held when the change arrived."""
    seen: list[tuple[str, str, dict | None]] = []
    answer = type(lab.handlers).__call__

    def observing(self, invocation):
        snippet = registry().by_text(invocation.script)
        if snippet is not None and snippet.name.startswith("set_"):
            text = journal.read_text(encoding="utf-8") if journal.exists() else ""
            complete = text[: text.rfind("\n") + 1]  # a line still being written is not there yet
            mine = [r for r in map(json.loads, complete.splitlines()) if r.get("host") == invocation.endpoint]
            seen.append((invocation.endpoint, snippet.name, mine[-1] if mine else None))
        return answer(self, invocation)

    monkeypatch.setattr(type(lab.handlers), "__call__", observing)
    return seen


@pytest.fixture
def fleet(make_lab):
    # The lab's clock 10x: a configuration save still processes a moment and the next save on the
    # server waits for it, but the runs no longer wait out 1-3 s of it per server.
    lab = make_lab(load_topology(None), time_scale=10)
    return lab, inventory_file(lab)


def assert_each_server_after_its_upstream(journal) -> None:
    """Each server's changes come after every change of its own upstream in the journal (a branch
    server waits for its region's server, not for the other regions: dependency order, not waves)."""
    order = [r["host"] for r in read_journal(journal) if r["event"] == "applied"]
    assert {h for h in order if h.count("-") == 2}  # the branches changed too
    topology = load_topology(None)
    last = {host: i for i, host in enumerate(order)}
    checked = 0
    for i, host in enumerate(order):
        upstream = topology.server(host).upstream
        if upstream in last:  # the root already synced from Microsoft Update: nothing to change
            assert i > last[upstream], (host, upstream, order)
            checked += 1
    assert checked >= 12  # every branch server's changes


def test_designate_replicas_check_then_apply_then_converged(fleet, tmp_path, monkeypatch):
    lab, inventory = fleet
    untouched = model_state(lab)
    playbook = str(PLAYBOOKS / "designate-replicas.yml")
    journal = tmp_path / "run.jsonl"
    changes_sent = journal_at_each_change(lab, monkeypatch, journal)

    check = wsusauto("run", playbook, "-i", str(inventory), "--check", "--json")
    assert check.returncode == 0, check.stderr
    assert model_state(lab) == untouched  # check mode changes nothing anywhere
    assert changes_sent == []  # and sends no change snippet
    planned = changes_of(json.loads(check.stdout))
    assert len(planned) == 3 + 12 * 2  # 3 regional sources; 12 sources + 12 replicas

    real = wsusauto("run", playbook, "-i", str(inventory), "--json", "--journal", str(journal))
    assert real.returncode == 0, real.stderr
    document = json.loads(real.stdout)
    assert changes_of(document) == planned  # check mode predicted exactly this run
    assert document["recap"]["wsus-eu-01"] == {
        "ok": 2,
        "changed": 2,
        "unreachable": 0,
        "failed": 0,
        "skipped": 2,
        "rescued": 0,
        "ignored": 0,
    }

    state = model_state(lab)
    for spec in load_topology(None).servers:
        expected_upstream = spec.upstream or ""
        assert state[spec.name]["SyncFromMicrosoftUpdate"] is (spec.upstream is None)
        assert state[spec.name]["UpstreamWsusServerName"] == expected_upstream
        assert state[spec.name]["IsReplicaServer"] is spec.replica

    records = read_journal(journal)
    applied = [r for r in records if r["event"] == "applied"]
    assert len(applied) == len(planned)
    assert len([r for r in records if r["event"] == "applying"]) == len(applied)
    assert {r["run_id"] for r in records} == {records[0]["run_id"]}
    # write-ahead: each change reached its server after its applying line was on disk, before its applied
    assert len(changes_sent) == len(planned)
    for server, snippet, last in changes_sent:
        assert last is not None and last["event"] == "applying", (server, snippet, last)
        assert f"set_{last['operation']}" == snippet, (server, snippet, last)

    again = wsusauto("run", playbook, "-i", str(inventory), "--json")
    assert again.returncode == 0
    assert changes_of(json.loads(again.stdout)) == set()  # idempotent: 0 changed
    assert len(changes_sent) == len(planned)  # and no change snippet sent


def test_hierarchy_order_configures_parents_before_children(fleet, tmp_path):
    _, inventory = fleet
    journal = tmp_path / "order.jsonl"
    result = wsusauto(
        "run",
        str(PLAYBOOKS / "designate-replicas.yml"),
        "-i",
        str(inventory),
        "--json",
        "--journal",
        str(journal),
        "--forks",
        "20",
    )
    assert result.returncode == 0
    assert_each_server_after_its_upstream(journal)


def test_one_host_down_others_complete_exit_4(fleet):
    lab, inventory = fleet
    lab.set_faults("wsus-us-02", EndpointFaults(down=True))
    result = wsusauto("run", str(PLAYBOOKS / "designate-replicas.yml"), "-i", str(inventory), "--json")
    lab.set_faults("wsus-us-02", EndpointFaults())
    assert result.returncode == exitcodes.HOST_UNREACHABLE
    document = json.loads(result.stdout)
    assert document["recap"]["wsus-us-02"]["unreachable"] == 1
    assert all(
        c["unreachable"] == 0 and c["failed"] == 0 for h, c in document["recap"].items() if h != "wsus-us-02"
    )
    assert model_state(lab)["wsus-us-01"]["IsReplicaServer"] is True
    assert model_state(lab)["wsus-us-02"]["IsReplicaServer"] is False
    # a second run converges the host that was down
    assert wsusauto("run", str(PLAYBOOKS / "designate-replicas.yml"), "-i", str(inventory)).returncode == 0
    assert model_state(lab)["wsus-us-02"]["IsReplicaServer"] is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda hosts: hosts["wsus-root"].update(wsus_upstream="wsus-eu-01"), "upstream cycle"),
        (lambda hosts: hosts["wsus-eu"].update(wsus_upstream="wsus-eu"), "names itself"),
        (
            lambda hosts: hosts["wsus-eu"].update(wsus_upstream="wsus-nowhere"),
            "'wsus-nowhere' is not in the inventory",
        ),
    ],
)
def test_bad_hierarchy_in_inventory_is_exit_1_and_touches_nothing(fleet, tmp_path, change, message):
    lab, inventory = fleet
    data = yaml.safe_load(inventory.read_text())
    change(data["all"]["children"]["wsus"]["hosts"])
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(data))
    before = model_state(lab)
    journal = tmp_path / "j.jsonl"
    result = wsusauto(
        "run", str(PLAYBOOKS / "designate-replicas.yml"), "-i", str(broken), "--journal", str(journal)
    )
    assert result.returncode == exitcodes.USAGE
    assert message in result.stderr and "Traceback" not in result.stderr
    assert "designate-replicas.yml" in result.stderr
    assert model_state(lab) == before
    assert not journal.exists() or not [r for r in read_journal(journal) if r["event"] == "applying"]


def test_mixed_storage_options_stop_the_run_before_any_change(tmp_path):
    topology = topology_from_dict(
        {
            "servers": [
                {"name": "wsus-root"},
                {"name": "wsus-a", "upstream": "wsus-root", "replica": True},
                {
                    "name": "wsus-b",
                    "upstream": "wsus-root",
                    "replica": True,
                    "initial": {"HostBinariesOnMicrosoftUpdate": True, "AllUpdateLanguagesEnabled": True},
                },
            ]
        }
    )
    with running_lab(tmp_path, topology) as lab:
        inventory = tmp_path / "inventory.yml"
        lab.write_inventory(inventory)
        before = model_state(lab)
        result = wsusauto("run", str(PLAYBOOKS / "designate-replicas.yml"), "-i", str(inventory))
        assert result.returncode == exitcodes.USAGE
        assert "mixes update storage options" in result.stderr and "wsus-b" in result.stderr
        assert model_state(lab) == before


def test_bad_playbook_yaml_is_one_line(fleet, tmp_path):
    _, inventory = fleet
    bad = tmp_path / "bad.yml"
    bad.write_text("- hosts: all\n  tasks:\n    - update_source: {source: upstream\n")
    result = wsusauto("run", str(bad), "-i", str(inventory))
    assert result.returncode == exitcodes.USAGE
    assert "not valid YAML at line" in result.stderr and len(result.stderr.strip().splitlines()) <= 2


def test_hostile_values_reach_the_lab_as_data_and_never_as_script(fleet, tmp_path, monkeypatch):
    lab, inventory = fleet
    hostile = 'svc\'; Stop-Service WsusService; $(whoami) `n"x" ;\nnext-line'
    scripts = record_scripts(lab, monkeypatch)
    playbook = tmp_path / "proxy.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "wsus-eu",
                    "tasks": [
                        {
                            "proxy": {
                                "enabled": True,
                                "name": "proxy.corp",
                                "port": 3128,
                                "anonymous": False,
                                "user": "{{ proxy_user }}",
                                "domain": "{{ proxy_domain }}",
                            }
                        }
                    ],
                }
            ]
        )
    )
    extra = tmp_path / "extra.yml"
    extra.write_text(yaml.safe_dump({"proxy_user": hostile, "proxy_domain": "$(Get-Date)"}))
    result = wsusauto("run", str(playbook), "-i", str(inventory), "-e", f"@{extra}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert lab.handlers.servers["wsus-eu"].get("ProxyUserName") == hostile
    assert lab.handlers.servers["wsus-eu"].get("ProxyUserDomain") == "$(Get-Date)"
    shipped = {snippet.text for snippet in registry().values()}
    assert scripts and all(script in shipped for script in scripts)


def test_proxy_password_canary_never_appears_anywhere(fleet, tmp_path):
    lab, inventory = fleet
    canary = "Canary-Proxy-Pw-5f1e9c"
    journal = tmp_path / "j.jsonl"
    env = {"WSUS_PROXY_PASSWORD": canary}
    common = [
        "run",
        str(PLAYBOOKS / "set-proxy.yml"),
        "-i",
        str(inventory),
        "-e",
        "proxy_name=proxy.corp",
        "-e",
        "proxy_user=svc-wsus",
        "-e",
        "proxy_domain=CORP",
        "--journal",
        str(journal),
        "--diff",
    ]
    outputs = [
        wsusauto("--log-format", "json", "--log-level", "debug", *common, "--json", env=env),
        wsusauto("--log-level", "debug", *common, env=env),
        wsusauto("--debug", *common, "--check", env=env),
    ]
    for output in outputs:
        assert output.returncode == 0, output.stderr
        assert canary not in output.stdout and canary not in output.stderr
    assert canary not in journal.read_text()
    assert all(s.has_proxy_password for s in lab.handlers.servers.values())
    assert (
        lab.handlers.servers["wsus-eu"].db.get("ProxyPassword") == canary
    )  # it did arrive, as a SecureString


def test_cleartext_proxy_password_needs_the_play_to_allow_it(fleet, tmp_path):
    _, inventory = fleet
    play = {
        "hosts": "wsus-root",
        "tasks": [{"proxy": {"enabled": True, "name": "p", "basic_auth_cleartext": True}}],
    }
    refused = tmp_path / "refused.yml"
    refused.write_text(yaml.safe_dump([play]))
    result = wsusauto("run", str(refused), "-i", str(inventory))
    assert result.returncode == exitcodes.USAGE and "allow_cleartext_proxy_password: true" in result.stderr
    allowed = tmp_path / "allowed.yml"
    allowed.write_text(yaml.safe_dump([{**play, "allow_cleartext_proxy_password": True}]))
    result = wsusauto("run", str(allowed), "-i", str(inventory), "--json")
    assert result.returncode == 0
    [task] = json.loads(result.stdout)["hosts"]["wsus-root"]
    assert any("clear text" in w for w in task["warnings"])


def test_set_update_source_and_fleet_status(fleet):
    lab, inventory = fleet
    result = wsusauto(
        "run",
        str(PLAYBOOKS / "set-update-source.yml"),
        "-i",
        str(inventory),
        "--limit",
        "wsus-eu-0*",
        "-e",
        "upstream=wsus-eu",
        "-e",
        "upstream_port=8531",
        "-e",
        "upstream_ssl=true",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    state = model_state(lab)
    assert [state[f"wsus-eu-0{i}"]["UpstreamWsusServerPortNumber"] for i in range(1, 5)] == [8531] * 4
    assert state["wsus-us-01"]["SyncFromMicrosoftUpdate"] is True  # --limit kept the rest untouched
    status = wsusauto("run", str(PLAYBOOKS / "fleet-status.yml"), "-i", str(inventory), "--json")
    assert status.returncode == 0
    assert all(c["changed"] == 0 and c["ok"] == 1 for c in json.loads(status.stdout)["recap"].values())


def test_library_example_from_the_readme(fleet, tmp_path, monkeypatch):
    _, inventory = fleet
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("<!-- library-example -->")[1].split("```python")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inventory.yml").write_text(inventory.read_text())
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["result"].changed is True
    assert namespace["facts"].upstream_wsus_server_name == "wsus-root"
    assert facts_parameters()  # the example uses the same library the CLI does


def test_library_playbook_example_from_the_readme(fleet, tmp_path, monkeypatch):
    _, inventory = fleet
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("<!-- library-playbook-example -->")[1].split("```python")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inventory.yml").write_text(inventory.read_text())
    (tmp_path / "playbooks").symlink_to(PLAYBOOKS)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    run = namespace["run"]
    assert run.exit_code == 0 and run.check_mode
    assert set(run.verdicts) == set(load_inventory(str(inventory)).hosts)
    assert set(run.verdicts.values()) == {"ok"}


def test_several_client_processes_give_the_same_run(fleet, tmp_path):
    lab, inventory = fleet
    playbook = str(PLAYBOOKS / "designate-replicas.yml")
    check = wsusauto("run", playbook, "-i", str(inventory), "--check", "--json")
    journal = tmp_path / "procs.jsonl"
    real = wsusauto(
        "--log-level", "debug", "run", playbook, "-i", str(inventory), "--json", "--processes", "2",
        "--journal", str(journal),
    )  # fmt: skip
    assert real.returncode == 0, real.stderr
    # the CLI runs one thread when it starts its workers: on Linux they are forked, nothing re-imported
    assert "start_method=fork" in real.stderr
    assert changes_of(json.loads(real.stdout)) == changes_of(json.loads(check.stdout))
    assert len([r for r in read_journal(journal) if r["event"] == "applied"]) == 27
    assert_each_server_after_its_upstream(journal)
    assert model_state(lab)["wsus-apac-04"]["IsReplicaServer"] is True


def test_worker_processes_started_from_a_process_with_threads_are_spawned(fleet, tmp_path):
    # This test process runs threads (pytest's, the lab's tickers): forking it could copy a held
    # lock into a worker, so the runner spawns them; the run is the same as with forked workers.
    lab, inventory_path = fleet
    inventory = load_inventory(inventory_path)
    playbook = load_playbook(PLAYBOOKS / "designate-replicas.yml")
    assert threading.active_count() > 1 and start_method() == "spawn"
    planned = Runner(inventory, playbook, check=True, processes=1).run()
    result = Runner(inventory, playbook, processes=2).run()
    assert result.exit_code == 0, result.recap
    assert changes_of(result.document()) == changes_of(planned.document())
    assert model_state(lab)["wsus-apac-04"]["IsReplicaServer"] is True


def test_set_proxy_converges_and_sends_the_password_again_only_when_asked(fleet):
    lab, inventory = fleet
    env = {"WSUS_PROXY_PASSWORD": "Rotating-Pw-0001"}
    args = [
        "run",
        str(PLAYBOOKS / "set-proxy.yml"),
        "-i",
        str(inventory),
        "--limit",
        "wsus-root",
        "-e",
        "proxy_name=proxy.corp",
        "-e",
        "proxy_user=svc",
        "--json",
    ]
    first = json.loads(wsusauto(*args, env=env).stdout)
    second = json.loads(wsusauto(*args, env=env).stdout)
    assert first["recap"]["wsus-root"]["changed"] == 1 and second["recap"]["wsus-root"]["changed"] == 0
    rotated = wsusauto(
        *args, "-e", "proxy_update_password=always", env={"WSUS_PROXY_PASSWORD": "Rotating-Pw-0002"}
    )
    [task] = json.loads(rotated.stdout)["hosts"]["wsus-root"]
    assert task["changed"] and list(task["diff"]["after"]) == ["ProxyPassword"]
    assert lab.handlers.servers["wsus-root"].db.get("ProxyPassword") == "Rotating-Pw-0002"


def test_set_update_source_second_run_changes_nothing(fleet):
    _, inventory = fleet
    args = [
        "run",
        str(PLAYBOOKS / "set-update-source.yml"),
        "-i",
        str(inventory),
        "--limit",
        "wsus-us*",
        "-e",
        "upstream=wsus-root",
        "--json",
    ]
    assert sum(c["changed"] for c in json.loads(wsusauto(*args).stdout)["recap"].values()) == 5
    assert sum(c["changed"] for c in json.loads(wsusauto(*args).stdout)["recap"].values()) == 0
