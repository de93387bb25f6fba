"""Security over the lab with the real client: no credential anywhere, TLS validated by default,
no Basic over plain HTTP, hostile values are data, clear-text passwords earn a warning."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import structlog
import yaml

from tests.lab_fixtures import lab_inventory, record_scripts, running_lab, small_topology
from tests.lab_fixtures import run_cli as wsusauto
from wsusauto import exitcodes
from wsusauto.client.session import Session
from wsusauto.client.snippets import registry
from wsusauto.config.inventory import inventory_from_dict
from wsusauto.config.secrets import Secret
from wsusauto.errors import AuthenticationFailed, RemoteError, UsageError
from wsusauto.lab.runtime import LAB_USER
from wsusauto.lab.wsman import EndpointFaults
from wsusauto.operations import run_operation
from wsusauto.output.log import configure_logging
from wsusauto.state.facts import gather_facts

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
LOGIN_CANARY = "Canary-Login-Pw-7d2b19e4"
PROXY_CANARY = "Canary-Proxy-Pw-c3a8f051"

# Every command line the canary scan runs ({inv}: password in the inventory file, {inv_env}: in an
# environment variable, {out}: a directory for files the command writes). Adding a command is one line.
COMMANDS = [
    ["facts", "-i", "{inv}"],
    ["facts", "-i", "{inv_env}", "--json"],
    ["run", str(PLAYBOOKS / "fleet-status.yml"), "-i", "{inv}", "--json", "--journal", "{out}/j.jsonl"],
    [
        "run",
        str(PLAYBOOKS / "set-proxy.yml"),
        "-i",
        "{inv_env}",
        "-e",
        "proxy_name=proxy.corp",
        "-e",
        "@{extra}",  # proxy_user: "{{ ansible_password }}": a template in a value is data, not evaluated
        "-e",
        "proxy_update_password=always",
        "--diff",
        "--journal",
        "{out}/j.jsonl",
    ],
    [
        "run",
        str(PLAYBOOKS / "set-proxy.yml"),
        "-i",
        "{inv}",
        "-e",
        "proxy_name=p",
        "-e",
        "proxy_user=u",
        "-C",
    ],
    [
        "plan-schedule",
        "-i",
        "{inv}",
        "--max-concurrent-per-upstream",
        "3",
        "--json",
        "--svg",
        "{out}/plan.svg",
    ],
    ["diagnose", "-i", "{inv}", "--json"],
    ["report", "-i", "{inv}", "--html", "{out}/report.html", "--json"],
]
# Each command runs once per way of logging: console at debug with tracebacks, JSON lines at debug.
LOGGING = [["--debug"], ["--log-format", "json", "--log-level", "debug"]]


def cli_commands() -> set[str]:
    text = subprocess.run(
        [sys.executable, "-m", "wsusauto.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    section = text.split("Commands:", 1)[1]
    return {line.split()[0] for line in section.splitlines() if line.strip()}


def test_every_cli_command_is_in_the_canary_scan():
    scanned = {command[0] for command in COMMANDS} | {"lab"}  # the lab serves; it holds its own password
    assert cli_commands() <= scanned


def _write_lab_credentials(state_dir: Path, password: str) -> None:
    """The lab takes its login password from its state directory: give it the canary."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "lab-credentials.json").write_text(json.dumps({"username": LAB_USER, "password": password}))


