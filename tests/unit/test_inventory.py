"""Ansible-style inventory: groups, children, variable precedence, patterns, connection vars."""

from __future__ import annotations

import textwrap

import pytest

from wsusauto.config.inventory import inventory_from_dict, load_inventory
from wsusauto.errors import UsageError

INVENTORY = {
    "all": {
        "vars": {
            "ansible_user": "admin",
            "wsusauto_password_env": "WSUS_PW",
            "level": "all",
            "ansible_psrp_protocol": "http",
            "ansible_psrp_auth": "ntlm",
        },
        "hosts": {"wsus-root": {"ansible_host": "127.0.10.1"}},
        "children": {
            "regional": {
                "vars": {"level": "regional", "wsus_upstream": "wsus-root"},
                "hosts": {
                    "wsus-eu": {"ansible_host": "127.0.10.2"},
                    "wsus-us": {"ansible_host": "127.0.10.3"},
                },
            },
            "branch": {
                "vars": {"level": "branch", "wsus_replica": True},
                "children": {
                    "branch_eu": {
                        "vars": {"level": "branch_eu", "wsus_upstream": "wsus-eu"},
                        "hosts": {
                            "wsus-eu-01": {"ansible_host": "127.0.10.4", "level": "host"},
                            "wsus-eu-02": {"ansible_host": "127.0.10.5"},
                        },
                    },
                },
            },
        },
    }
}


@pytest.fixture
def inventory(monkeypatch):
    monkeypatch.setenv("WSUS_PW", "from-env")
    return inventory_from_dict(INVENTORY, "inv.yml")


def test_hosts_keep_file_order_and_group_membership(inventory):
    assert list(inventory.hosts) == ["wsus-root", "wsus-eu", "wsus-us", "wsus-eu-01", "wsus-eu-02"]
    assert inventory.groups["branch"] == ("wsus-eu-01", "wsus-eu-02")
    assert inventory.hosts["wsus-eu-01"].groups == ("branch", "branch_eu")


def test_variable_precedence_is_all_then_parents_then_children_then_host(inventory):
    assert inventory.hosts["wsus-root"].vars["level"] == "all"
    assert inventory.hosts["wsus-eu"].vars["level"] == "regional"
    assert inventory.hosts["wsus-eu-02"].vars["level"] == "branch_eu"
    assert inventory.hosts["wsus-eu-01"].vars["level"] == "host"


def test_extra_vars_override_everything(monkeypatch):
    monkeypatch.setenv("WSUS_PW", "x")
    inv = inventory_from_dict(INVENTORY, "inv.yml", {"level": "extra"})
    assert {h.vars["level"] for h in inv.hosts.values()} == {"extra"}


def test_hierarchy_vars(inventory):
    eu01 = inventory.hosts["wsus-eu-01"]
    assert (eu01.upstream, eu01.replica) == ("wsus-eu", True)
    assert (inventory.hosts["wsus-root"].upstream, inventory.hosts["wsus-root"].replica) == (None, False)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("all", ["wsus-root", "wsus-eu", "wsus-us", "wsus-eu-01", "wsus-eu-02"]),
        ("regional", ["wsus-eu", "wsus-us"]),
        ("wsus-eu*", ["wsus-eu", "wsus-eu-01", "wsus-eu-02"]),
        ("regional:branch_eu", ["wsus-eu", "wsus-us", "wsus-eu-01", "wsus-eu-02"]),
        ("wsus-eu*:!branch", ["wsus-eu"]),
        ("wsus-eu*:&branch", ["wsus-eu-01", "wsus-eu-02"]),
        ("~wsus-(root|us)$", ["wsus-root", "wsus-us"]),
        ("wsus-us,wsus-root", ["wsus-root", "wsus-us"]),
    ],
)
def test_patterns(inventory, pattern, expected):
    assert [h.name for h in inventory.select(pattern)] == expected


def test_pattern_matching_nothing_is_an_error(inventory):
    with pytest.raises(UsageError, match="matches no host"):
        inventory.select("nosuch")


