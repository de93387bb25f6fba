"""Playbook expressions in Jinja2's sandbox: filters, tests, magic variables, secrets, refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsusauto.config.inventory import inventory_from_dict
from wsusauto.config.playbook import playbook_from_data
from wsusauto.config.playvars import PlayVariables
from wsusauto.config.secrets import Secret
from wsusauto.config.templating import condition_holds, render, render_arguments
from wsusauto.errors import UsageError
from wsusauto.operations import get_operation

WHERE = "pb.yml: play 1 (p), task 2 (t), host wsus-01"
PASSWORD = "Lab-Secret-Pw-7c21"
VARS = {
    "name": "Wsus-Root",
    "port_text": "8531",
    "port": 8531,
    "replica_text": "yes",
    "names": ["eu", "us"],
    "nothing": None,
    "flag": False,
}


def inventory(extra_vars=None):
    return inventory_from_dict(
        {
            "all": {
                "vars": {"ansible_password": PASSWORD, "proxy_port": 9999},
                "children": {
                    "root": {"hosts": {"wsus-root": {"site": "HQ"}}},
                    "branch": {"hosts": {"wsus-01": {"wsus_upstream": "wsus-root", "site": "Berlin"}}},
                },
            }
        },
        "inv.yml",
        extra_vars,
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("{{ missing | default(8530) }}", 8530),
        ("{{ missing | d('x') }}", "x"),
        ("{{ nothing | default('x', true) }}", "x"),
        ("{{ missing | default(null) }}", None),  # YAML's null, as playbooks wrote it before Jinja
        ("{{ replica_text | bool }}", True),
        ("{{ 'Off' | bool }}", False),
        ("{{ 0 | bool }}", False),
        ("{{ port_text | int }}", 8531),
        ("{{ name | lower }}", "wsus-root"),
        ("{{ name | upper }}", "WSUS-ROOT"),
        ("{{ names | join(',') }}", "eu,us"),
        ("{{ name | regex_replace('^wsus-', 'w-', ignorecase=true) }}", "w-Root"),
        ("{{ name | regex_replace('(\\\\w+)-(\\\\w+)', '\\\\2.\\\\1') }}", "Root.Wsus"),
        ("{{ {'p': port, 'n': names} | to_json }}", '{"p": 8531, "n": ["eu", "us"]}'),
        ("{{ flag | ternary('on', 'off') }}", "off"),
        ("{{ nothing | ternary('on', 'off', 'unset') }}", "unset"),
        ("{{ missing is defined }}", False),
        ("{{ name is defined }}", True),
        ("{{ missing is undefined }}", True),
        ("{{ nothing is none }}", True),
        ("{{ name is none }}", False),
        ("{{ 'eu' is in names }}", True),
        ("{{ 'apac' in names }}", False),
        ("{{ names | map('upper') | list }}", ["EU", "US"]),
        ("{{ port }}", 8531),
        ("  {{ port }}  ", 8531),
        ("{{ names }}", ["eu", "us"]),
        ("https://{{ name | lower }}:{{ port }}/", "https://wsus-root:8531/"),
        ("{{ port if flag else 8530 }}", 8530),
    ],
)
def test_filters_and_tests(expression, expected):
    assert render(expression, VARS, WHERE) == expected


@given(st.text())
def test_a_value_is_data_never_a_template(value):
    assert render("{{ v }}", {"v": value}, WHERE) == value
    assert render("<{{ v }}>", {"v": value}, WHERE) == f"<{value}>"


def test_bool_refuses_words_that_are_not_booleans():
    with pytest.raises(UsageError, match=r"'maybe' is not a boolean"):
        render("{{ 'maybe' | bool }}", VARS, WHERE)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("port > 8000 and name | lower == 'wsus-root'", True),
        ("'us' in names and not flag", True),
        (["name is defined", "port_text | int == 8531"], True),
        (["name is defined", "flag"], False),
        ("missing", False),  # undefined and only tested for truth: false, as before
        ("not missing", True),
        ("replica_text", True),
        (True, True),
    ],
)
def test_when(condition, expected):
    assert condition_holds(condition, VARS, WHERE) is expected


def test_when_uses_an_undefined_variable_for_more_than_truth_is_an_error():
    with pytest.raises(
        UsageError, match=r"^pb\.yml: play 1 \(p\), task 2 \(t\), host wsus-01: variable 'missing'"
    ):
        condition_holds("missing == 'x'", VARS, WHERE)
    with pytest.raises(UsageError, match="takes an expression"):
        condition_holds({"a": 1}, VARS, WHERE)


def test_magic_variables():
    scope = PlayVariables(inventory())
    variables = scope.for_host(inventory().hosts["wsus-01"])
    assert render("{{ inventory_hostname }}", variables, WHERE) == "wsus-01"
    assert render("{{ group_names }}", variables, WHERE) == ["branch"]
    assert render("{{ groups['branch'] + groups.root }}", variables, WHERE) == ["wsus-01", "wsus-root"]
    assert render("{{ hostvars['wsus-root'].site }}", variables, WHERE) == "HQ"
    assert render("{{ hostvars[wsus_upstream]['site'] | lower }}", variables, WHERE) == "hq"
    assert condition_holds("inventory_hostname is in groups['branch']", variables, WHERE)
    with pytest.raises(UsageError, match=r"hostvars\['wsus-root'\] has no 'nope'"):
        render("{{ hostvars['wsus-root'].nope }}", variables, WHERE)


@pytest.mark.parametrize(
    "expression",
    [
        "{{ groups.branch.append('wsus-root') }}",
        "{{ hostvars.update({}) }}",
        "{{ hostvars['wsus-root'].pop('site') }}",
        "{{ group_names.clear() }}",
    ],
)
def test_magic_variables_are_read_only(expression):
    scope = PlayVariables(inventory())
    variables = scope.for_host(inventory().hosts["wsus-01"])
    with pytest.raises(UsageError) as info:
        render(expression, variables, WHERE)
    assert str(info.value).startswith(WHERE)
    assert scope.groups["branch"] == ["wsus-01"]
    assert inventory().hosts["wsus-root"].vars["site"] == "HQ"


def test_play_vars_sit_between_the_inventory_and_extra_vars():
    data = [
        {
            "hosts": "all",
            "vars": {"proxy_port": 8080, "site_name": "{{ site | lower }}-{{ inventory_hostname }}"},
            "tasks": [{"status": {}}],
        }
    ]
    play = playbook_from_data(data, "pb.yml").plays[0]
    host = inventory().hosts["wsus-01"]
    variables = PlayVariables(inventory()).for_host(host, play.vars, play.where)
    assert variables["proxy_port"] == 8080  # above the inventory's 9999
    assert variables["site_name"] == "berlin-wsus-01"
    with_extra = inventory({"proxy_port": 3128})
    assert PlayVariables(with_extra).for_host(with_extra.hosts["wsus-01"], play.vars)["proxy_port"] == 3128


@pytest.mark.parametrize(
    ("play_vars", "message"),
    [
        ({"hostvars": {}}, "set from the inventory"),
        ({"bad-name": 1}, "not a variable name"),
        (["x"], "vars must be a mapping"),
    ],
)
def test_play_vars_are_checked_when_the_playbook_is_read(play_vars, message):
    with pytest.raises(UsageError, match=message):
        playbook_from_data([{"hosts": "all", "vars": play_vars, "tasks": [{"status": {}}]}], "pb.yml")


def test_play_var_undefined_names_the_play_var_and_host():
    play = playbook_from_data(
        [{"name": "p", "hosts": "all", "vars": {"x": "{{ nope }}"}, "tasks": [{"status": {}}]}], "pb.yml"
    ).plays[0]
    with pytest.raises(UsageError, match=r"^pb\.yml: play 1 \(p\), vars x, host wsus-01: variable 'nope'"):
        PlayVariables(inventory()).for_host(inventory().hosts["wsus-01"], play.vars, play.where)


def test_a_secret_goes_whole_to_a_secret_argument_only():
    variables = PlayVariables(inventory()).for_host(inventory().hosts["wsus-01"])
    args = render_arguments(
        {"enabled": True, "password": "{{ hostvars['wsus-root'].ansible_password }}"},
        variables,
        WHERE,
        secret_arguments=["password"],
    )
    assert isinstance(args["password"], Secret) and args["password"].reveal() == PASSWORD
    assert render_arguments({"password": "{{ ansible_password }}"}, variables, WHERE, ["password"])[
        "password"
    ] == Secret(PASSWORD)


SECRET_MISUSES = [
    {"user": "{{ ansible_password }}"},  # whole, but not a secret argument
    {"password": "pw={{ ansible_password }}"},  # inside text
    {"password": ["{{ ansible_password }}"]},  # inside a list
    {"user": "{{ ansible_password | lower }}"},
    {"user": "{{ ansible_password | to_json }}"},
    {"user": "{{ ansible_password | length }}"},
    {"user": "{{ ansible_password | regex_replace('x', 'y') }}"},
    {"user": "{{ [ansible_password] | join(',') }}"},
    {"user": "{{ ansible_password == 'guess' }}"},
    {"user": "{{ ansible_password[0] }}"},
    {"user": "{{ ansible_password.reveal() }}"},
    {"user": "{{ hostvars['wsus-root']['ansible_password'] ~ '' }}"},
    {"user": "{{ 'x' if ansible_password else 'y' }}"},
    {"user": "x{{ [ansible_password] }}"},
    {"user": "{{ [ansible_password] | string }}"},
    {"user": "{{ hostvars['wsus-root'] | dictsort | string }}"},
    {"user": "{{ hostvars['wsus-root'] | to_json }}"},
]
WHOLE_ONLY = "is a secret: it can only be given whole, as '{{ "


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        *((arguments, WHOLE_ONLY) for arguments in SECRET_MISUSES),
        ({"user": "{{ ansible_password.secret }}"}, "'secret' of a MaskedSecret is out of reach"),
    ],
)
def test_a_secret_refuses_every_other_use(arguments, reason):
    variables = PlayVariables(inventory()).for_host(inventory().hosts["wsus-01"])
    with pytest.raises(UsageError) as info:
        render_arguments(arguments, variables, WHERE, secret_arguments=["password"])
    message = str(info.value)
    assert message.startswith(WHERE) and "\n" not in message
    assert PASSWORD not in message
    assert reason in message


# Each must fail at once with one line naming the place: a test that hangs here is a failure.
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("{{ ''.__class__ }}", "'__class__' of a str is out of reach"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "out of reach"),
        ("{{ range(10**9) | list }}", "range of 1000000000 items is too big"),
        ("{{ range(10**5) | list | length }}{{ range(10**5) | list | length }}", "too big"),
        ("{{ cycler.__init__ }}", "'cycler' is not defined"),
        ("{{ names.__len__() }}", "out of reach"),
        ("{{ names.append('x') }}", "'append' of a list is out of reach"),
        ("{{ {'a': 1}.setdefault('b', 2) }}", "out of reach"),
        ("{% include 'pb.yml' %}", "include, import and extends are not available"),
        ("{% extends 'pb.yml' %}", "include, import and extends are not available"),
        ("{% import 'pb.yml' as x %}{{ x }}", "include, import and extends are not available"),
        ("{% for i in range(10**5) %}{% for j in range(10**5) %}x{% endfor %}{% endfor %}", "statements"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "statements"),
        ("{{ 'x' * 10**9 }}", "would make more than"),
        ("{{ [names] * 10**9 }}", "would make more than"),
        ("{{ 2 ** (10 ** 6) }}", "bits"),
        ("{{ 'x'.ljust(10**9) }}", "calling ljust is not allowed"),
        ("{{ '{:>999999999}'.format(1) }}", "calling format is not allowed"),
        ("{{ '%0999999999d' % 1 }}", "widths of at most 1000"),
        ("{{ 'x' | center(10**9) }}", "No filter named 'center'"),
        ("{{ lipsum(10**6) }}", "'lipsum' is not defined"),
        ("{{ 'ab' " + "| replace('a', 'aaaaaaaaaa') " * 8 + "}}", "replace would make more than"),
        ("{{ 'a' * 30 ~ '!' | regex_replace('(a+)+$', '') }}", "repeats a repeat"),
        ("{{ ('a' * 500000) | regex_replace('', 'bbbbbbbbbb') }}", "would make more than"),
        ("{{ range(10000) | map('string') | join('x' * 999) }}", "would make more than"),
        ("{{ " + " + ".join(["1"] * 400) + " }}", "too long"),
        ("{{ " + "(" * 200 + "1" + ")" * 200 + " }}", "too deeply"),
        ("{{ x }", "not a valid expression"),
    ],
)
def test_hostile_expressions_fail_fast_with_one_line(expression, reason):
    with pytest.raises(UsageError) as info:
        render(expression, {**VARS, "x": 1}, WHERE)
    message = str(info.value)
    assert message.startswith(WHERE + ": ") and "\n" not in message
    assert reason in message


def test_hostile_when_fails_the_same_way():
    with pytest.raises(UsageError, match="out of reach"):
        condition_holds("name.__class__", VARS, WHERE)
    with pytest.raises(UsageError, match="too big"):
        condition_holds("range(10**9) | list", VARS, WHERE)


@pytest.mark.parametrize(
    "password, variables",
    [
        ("Written-Out-Pw-4411", {}),  # the password written into the playbook
        ("{{ proxy_pw }}", {"proxy_pw": "Written-Out-Pw-4411"}),  # a variable not named as a password
    ],
)
def test_a_password_given_as_text_is_refused_without_repeating_it(password, variables):
    raw = render_arguments(
        {"enabled": True, "name": "proxy.corp", "port": 8080, "user": "u", "password": password},
        variables,
        WHERE,
        secret_arguments=["password"],
    )
    raw["allow_cleartext_proxy_password"] = False
    with pytest.raises(UsageError) as refused:
        get_operation("proxy").validate(raw, WHERE)
    message = str(refused.value)
    assert "Written-Out-Pw-4411" not in message
    assert "argument password takes a secret" in message and "\n" not in message


def test_reading_a_playbook_leaves_no_expression_budget_behind():
    # Compiling folds constant filters by running them; their spending must end with the expression,
    # or a process-wide budget fills up over many playbooks.
    import contextvars

    from wsusauto.config import expression_sandbox
    from wsusauto.config.templating import check_expressions

    def read() -> object:
        check_expressions({"a": "{{ 'no budget left behind' | upper }}"}, WHERE)
        check_expressions("'folded' | upper == 'FOLDED'", WHERE, condition=True)
        return expression_sandbox._budget.get()

    assert contextvars.copy_context().run(read) is None


@pytest.mark.parametrize("password", [83172946, 8317.2946])  # YAML reads an all-digit password as a number
def test_a_password_written_as_a_number_is_masked_too(password):
    inv = inventory_from_dict(
        {"all": {"hosts": {"wsus-01": {"ansible_user": "u", "ansible_password": password}}}}, "inv.yml"
    )
    assert inv.connection_options(inv.hosts["wsus-01"]).password == Secret(str(password))
    variables = PlayVariables(inv).for_host(inv.hosts["wsus-01"])
    args = render_arguments({"password": "{{ ansible_password }}"}, variables, WHERE, ["password"])
    assert args["password"] == Secret(str(password))
    with pytest.raises(UsageError) as info:
        render_arguments({"user": "{{ ansible_password }}"}, variables, WHERE, ["password"])
    assert str(password) not in str(info.value)


def test_a_filter_used_outside_an_evaluation_leaves_no_budget_behind():
    import contextvars

    from wsusauto.config import expression_sandbox

    def use() -> object:
        assert expression_sandbox.to_json({"a": 1}) == '{"a": 1}'
        assert list(expression_sandbox.budgeted_range(3)) == [0, 1, 2]
        return expression_sandbox._budget.get()

    assert contextvars.copy_context().run(use) is None