def test_canary_passwords_appear_in_no_output_log_journal_report_or_error(tmp_path):
    _write_lab_credentials(tmp_path / "state", LOGIN_CANARY)
    with running_lab(tmp_path, small_topology(4)) as lab:
        assert lab.password == LOGIN_CANARY
        inv = lab.write_inventory(tmp_path / "inventory.yml")  # ansible_password in clear
        data = yaml.safe_load(inv.read_text())
        del data["all"]["vars"]["ansible_password"]
        data["all"]["vars"]["wsusauto_password_env"] = "WSUSAUTO_CANARY_LOGIN"
        inv_env = tmp_path / "inventory-env.yml"
        inv_env.write_text(yaml.safe_dump(data))
        lab.set_faults("wsus-02", EndpointFaults(auth_reject=True))  # authentication failure texts
        lab.set_faults("wsus-03", EndpointFaults(down=True))  # connection failure texts
        env = {"WSUSAUTO_CANARY_LOGIN": LOGIN_CANARY, "WSUS_PROXY_PASSWORD": PROXY_CANARY}
        out = tmp_path / "out"
        out.mkdir()
        extra = tmp_path / "extra.yml"
        extra.write_text(yaml.safe_dump({"proxy_user": "{{ ansible_password }}"}))
        texts: dict[str, str] = {}
        for command in COMMANDS:
            line = [part.format(inv=inv, inv_env=inv_env, out=out, extra=extra) for part in command]
            for logging in LOGGING:
                result = wsusauto(*logging, *line, env=env)
                name = " ".join([*logging, *command])
                assert result.returncode in (
                    exitcodes.OK,
                    exitcodes.HOST_FAILED,
                    exitcodes.HOST_UNREACHABLE,
                ), (
                    name,
                    result.returncode,
                    result.stderr[-2000:],
                )
                assert "unexpected" not in result.stderr, (name, result.stderr[-2000:])
                texts[f"{name}: stdout"] = result.stdout
                texts[f"{name}: stderr"] = result.stderr
        # the logs did log (debug lines, JSON lines), and the failures were reported
        everything = "\n".join(texts.values())
        assert '"level": "debug"' in everything and "[debug" in everything
        assert "refused the credentials" in everything and "connection refused" in everything
        for written in sorted(out.iterdir()):
            texts[str(written)] = written.read_text(encoding="utf-8")
        assert {p.name for p in out.iterdir()} >= {"j.jsonl", "plan.svg", "report.html"}
        # the proxy password did reach the servers that answered, as a SecureString
        assert lab.handlers.servers["wsus-01"].db.get("ProxyPassword") == PROXY_CANARY
        assert lab.handlers.servers["wsus-01"].get("ProxyUserName") == "{{ ansible_password }}"

        # exception texts from the library, with tracebacks
        inventory = lab_inventory(lab)
        errors = []
        for host in ("wsus-02", "wsus-03"):
            try:
                with Session(host, inventory.connection_options(inventory.hosts[host])) as session:
                    gather_facts(session)
            except Exception as exc:
                errors.append(exc)
        assert [type(e).__name__ for e in errors] == ["AuthenticationFailed", "Unreachable"]
        for exc in errors:
            texts[f"exception {exc!r}"] = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
        options = inventory.connection_options(inventory.hosts["wsus-01"])
        texts["connection options"] = repr(options)

        # a logged traceback: the password in the exception's text and in a local of the failing frame
        for fmt in ("console", "json"):
            logged = _logged_traceback(fmt, options.password)
            assert "_connect_with" in logged and "RuntimeError: login refused for wsusadmin:" in logged
            texts[f"logged traceback ({fmt})"] = logged

    assert LOGIN_CANARY in inv.read_text()  # the scan does find the canary where it is meant to be
    hits = [
        where for where, text in texts.items() for canary in (LOGIN_CANARY, PROXY_CANARY) if canary in text
    ]
    print(f"canary scan: {len(texts)} texts, {sum(map(len, texts.values()))} characters, {len(hits)} hits")
    assert hits == []


def _connect_with(password: Secret) -> None:
    revealed = password.reveal()  # a local of the failing frame that holds the password
    raise RuntimeError(f"login refused for wsusadmin:{revealed}")


def _logged_traceback(fmt: str, password: Secret) -> str:
    """What the product's logging writes for ``log.exception()`` of a failure that carries ``password``."""
    stream = io.StringIO()
    configure_logging(fmt, "debug", stream)
    try:
        _connect_with(password)
    except RuntimeError:
        structlog.get_logger("canary").exception("connecting failed", host="wsus-01")
    return stream.getvalue()


