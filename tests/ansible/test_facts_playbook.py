"""wsus_facts through real ansible-playbook with the built collection, against the lab."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.lab_fixtures import inventory_file, small_topology


def test_wsus_facts_reads_each_server_over_the_inventory_made_for_psrp(ansible_each, make_lab):
    lab = make_lab(small_topology(2))
    inventory = inventory_file(lab)  # ansible_connection: psrp, NTLM over HTTP with encryption
    run = ansible_each.playbook(
        inventory,
        [
            {
                "hosts": "all",
                "gather_facts": False,
                "tasks": [
                    {"name": "facts", "wsusauto.wsus.wsus_facts": {}},
                    {
                        "name": "show",
                        "ansible.builtin.debug": {
                            "msg": "{{ {'host': ansible_facts.wsus_facts.host,"
                            " 'mu': ansible_facts.wsus_facts.sync_from_microsoft_update,"
                            " 'time': ansible_facts.wsus_facts.synchronize_automatically_time_of_day}"
                            " | to_json }}"
                        },
                    },
                ],
            }
        ],
    )
    assert run.rc == 0, run
    assert run.recap == {
        name: {"ok": 2, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0, "rescued": 0, "ignored": 0}
        for name in ("wsus-root", "wsus-01")
    }, run
    shown = [
        json.loads(json.loads(line.split(": ", 1)[1]))
        for line in run.stdout.splitlines()
        if '"msg": ' in line
    ]
    assert sorted(s["host"] for s in shown) == ["wsus-01", "wsus-root"]
    assert all(s["mu"] is True and len(s["time"]) == 8 for s in shown), run


@pytest.mark.slow
def test_the_password_from_ansible_playbook_k_or_from_wsusauto_password_env(ansible, make_lab):
    lab = make_lab(small_topology(1))
    password = lab.inventory()["all"]["vars"]["ansible_password"]
    inventory = inventory_file(lab, "no-password.yml", password=False)  # no password var at all
    plays = [{"hosts": "all", "gather_facts": False, "tasks": [{"wsusauto.wsus.wsus_facts": {}}]}]

    without = ansible.playbook(inventory, plays)
    assert without.rc == 2 and "host wsus-root: no password" in without.stdout, without

    prompted = ansible.playbook(inventory, plays, "-k", stdin=password + "\n")
    assert prompted.rc == 0 and prompted.recap["wsus-root"]["ok"] == 1, prompted

    wrong = ansible.playbook(inventory, plays, "-k", stdin="not-the-lab-password\n")
    assert wrong.rc == 4 and wrong.recap["wsus-root"]["unreachable"] == 1, wrong

    from_env = inventory_file(lab, "password-env.yml", password=False)
    text = from_env.read_text().replace("  vars:\n", "  vars:\n    wsusauto_password_env: LAB_PASSWORD\n", 1)
    from_env.write_text(text)
    by_env = ansible.playbook(from_env, plays, env={"LAB_PASSWORD": password})
    assert by_env.rc == 0, by_env
    assert password not in by_env.stdout + by_env.stderr + prompted.stdout + prompted.stderr


@pytest.mark.slow
def test_a_login_given_as_awx_gives_a_machine_credential_with_u_and_k(ansible, make_lab):
    # AWX runs a job with a Machine credential as ansible-playbook -u USER -k (answering the prompt);
    # an inventory that names no user nor password then works as Ansible's psrp plugin would.
    lab = make_lab(small_topology(1))
    lab_vars = lab.inventory()["all"]["vars"]
    user, password = lab_vars["ansible_user"], lab_vars["ansible_password"]
    inventory = inventory_file(lab, "no-login.yml", password=False)
    text = inventory.read_text()
    assert yaml.safe_load(text)["all"]["vars"]["ansible_user"] == user
    no_user = yaml.safe_load(text)
    del no_user["all"]["vars"]["ansible_user"]
    inventory.write_text(yaml.safe_dump(no_user))
    plays = [{"hosts": "all", "gather_facts": False, "tasks": [{"wsusauto.wsus.wsus_facts": {}}]}]

    without = ansible.playbook(inventory, plays, "-k", stdin=password + "\n")
    assert without.rc == 2 and "host wsus-root: ansible_user is not set" in without.stdout, without

    machine = ansible.playbook(inventory, plays, "-u", user, "-k", stdin=password + "\n")
    assert machine.rc == 0 and machine.recap["wsus-root"]["ok"] == 1, machine
    assert password not in machine.stdout + machine.stderr


def test_a_task_delegated_to_another_server_reaches_that_server_by_its_own_vars(ansible, make_lab):
    lab = make_lab(small_topology(2))
    inventory = inventory_file(lab)
    plays = [
        {
            "hosts": "wsus-01",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "planned on wsus-root",
                    "wsusauto.wsus.wsus_schedule": {"automatic": True, "time": "04:44"},
                    "delegate_to": "wsus-root",
                    "check_mode": True,
                },
                {"name": "facts of wsus-root", "wsusauto.wsus.wsus_facts": {}, "delegate_to": "wsus-root"},
                {
                    "name": "show",
                    "ansible.builtin.debug": {
                        "msg": "{{ [ansible_facts.wsus_facts.host, ansible_facts.wsus_facts.name,"
                        " ansible_facts.wsusauto_check_changes | default(none)] | to_json }}"
                    },
                },
            ],
        }
    ]
    run = ansible.playbook(inventory, plays)
    assert run.rc == 0, run
    assert "changed: [wsus-01 -> wsus-root(" in run.stdout, run
    shown = [
        json.loads(json.loads(line.split(": ", 1)[1]))
        for line in run.stdout.splitlines()
        if '"msg": ' in line
    ]
    # the server reached is wsus-root, named so; check mode's plan for wsus-root is not wsus-01's
    assert shown == [["wsus-root", "wsus-root", None]], run


def test_check_mode_false_on_a_facts_task_keeps_what_the_check_run_planned_before_it(ansible, make_lab):
    # Under --check, wsus_facts with check_mode: false (real facts, a common pattern) really runs but
    # changes nothing: a real run would still have pointed wsus-01 at wsus-root, so becoming a
    # replica next is planned on that, not refused as on a server still on Microsoft Update.
    lab = make_lab(small_topology(2))  # wsus-01 starts on Microsoft Update, not a replica
    inventory = inventory_file(lab)
    tasks = [
        {"wsusauto.wsus.wsus_update_source": {"source": "upstream", "upstream": "wsus-root"}},
        {"wsusauto.wsus.wsus_facts": {}, "check_mode": False},
        {"wsusauto.wsus.wsus_replica": {"enabled": True}},
    ]
    play = {"hosts": "wsus-01", "gather_facts": False}
    run = ansible.playbook(inventory, [{**play, "tasks": tasks}], "--check")
    assert run.rc == 0, run
    assert run.recap["wsus-01"]["changed"] == 2 and run.recap["wsus-01"]["failed"] == 0, run
    # a real run: a check_mode: true task's plan never happens, so a real task after it drops it
    tasks = [{**tasks[0], "check_mode": True}, tasks[1], {**tasks[2], "check_mode": True}]
    real = ansible.playbook(inventory, [{**play, "tasks": tasks}])
    assert real.rc == 2 and real.recap["wsus-01"]["failed"] == 1, real
    assert "syncs from Microsoft Update; a replica syncs from an upstream" in real.stdout, real


def test_certificate_validation_off_is_warned_of_as_wsusauto_warns_of_it(ansible, make_lab):
    lab = make_lab(small_topology(2))
    plays = [{"hosts": "all", "gather_facts": False, "tasks": [{"wsusauto.wsus.wsus_facts": {}}] * 2}]
    warning = "[WARNING]: TLS certificate validation is turned off (ansible_psrp_cert_validation: ignore)"
    unchecked = ansible.playbook(
        inventory_file(lab, "ignore.yml", protocol="https", cert_validation="ignore"), plays
    )
    assert unchecked.rc == 0, unchecked
    assert unchecked.stdout.count(warning) + unchecked.stderr.count(warning) == 1, unchecked  # once a run
    checked = ansible.playbook(inventory_file(lab, "ca.yml", protocol="https"), plays)
    assert checked.rc == 0 and "TLS certificate validation" not in checked.stdout + checked.stderr, checked


def test_an_inventory_on_port_5985_without_a_protocol_var_connects_over_http_as_psrp_does(ansible, make_lab):
    lab = make_lab(small_topology(1))
    inventory = inventory_file(lab)
    text = inventory.read_text()
    assert "    ansible_port: 5985\n    ansible_psrp_protocol: http\n" in text
    inventory.write_text(text.replace("    ansible_psrp_protocol: http\n", ""))
    run = ansible.playbook(
        inventory, [{"hosts": "all", "gather_facts": False, "tasks": [{"wsusauto.wsus.wsus_facts": {}}]}]
    )
    assert run.rc == 0 and run.recap["wsus-root"]["ok"] == 1, run


def test_an_argument_error_quoting_the_proxy_password_shows_it_masked_as_a_module_would(ansible, make_lab):
    lab = make_lab(small_topology(1))
    password = "Pr0xy-Secret-In-The-Wrong-Place"
    task = {"wsusauto.wsus.wsus_proxy": {"enabled": True, "name": "proxy", "password": password}}
    wrong = {**task["wsusauto.wsus.wsus_proxy"], "update_password": password}  # a var in the wrong option
    plays = [{"hosts": "all", "gather_facts": False, "tasks": [{"wsusauto.wsus.wsus_proxy": wrong}]}]
    run = ansible.playbook(inventory_file(lab), plays, "-vvvv")
    assert run.rc == 2 and "value of update_password must be one of: on_create, always" in run.stdout, run
    assert password not in run.stdout + run.stderr, run