def test_connection_options_from_ansible_vars(inventory):
    options = inventory.connection_options(inventory.hosts["wsus-eu"])
    assert (options.address, options.port, options.ssl, options.auth) == ("127.0.10.2", 5985, False, "ntlm")
    assert options.password.reveal() == "from-env"
    assert "from-env" not in repr(options)


def test_basic_over_http_is_refused(monkeypatch):
    monkeypatch.setenv("WSUS_PW", "x")
    data = {
        "all": {
            "hosts": {
                "h": {
                    "ansible_user": "u",
                    "wsusauto_password_env": "WSUS_PW",
                    "ansible_psrp_protocol": "http",
                    "ansible_psrp_auth": "basic",
                }
            }
        }
    }
    inv = inventory_from_dict(data)
    with pytest.raises(UsageError, match="Basic authentication over plain HTTP"):
        inv.connection_options(inv.hosts["h"])


def test_cert_validation_vars():
    base = {"ansible_user": "u", "ansible_password": "p"}
    data = {
        "all": {
            "hosts": {
                "a": dict(base),
                "b": {**base, "ansible_psrp_cert_validation": "ignore"},
                "c": {**base, "ansible_psrp_ca_cert": "/tmp/ca.pem"},
            }
        }
    }
    inv = inventory_from_dict(data)
    assert [inv.connection_options(inv.hosts[h]).cert_validation for h in "abc"] == [
        True,
        False,
        "/tmp/ca.pem",
    ]


def test_clear_text_password_gets_a_warning_naming_the_alternatives():
    inv = inventory_from_dict(
        {"all": {"hosts": {"a": {"ansible_user": "u", "ansible_password": "p"}}}}, "x.yml"
    )
    assert len(inv.warnings) == 1
    assert "wsusauto_password_env" in inv.warnings[0] and "a" in inv.warnings[0]


def test_password_from_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    inv = inventory_from_dict(
        {"all": {"hosts": {"a": {"ansible_user": "u", "wsusauto_password_file": str(secret)}}}}
    )
    assert inv.connection_options(inv.hosts["a"]).password.reveal() == "s3cret"
    assert not inv.warnings


def test_missing_password_env_is_a_clear_error():
    inv = inventory_from_dict(
        {"all": {"hosts": {"a": {"ansible_user": "u", "wsusauto_password_env": "WSUSAUTO_NOPE_XYZ"}}}}
    )
    with pytest.raises(UsageError, match="WSUSAUTO_NOPE_XYZ is not set"):
        inv.connection_options(inv.hosts["a"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("all: [1, 2]", "must be a mapping"),
        ("all:\n  hostz: {}\n", "unknown key"),
        ("all:\n  hosts: {a: {x: 1}\n", "not valid YAML at line"),
        ("", "an inventory is a mapping"),
    ],
)
def test_bad_inventory_files(tmp_path, text, message):
    path = tmp_path / "inv.yml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(UsageError, match=message) as info:
        load_inventory(path)
    assert str(path) in str(info.value)


def test_group_cycle_is_refused():
    data = {"all": {"children": {"a": {"children": {"b": {"children": {"a": {}}}}}}}}
    with pytest.raises(UsageError, match="child of itself"):
        inventory_from_dict(data)


def test_busy_wait_is_180_s_unless_a_host_var_says_otherwise():
    base = {"ansible_user": "u", "ansible_password": "p"}
    data = {"all": {"hosts": {"a": dict(base), "b": {**base, "wsus_busy_wait": 30}}}}
    inv = inventory_from_dict(data)
    assert [inv.connection_options(inv.hosts[h]).busy_wait for h in "ab"] == [180.0, 30.0]
    bad = inventory_from_dict({"all": {"hosts": {"c": {**base, "wsus_busy_wait": -1}}}}, "inv.yml")
    with pytest.raises(UsageError, match="wsus_busy_wait is seconds to wait for a busy WSUS server"):
        bad.connection_options(bad.hosts["c"])