# -- TLS ----------------------------------------------------------------------------------------


def _https_inventory(lab, tmp_path: Path, **connection) -> Path:
    data = lab.inventory(auth="basic", protocol="https")
    del data["all"]["vars"]["ansible_psrp_ca_cert"]
    data["all"]["vars"].update(connection)
    path = tmp_path / f"https-{len(list(tmp_path.glob('https-*')))}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_tls_certificate_validation_is_on_by_default(tmp_path):
    with running_lab(tmp_path, small_topology(2)) as lab:
        default = wsusauto("facts", "-i", str(_https_inventory(lab, tmp_path)), "--json")
        assert default.returncode == exitcodes.HOST_UNREACHABLE
        error = json.loads(default.stdout)["wsus-root"]["error"]
        assert "TLS" in error and "CERTIFICATE_VERIFY_FAILED" in error and "ansible_psrp_ca_cert" in error
        assert "certificate validation is turned off" not in default.stderr

        with_ca = _https_inventory(lab, tmp_path, ansible_psrp_ca_cert=str(lab.ca_cert_path))
        result = wsusauto("facts", "-i", str(with_ca), "--json")
        assert result.returncode == 0, result.stdout
        assert "certificate validation is turned off" not in result.stderr

        ignore = _https_inventory(lab, tmp_path, ansible_psrp_cert_validation="ignore")
        for command in (
            ["facts", "-i", str(ignore)],
            ["plan-schedule", "-i", str(ignore), "--max-concurrent-per-upstream", "3"],
        ):
            result = wsusauto(*command)
            assert result.returncode == 0, result.stderr
            assert "TLS certificate validation is turned off" in result.stderr, result.stderr
            assert "ansible_psrp_ca_cert" in result.stderr


# -- Basic over plain HTTP ----------------------------------------------------------------------


@pytest.mark.parametrize("encryption", ["auto", "always", "never"])
def test_basic_over_plain_http_is_refused_before_any_connection(tmp_path, encryption, monkeypatch):
    with running_lab(tmp_path, small_topology(2), allow_unencrypted=True) as lab:
        data = lab.inventory(auth="basic", protocol="http")
        data["all"]["vars"]["ansible_psrp_message_encryption"] = encryption
        inventory = tmp_path / "basic-http.yml"
        inventory.write_text(yaml.safe_dump(data))
        scripts = record_scripts(lab, monkeypatch)
        for command in (
            ["facts", "-i", str(inventory)],
            ["run", str(PLAYBOOKS / "fleet-status.yml"), "-i", str(inventory)],
            ["plan-schedule", "-i", str(inventory)],
        ):
            result = wsusauto(*command)
            assert result.returncode == exitcodes.USAGE, (command, result.stdout, result.stderr)
            assert "Basic authentication over plain HTTP sends the password in clear" in result.stderr
            errors = [line for line in result.stderr.splitlines() if line.startswith("wsusauto: ")]
            assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
        assert scripts == []  # nothing ran anywhere


# -- hostile values -----------------------------------------------------------------------------

