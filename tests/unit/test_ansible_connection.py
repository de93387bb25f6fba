"""wsusauto.ansible.connection: an Ansible host's vars -> Host -> ConnectionOptions -> Session."""

from __future__ import annotations

import pytest

from wsusauto.ansible.connection import (
    CERT_VALIDATION_OFF,
    connection_var_names,
    connection_warnings,
    host_from_vars,
    open_session,
)
from wsusauto.config.inventory import connection_options
from wsusauto.config.secrets import Secret
from wsusauto.errors import UsageError

HOSTVARS = {
    "inventory_hostname": "wsus-01",
    "ansible_connection": "psrp",
    "ansible_host": "10.0.0.5",
    "ansible_port": 5986,
    "ansible_user": "LAB\\admin",
    "ansible_password": "Host-Pw-1",
    "ansible_psrp_auth": "ntlm",
    "ansible_psrp_ca_cert": "/etc/ca.pem",
    "wsus_busy_wait": 30,
    "wsus_upstream": "wsus-root",
    "group_names": ["wsus"],
    "hostvars": {"huge": "everything"},
    "vault_something": "not for us",
}


def test_only_the_vars_that_say_how_to_connect_are_taken():
    names = connection_var_names(HOSTVARS)
    assert sorted(names) == sorted(
        [
            "ansible_host",
            "ansible_port",
            "ansible_user",
            "ansible_password",
            "ansible_psrp_auth",
            "ansible_psrp_ca_cert",
            "wsus_busy_wait",
        ]
    )


def test_the_options_are_those_wsusauto_reads_from_the_same_inventory():
    host = host_from_vars("wsus-01", {n: HOSTVARS[n] for n in connection_var_names(HOSTVARS)})
    options = connection_options(host)
    assert (options.address, options.port, options.username) == ("10.0.0.5", 5986, "LAB\\admin")
    assert options.password == Secret("Host-Pw-1")
    assert options.auth == "ntlm" and options.ssl is True and options.cert_validation == "/etc/ca.pem"
    assert options.busy_wait == 30
    assert "wsus_upstream" not in host.vars and "hostvars" not in host.vars


def test_host_from_vars_drops_whatever_else_it_is_given():
    host = host_from_vars("wsus-01", HOSTVARS)
    assert set(host.vars) == set(connection_var_names(HOSTVARS))


def test_the_play_password_is_the_fallback_when_no_var_names_a_password():
    connection = {"ansible_host": "10.0.0.5", "ansible_user": "admin", "ansible_psrp_auth": "ntlm"}
    options = connection_options(host_from_vars("wsus-01", connection, play_password="Prompted-Pw"))
    assert options.password == Secret("Prompted-Pw")


@pytest.mark.parametrize(
    "source",
    [
        {"ansible_password": "Var-Pw"},
        {"ansible_psrp_password": "Var-Pw"},
        {"wsusauto_password_env": "SOME_ENV"},
        {"wsusauto_password_file": "/some/file"},
    ],
)
def test_a_password_var_wins_over_the_play_password(source):
    connection = {"ansible_host": "10.0.0.5", "ansible_user": "admin", **source}
    host = host_from_vars("wsus-01", connection, play_password="Prompted-Pw")
    assert "Prompted-Pw" not in host.vars.values()


def test_no_password_at_all_is_one_clear_error_naming_the_host():
    connection = {"ansible_host": "10.0.0.5", "ansible_user": "admin", "ansible_psrp_auth": "ntlm"}
    with pytest.raises(UsageError, match=r"host wsus-01: no password"):
        open_session(host_from_vars("wsus-01", connection))


def test_a_session_is_made_for_the_host_without_connecting():
    host = host_from_vars("wsus-01", HOSTVARS)
    session = open_session(host, deadline=45)
    assert session.name == "wsus-01" and session.default_deadline == 45 and not session.is_open
    session.close()


def test_certificate_validation_off_over_https_is_warned_of():
    ignoring = host_from_vars("wsus-01", {**HOSTVARS, "ansible_psrp_cert_validation": "ignore"})
    assert connection_warnings(ignoring) == [CERT_VALIDATION_OFF]
    assert connection_warnings(host_from_vars("wsus-01", HOSTVARS)) == []
    over_http = {**HOSTVARS, "ansible_psrp_cert_validation": "ignore", "ansible_psrp_protocol": "http"}
    assert connection_warnings(host_from_vars("wsus-01", over_http)) == []


def test_a_password_in_ansible_winrm_pass_is_taken_and_k_does_not_replace_it():
    made = host_from_vars("wsus-01", {"ansible_user": "admin", "ansible_winrm_pass": "Host-Pw-2"}, "from-k")
    assert connection_options(made).password.reveal() == "Host-Pw-2"
