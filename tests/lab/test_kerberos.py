"""Kerberos against a real MIT KDC: the lab's realm (``krb5kdc`` on the lab's loopback address),
the lab's endpoints as acceptors with its keytab, and the real pypsrp client through wsusauto.

One realm and one lab serve the whole module (the KDC starts in a fraction of a second, but each
``wsusauto`` process costs a second or two). Where MIT krb5 or python-gssapi is missing the module
skips with one line; ``.ci/run`` installs both and sets WSUSAUTO_KERBEROS_TEST=required, so there a
missing piece fails instead of hiding behind a skip.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import struct
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from tests.lab_fixtures import next_first_address, run_cli, running_lab, small_topology
from wsusauto.client.session import Session
from wsusauto.demo import start_lab, stop_lab
from wsusauto.errors import AuthenticationFailed
from wsusauto.lab.kdc import missing_programs
from wsusauto.state.facts import gather_facts

pytestmark = pytest.mark.kerberos

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


def _unavailable() -> str | None:
    missing = missing_programs()
    if missing:
        programs = ", ".join(missing)
        return f"MIT krb5 is not installed ({programs}): apt-get install krb5-kdc krb5-admin-server krb5-user"
    try:
        import gssapi  # noqa: F401  (pyspnego's Kerberos backend)
        import krb5  # noqa: F401  (pyspnego's password and keytab logins)
    except ImportError as exc:
        return f"pyspnego has no Kerberos here ({exc}): pip install 'pyspnego[kerberos]' (needs libkrb5-dev)"
    return None


_REASON = _unavailable()
if _REASON is not None:
    if os.environ.get("WSUSAUTO_KERBEROS_TEST") == "required":
        pytest.fail(f"Kerberos tests required but cannot run: {_REASON}", pytrace=False)
    pytest.skip(f"no Kerberos realm: {_REASON}", allow_module_level=True)


TOPOLOGY = {
    "wsus-01": {"auth_methods": ["kerberos"]},  # NTLM disabled, as in a domain that allows only Kerberos
}


@pytest.fixture(scope="module")
def lab(make_module_lab, tmp_path_factory):
    lab = make_module_lab(small_topology(3, **TOPOLOGY), kerberos=True)
    directory = tmp_path_factory.mktemp("kerberos")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KRB5_CONFIG", str(lab.realm.krb5_conf))
        # Nothing of this machine's own Kerberos state: no cache, no client keytab unless a test gives one.
        env.setenv("KRB5CCNAME", f"FILE:{directory / 'no-such-cache'}")
        env.setenv("KRB5_CLIENT_KTNAME", f"FILE:{directory / 'no-such-keytab'}")
        yield lab


def _session(lab, host: str, **inventory_options) -> Session:
    host_vars = inventory_options.pop("host_vars", {})
    data = lab.inventory(**inventory_options)
    data["all"]["children"]["wsus"]["hosts"][host].update(host_vars)
    from wsusauto.config.inventory import inventory_from_dict

    inventory = inventory_from_dict(data, "<kerberos lab>")
    return Session(host, inventory.connection_options(inventory.hosts[host]), default_deadline=30)


def _write_inventory(lab, path: Path, **options) -> str:
    lab.write_inventory(path, **options)
    return str(path)


def _kinit(lab, cache: Path, *extra: str) -> None:
    # The password goes on stdin, never into argv.
    subprocess.run(
        ["kinit", "-c", f"FILE:{cache}", *extra, lab.realm.user_principal],
        input=lab.password + "\n",
        text=True,
        capture_output=True,
        check=True,
        env={**os.environ, "KRB5_CONFIG": str(lab.realm.krb5_conf)},
        timeout=30,
    )


def _auth_context(session: Session):
    (context,) = session._wsman.transport.session.auth.contexts.values()
    return context


# -- logins that work ----------------------------------------------------------------------------


def test_facts_and_a_run_over_kerberos_with_message_encryption_and_a_password(lab, tmp_path):
    """HTTP: the lab refuses unencrypted SOAP there, so every answer went through Kerberos' wrap."""
    path = _write_inventory(lab, tmp_path / "inventory.yml", auth="kerberos", protocol="http")
    facts = run_cli("facts", "-i", path, "--json")
    assert facts.returncode == 0, facts.stdout + facts.stderr
    assert sorted(json.loads(facts.stdout)) == ["wsus-01", "wsus-02", "wsus-root"]
    run = run_cli("run", str(PLAYBOOKS / "designate-replicas.yml"), "-i", path, "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(run.stdout)
    assert all(not task["failed"] for tasks in results["hosts"].values() for task in tasks)
    with _session(lab, "wsus-01", auth="kerberos", protocol="http") as session:
        facts_01 = gather_facts(session)
        context = _auth_context(session)
        assert session._wsman.transport.encryption.protocol == "application/HTTP-SPNEGO-session-encrypted"
    assert context.negotiated_protocol == "kerberos"
    assert facts_01.is_replica_server is True and facts_01.upstream_wsus_server_name == "wsus-root"
    assert lab.password not in facts.stdout + facts.stderr + run.stdout + run.stderr


def test_facts_and_a_run_over_kerberos_on_https(lab, tmp_path):
    path = _write_inventory(lab, tmp_path / "inventory.yml", auth="kerberos", protocol="https")
    assert yaml.safe_load(Path(path).read_text())["all"]["vars"]["ansible_psrp_protocol"] == "https"
    facts = run_cli("facts", "-i", path, "--json")
    assert facts.returncode == 0, facts.stdout + facts.stderr
    run = run_cli("run", str(PLAYBOOKS / "designate-replicas.yml"), "-i", path, "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert all(not t["failed"] for tasks in json.loads(run.stdout)["hosts"].values() for t in tasks)
    with _session(lab, "wsus-root", auth="kerberos", protocol="https") as session:
        gather_facts(session)
        assert _auth_context(session).negotiated_protocol == "kerberos"
        assert session._wsman.transport.encryption is None  # TLS protects it; no WinRM wrapping


def test_a_ticket_cache_from_kinit_and_no_password(lab, tmp_path):
    cache = tmp_path / "ccache"
    _kinit(lab, cache)
    path = _write_inventory(lab, tmp_path / "inventory.yml", auth="kerberos", protocol="http", password=False)
    assert "ansible_password" not in Path(path).read_text()
    facts = run_cli("facts", "-i", path, "--json", env={"KRB5CCNAME": f"FILE:{cache}"})
    assert facts.returncode == 0, facts.stdout + facts.stderr
    assert sorted(json.loads(facts.stdout)) == ["wsus-01", "wsus-02", "wsus-root"]
    listed = subprocess.run(
        ["klist", "-c", f"FILE:{cache}"], capture_output=True, text=True, env=os.environ, check=True
    ).stdout
    assert "WSMAN/wsus-01@" in listed  # the service tickets came from the cache's TGT


def test_a_keytab_and_no_password(lab, tmp_path):
    path = _write_inventory(lab, tmp_path / "inventory.yml", auth="kerberos", protocol="http", password=False)
    env = {"KRB5_CLIENT_KTNAME": f"FILE:{lab.realm.user_keytab}", "KRB5CCNAME": f"FILE:{tmp_path / 'cc'}"}
    facts = run_cli("facts", "-i", path, "--json", env=env)
    assert facts.returncode == 0, facts.stdout + facts.stderr
    assert sorted(json.loads(facts.stdout)) == ["wsus-01", "wsus-02", "wsus-root"]


def test_negotiate_picks_kerberos_on_a_server_that_takes_only_kerberos(lab):
    with _session(lab, "wsus-01", auth="negotiate", protocol="http") as session:
        assert gather_facts(session).name == "wsus-01"
        assert _auth_context(session).negotiated_protocol == "kerberos"


def test_negotiate_falls_back_to_ntlm_on_a_server_outside_the_realm(lab, tmp_path):
    """A server whose auth_methods leave Kerberos out has no key in the realm (no SPN): Negotiate
    falls back to NTLM with the same user@REALM (its UPN), and Kerberos alone says why it cannot."""
    topology = small_topology(1, **{"wsus-root": {"auth_methods": ["basic", "ntlm"]}})
    with running_lab(tmp_path, topology, kerberos=True) as outside, pytest.MonkeyPatch.context() as env:
        env.setenv("KRB5_CONFIG", str(outside.realm.krb5_conf))
        with _session(outside, "wsus-root", auth="negotiate") as session:
            assert gather_facts(session).name == "wsus-root"
            assert _auth_context(session).negotiated_protocol == "ntlm"
        message = _login_error(_session(outside, "wsus-root", auth="kerberos"))
        assert "the KDC does not know the service principal WSMAN/wsus-root" in message


def test_negotiate_service_names_the_spn(lab):
    with _session(
        lab, "wsus-root", auth="kerberos", host_vars={"ansible_psrp_negotiate_service": "HTTP"}
    ) as s:
        assert gather_facts(s).name == "wsus-root"


def test_a_ticket_for_one_server_does_not_open_another(lab):
    """Every lab server's key is in one keytab; each endpoint still takes only tickets for itself."""
    session = _session(
        lab, "wsus-02", auth="kerberos", host_vars={"ansible_psrp_negotiate_hostname_override": "wsus-root"}
    )
    # The server refused the ticket itself: the KDC issued it (for wsus-root), so no KDC error.
    refused = r"^wsus-02: [\d.]+:\d+ refused the credentials of 'wsusadmin@WSUSLAB.TEST'$"
    with pytest.raises(AuthenticationFailed, match=refused), session:
        session.open()


def test_strict_channel_binding_over_https(lab):
    """CbtHardeningLevel=Strict: a Kerberos login over HTTPS must carry the TLS channel binding
    (MIT's acceptor alone would take one without; the lab checks the context's channel-bound flag)."""
    spec = lab._server.specs["wsus-root"]  # read by each new connection; put back below
    spec.cbt_strict = True
    try:
        with _session(lab, "wsus-root", auth="kerberos", protocol="https") as session:
            assert gather_facts(session).name == "wsus-root"
        unbound = _session(lab, "wsus-root", auth="kerberos", protocol="https")
        unbound.options = dataclasses.replace(unbound.options, negotiate_send_cbt=False)
        refused = r"^wsus-root: [\d.]+:5986 refused the credentials of 'wsusadmin@WSUSLAB.TEST'$"
        with pytest.raises(AuthenticationFailed, match=refused), unbound:
            unbound.open()
    finally:
        spec.cbt_strict = False


def test_the_kerberos_scheme_with_kerberos_message_encryption(lab):
    """``Authorization: Kerberos`` (not Negotiate) and MIME protocol HTTP-Kerberos-session-encrypted,
    both ways, with pyspnego's client context and pypsrp's own WinRM encryption."""
    import spnego
    from pypsrp.encryption import WinRMEncryption

    endpoint = lab.endpoints[0]
    url = f"http://{endpoint.address}:{lab.http_port}/wsman"
    context = spnego.client(
        lab.realm.user_principal,
        lab.password,
        hostname=endpoint.name,
        service="WSMAN",
        protocol="kerberos",
        options=spnego.NegotiateOptions.wrapping_winrm,
    )
    with requests.Session() as http:
        http.trust_env = False
        challenge = http.post(url, data=b"")
        assert "Kerberos" in challenge.headers["WWW-Authenticate"]
        token = base64.b64encode(context.step()).decode()
        answer = http.post(url, data=b"", headers={"Authorization": f"Kerberos {token}"})
        assert answer.status_code == 200
        scheme, _, reply = answer.headers["WWW-Authenticate"].partition(" ")
        assert scheme == "Kerberos"
        context.step(base64.b64decode(reply))
        assert context.complete
        encryption = WinRMEncryption(context, WinRMEncryption.KERBEROS)
        message = (
            b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            b'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header>'
            b"<wsa:Action>http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate</wsa:Action>"
            b"<wsa:MessageID>uuid:00000000-0000-0000-0000-000000000001</wsa:MessageID>"
            b"</s:Header><s:Body/></s:Envelope>"
        )
        content_type, payload = encryption.wrap_message(message)
        boundary = 'boundary="Encrypted Boundary"'
        sent = http.post(
            url,
            data=payload,
            headers={"Content-Type": f'{content_type};protocol="{encryption.protocol}";{boundary}'},
        )
    assert f'protocol="{WinRMEncryption.KERBEROS}"' in sent.headers["Content-Type"]
    fault = encryption.unwrap_message(sent.content, "Encrypted Boundary").decode()
    assert "<s:Fault>" in fault  # the lab read the sealed request and sealed its answer


def test_lab_serve_writes_a_krb5_conf_and_a_kerberos_inventory(tmp_path):
    """`wsusauto lab serve --auth kerberos` as a user runs it, its endpoints sharded across two
    worker processes (each installs the keytab), then `wsusauto facts` with what it wrote."""
    topology = tmp_path / "topology.yml"
    topology.write_text(
        yaml.safe_dump(
            {"servers": [{"name": "wsus-root"}, {"name": "wsus-eu", "auth_methods": ["kerberos"]}]}
        )
    )
    inventory, krb5_conf = tmp_path / "lab.yml", tmp_path / "krb5.conf"
    args = [
        "--topology",
        str(topology),
        "--workers",
        "2",
        "--auth",
        "kerberos",
        "--krb5-conf-out",
        str(krb5_conf),
    ]
    lab = start_lab(tmp_path / "state", inventory, "--first-address", next_first_address(), *args)
    try:
        data = yaml.safe_load(inventory.read_text())
        assert data["all"]["vars"]["ansible_user"] == "wsusadmin@WSUSLAB.TEST"
        assert data["all"]["vars"]["ansible_psrp_auth"] == "kerberos"
        hosts = data["all"]["children"]["wsus"]["hosts"]
        assert hosts["wsus-eu"]["ansible_psrp_negotiate_hostname_override"] == "wsus-eu"
        assert "default_realm = WSUSLAB.TEST" in krb5_conf.read_text()
        facts = run_cli("facts", "-i", str(inventory), "--json", env={"KRB5_CONFIG": str(krb5_conf)})
        assert facts.returncode == 0, facts.stdout + facts.stderr
        assert sorted(json.loads(facts.stdout)) == ["wsus-eu", "wsus-root"]
    finally:
        code = stop_lab(lab)
    assert code == 0
    assert "stopped" in lab.stdout.read()


# -- clear errors ----------------------------------------------------------------------------------


def _login_error(session: Session) -> str:
    with pytest.raises(AuthenticationFailed) as info, session:
        session.open()
    return str(info.value)


def test_no_ticket_and_no_password(lab, tmp_path):
    message = _login_error(_session(lab, "wsus-root", auth="kerberos", password=False))
    assert message.startswith(
        "wsus-root: no Kerberos ticket for wsusadmin@WSUSLAB.TEST and no password: run `kinit"
    )
    assert "\n" not in message
    # As a user meets it: one line per host, every host unreachable (exit code 4), no secret.
    path = _write_inventory(lab, tmp_path / "inventory.yml", auth="kerberos", protocol="http", password=False)
    facts = run_cli("facts", "-i", path)
    assert facts.returncode == 4, facts.stdout + facts.stderr
    assert "no Kerberos ticket for wsusadmin@WSUSLAB.TEST and no password" in facts.stdout + facts.stderr
    assert lab.password not in facts.stdout + facts.stderr


def test_clock_skew(lab, tmp_path, monkeypatch):
    """A ticket cache whose Kerberos clock runs an hour ahead of the realm's: MIT keeps a client's
    clock correction in the cache's header (the DeltaTime tag kinit writes), and uses it for every
    request made with that cache, so the KDC sees an hour of skew when asked for a service ticket."""
    cache = tmp_path / "ccache"
    _kinit(lab, cache)
    header = bytearray(cache.read_bytes())
    assert header[:8] == b"\x05\x04\x00\x0c\x00\x01\x00\x08"  # version 4, one tag: DeltaTime
    header[8:12] = struct.pack(">i", 3600)
    cache.write_bytes(header)
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{cache}")
    message = _login_error(_session(lab, "wsus-root", auth="kerberos", password=False))
    assert "clock skew too great" in message and "synchronize this machine's clock" in message


def test_unknown_service_principal(lab):
    session = _session(
        lab,
        "wsus-root",
        auth="kerberos",
        host_vars={"ansible_psrp_negotiate_hostname_override": "wsus-nosuch"},
    )
    message = _login_error(session)
    assert "the KDC does not know the service principal WSMAN/wsus-nosuch" in message
    assert "ansible_psrp_negotiate_hostname_override" in message
    # The default SPN is the address pypsrp connects to: no domain has an SPN for 127.x.y.z.
    address_only = _session(lab, "wsus-root", auth="kerberos")
    address_only.options = dataclasses.replace(address_only.options, negotiate_hostname_override=None)
    assert f"WSMAN/{lab.endpoints[0].address}" in _login_error(address_only)


def test_a_server_that_refuses_ntlm(lab, tmp_path):
    message = _login_error(_session(lab, "wsus-01", auth="ntlm"))
    assert "does not accept NTLM" in message and "ansible_psrp_auth: kerberos" in message
    assert lab.password not in message
    # Negotiate to a bare address (no SPN in the domain) falls back to NTLM, and says so.
    fallback = _session(lab, "wsus-01", auth="negotiate")
    fallback.options = dataclasses.replace(fallback.options, negotiate_hostname_override=None)
    assert "does not accept NTLM, and Negotiate fell back to it" in _login_error(fallback)
    # Negotiate with neither a ticket nor a password has nothing to offer at all. (pyspnego's NTLM
    # client without a password reads NTLM_USER_FILE, which this in-process lab set for its
    # acceptor; a client process of its own has none.)
    nothing = _session(lab, "wsus-01", auth="negotiate", password=False)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NTLM_USER_FILE", str(tmp_path / "no-such-file"))
        message = _login_error(nothing)
    assert "no Kerberos ticket for wsusadmin@WSUSLAB.TEST and no password" in message


def test_a_wrong_password(lab):
    session = _session(lab, "wsus-root", auth="kerberos")
    session.options = dataclasses.replace(
        session.options, password=type(session.options.password)("nope-nope")
    )
    message = _login_error(session)
    assert "the KDC refused the password of wsusadmin@WSUSLAB.TEST" in message and "nope-nope" not in message


def test_ticketless_logins_at_once_share_one_ticket_cache(lab, tmp_path, monkeypatch):
    """A nightly job with a keytab and several hosts at once: every login must find the TGT that one
    of them got from the keytab, never a cache file another thread is still writing."""
    import threading

    import wsusauto.client.session as session_module

    monkeypatch.setenv("KRB5_CLIENT_KTNAME", f"FILE:{lab.realm.user_keytab}")
    hosts = ["wsus-root", "wsus-01", "wsus-02"]
    for attempt in range(6):
        monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / f'cc-{attempt}'}")  # empty: as a new job
        session_module._TICKET_CACHE_FILLED.clear()  # as in a new process
        start = threading.Barrier(len(hosts))
        outcomes: dict[str, str] = {}

        def login(host: str, start=start, outcomes=outcomes) -> None:
            session = _session(lab, host, auth="kerberos", protocol="http", password=False)
            start.wait()
            try:
                with session:
                    outcomes[host] = gather_facts(session).name
            except Exception as exc:  # reported below with the host
                outcomes[host] = f"{type(exc).__name__}: {exc}"

        threads = [threading.Thread(target=login, args=(host,)) for host in hosts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert outcomes == {host: host for host in hosts}, (attempt, outcomes)