HOSTILE = [
    "'; Stop-Service WsusService; '",
    '"; $(Remove-Item C:\\ -Recurse -Force) "',
    "`$env:COMPUTERNAME`n; exit 1",
    "$(whoami)@{a=1}|Out-Null & calc.exe",
    "line one\nline two\r\nthree;four",
    "</S><S N='x'>]]><!-- &amp; &lt;Obj RefId=\"0\">",
    "{{ ansible_password }} {% raw %}",
    "tab\tand ü 漢字 🙂 \u202eevil",
    "x" * 4000,
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_in_every_user_field_reach_the_lab_as_data(tmp_path, hostile, monkeypatch):
    groups = {"Servers": ["srv1.corp.example"], "All Computers": ["srv1.corp.example", "pc7.corp.example"]}
    topology = small_topology(2, **{"wsus-root": {"initial": {"ComputerTargetGroups": groups}}})
    with running_lab(tmp_path, topology) as lab:
        scripts = record_scripts(lab, monkeypatch)
        inventory = lab_inventory(lab)
        server = lab.handlers.servers["wsus-root"]
        with Session("wsus-root", inventory.connection_options(inventory.hosts["wsus-root"])) as session:
            proxy = {
                "enabled": True,
                "name": hostile,
                "port": 3128,
                "anonymous": False,
                "user": hostile,
                "domain": hostile,
                "password": Secret(hostile),
                "update_password": "always",
            }
            proxy_result = run_operation(session, "proxy", proxy)
            assert not proxy_result.failed
            assert server.get("ProxyName") == hostile
            assert server.get("ProxyUserName") == hostile and server.get("ProxyUserDomain") == hostile
            assert server.db.get("ProxyPassword") == hostile

            group = {"group": hostile, "computers": ["pc7.corp.example"], "create": True}
            assert run_operation(session, "computer_groups", group).changed
            assert gather_facts(session).computer_target_groups[hostile] == ("pc7.corp.example",)
            with pytest.raises(RemoteError) as info:  # echoed back by the server, byte for byte
                session.invoke(
                    "set_computer_group_membership",
                    GroupName="Servers",
                    ComputerNames=[hostile],
                    CreateGroup=False,
                    RemoveFromGroupName="",
                    RemoveComputerNames=[],
                )
            assert f"The computer '{hostile}' has not reported to this WSUS server." in info.value.remote_text

            with pytest.raises(UsageError):  # not a server name: refused before anything is sent
                run_operation(session, "update_source", {"source": "upstream", "upstream": hostile})
        shipped = {snippet.text for snippet in registry().values()}
        assert scripts and all(script in shipped for script in scripts)


def test_hostile_login_name_is_data_for_the_authentication(tmp_path):
    with running_lab(tmp_path, small_topology(1)) as lab:
        inventory = inventory_from_dict(
            {
                "all": {
                    "vars": {**lab.inventory()["all"]["vars"], "ansible_user": "a'; $(whoami) \\ DOM\\x"},
                    "hosts": {"wsus-root": {"ansible_host": lab.endpoints[0].address}},
                }
            }
        )
        with (
            pytest.raises(AuthenticationFailed),
            Session("wsus-root", inventory.connection_options(inventory.hosts["wsus-root"])) as session,
        ):
            session.open()


# -- passwords in clear -------------------------------------------------------------------------


def test_a_password_in_clear_in_the_inventory_earns_a_warning_naming_the_alternatives(tmp_path):
    with running_lab(tmp_path, small_topology(2)) as lab:
        inventory = lab.write_inventory(tmp_path / "inventory.yml")  # the lab's own, in clear
        data = yaml.safe_load(inventory.read_text())
        del data["all"]["vars"]["ansible_password"]
        data["all"]["vars"]["wsusauto_password_env"] = "LAB_PW"
        from_env = tmp_path / "from-env.yml"
        from_env.write_text(yaml.safe_dump(data))
        commands = [
            ["facts", "-i", "{inv}"],
            ["run", str(PLAYBOOKS / "fleet-status.yml"), "-i", "{inv}"],
            ["plan-schedule", "-i", "{inv}", "--max-concurrent-per-upstream", "3"],
            ["diagnose", "-i", "{inv}"],
            ["report", "-i", "{inv}", "--json"],
        ]
        for command in commands:
            warned = wsusauto(*[c.format(inv=inventory) for c in command])
            assert warned.returncode in (0, 2), (command, warned.stderr)  # diagnose: 2 with findings
            assert "a password is written in clear" in warned.stderr, command
            assert "wsusauto_password_env" in warned.stderr and "wsusauto_password_file" in warned.stderr
            quiet = wsusauto(*[c.format(inv=from_env) for c in command], env={"LAB_PW": lab.password})
            assert quiet.returncode == warned.returncode, (command, quiet.stderr)
            assert "written in clear" not in quiet.stderr, (command, quiet.stderr)