@pytest.mark.parametrize(
    "var", ["wsus_busy_wait", "ansible_psrp_operation_timeout", "ansible_psrp_read_timeout"]
)
@pytest.mark.parametrize("value", ["nan", "inf", float("nan"), float("-inf")])
def test_a_wait_or_timeout_that_is_not_a_finite_number_is_one_clear_error(var, value):
    base = {"ansible_user": "u", "ansible_password": "p", var: value}
    inv = inventory_from_dict({"all": {"hosts": {"c": base}}}, "inv.yml")
    with pytest.raises(UsageError, match=f"inv.yml: host c: {var} must be a number of seconds, not "):
        inv.connection_options(inv.hosts["c"])


@pytest.mark.parametrize(
    ("port_vars", "protocol", "port"),
    [
        ({}, "https", 5986),
        ({"ansible_port": 5985}, "http", 5985),
        ({"ansible_port": "5985"}, "http", 5985),
        ({"ansible_psrp_port": 5985}, "http", 5985),
        ({"ansible_port": 5986}, "https", 5986),
        ({"ansible_port": 8443}, "https", 8443),
        ({"ansible_port": 5985, "ansible_psrp_protocol": "https"}, "https", 5985),
    ],
)
def test_without_ansible_psrp_protocol_the_protocol_is_the_one_ansibles_psrp_connection_chooses(
    port_vars, protocol, port
):
    # Ansible's psrp connection: http on port 5985, else https (an inventory made for it works as is)
    vars_ = {"ansible_host": "10.0.0.5", "ansible_user": "admin", "ansible_password": "pw", **port_vars}
    inventory = inventory_from_dict({"all": {"hosts": {"wsus-01": vars_}}}, "inv.yml")
    options = inventory.connection_options(inventory.hosts["wsus-01"])
    assert (options.ssl, options.port) == (protocol == "https", port)


def test_every_password_var_of_ansibles_psrp_connection_is_read():
    for name in ("ansible_password", "ansible_winrm_pass", "ansible_winrm_password"):
        inv = inventory_from_dict({"all": {"hosts": {"a": {"ansible_user": "u", name: "s3cret"}}}})
        assert inv.connection_options(inv.hosts["a"]).password.reveal() == "s3cret", name


def test_the_psrp_specific_vars_win_as_in_ansibles_psrp_connection():
    vars_ = {
        "ansible_host": "10.0.0.5",
        "ansible_psrp_host": "10.0.0.6",
        "ansible_port": 5986,
        "ansible_psrp_port": 5985,
        "ansible_user": "admin",
        "ansible_psrp_user": "wsusadmin",
        "ansible_password": "pw",
    }
    inventory = inventory_from_dict({"all": {"hosts": {"wsus-01": vars_}}}, "inv.yml")
    options = inventory.connection_options(inventory.hosts["wsus-01"])
    assert (options.address, options.port, options.username, options.ssl) == (
        "10.0.0.6",
        5985,
        "wsusadmin",
        False,
    )


def test_psrps_other_name_for_the_ca_cert_is_read_and_a_winrm_proxy_is_one_clear_error():
    base = {"ansible_host": "10.0.0.5", "ansible_user": "admin", "ansible_password": "pw"}
    inventory = inventory_from_dict(
        {
            "all": {
                "hosts": {
                    "trust-path": {**base, "ansible_psrp_cert_trust_path": "/etc/wsus-ca.pem"},
                    "proxied": {**base, "ansible_psrp_proxy": "http://proxy.example:3128"},
                }
            }
        },
        "inv.yml",
    )
    assert inventory.connection_options(inventory.hosts["trust-path"]).cert_validation == "/etc/wsus-ca.pem"
    with pytest.raises(UsageError, match="host proxied: ansible_psrp_proxy is set, but wsusauto connects"):
        inventory.connection_options(inventory.hosts["proxied"])


def test_client_certificate_auth_is_one_clear_error_before_any_connection():
    vars_ = {"ansible_host": "10.0.0.5", "ansible_user": "admin", "ansible_password": "pw"}
    inventory = inventory_from_dict(
        {"all": {"hosts": {"wsus-01": {**vars_, "ansible_psrp_auth": "certificate"}}}}, "inv.yml"
    )
    with pytest.raises(UsageError, match=r"host wsus-01: ansible_psrp_auth: certificate .* is not supported"):
        inventory.connection_options(inventory.hosts["wsus-01"])
