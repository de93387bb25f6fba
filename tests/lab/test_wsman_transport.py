"""The lab's WinRM transport against the real pypsrp client, with a test handler behind it."""

from __future__ import annotations

import itertools
import socket
import threading
import time

import pytest
import requests
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool
from pypsrp.wsman import WSMan

from tests.lab_fixtures import next_first_address
from wsusauto.lab.invocation import ScriptError
from wsusauto.lab.wsman import EndpointFaults, EndpointSpec, WinRMServer
from wsusauto.lab.wsman import server as server_module

PASSWORD = "Transport-Test-Pw1"
# A /24 of this process's own (tests.lab_fixtures), so two test runs on one machine never collide.
_subnet = next_first_address().rsplit(".", 1)[0]
_addresses = (f"{_subnet}.{i}" for i in itertools.count(1))


def handler(invocation):
    action = invocation.parameters.get("action")
    if action == "throw":
        raise ScriptError("boom: terminating", error_id="Boom,Test")
    if action == "write-error":
        raise ScriptError("soft: non-terminating", terminating=False)
    if action == "big":
        return ["x" * (3 * 1024 * 1024)]
    if action == "sleep":
        time.sleep(float(invocation.parameters["seconds"]))
    return [
        {
            "script": invocation.script,
            "parameters": invocation.parameters,
            "user": invocation.username,
            "big_int": 2**40,
            "ratio": 0.1,
        }
    ]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    specs = [EndpointSpec(f"t{i}", next(_addresses), "wsusadmin", PASSWORD) for i in range(3)]
    specs.append(EndpointSpec("plain", next(_addresses), "wsusadmin", PASSWORD, allow_unencrypted=True))
    specs.append(EndpointSpec("strict", next(_addresses), "wsusadmin", PASSWORD, cbt_strict=True))
    server = WinRMServer(specs, handler, tmp_path_factory.mktemp("tls"))
    server.start()
    yield server
    server.stop()


def wsman(lab, name="t0", *, auth="ntlm", ssl=False, password=PASSWORD, **kwargs):
    spec = lab.specs[name]
    kwargs.setdefault("cert_validation", str(lab.ca_cert_path) if ssl else False)
    return WSMan(
        spec.address,
        port=spec.https_port if ssl else spec.http_port,
        ssl=ssl,
        username="wsusadmin",
        password=password,
        auth=auth,
        **kwargs,
    )


def run(pool, script="Get-Thing", **parameters):
    ps = PowerShell(pool)
    ps.add_script(script)
    if parameters:
        ps.add_parameters(parameters)
    return ps, ps.invoke()


@pytest.mark.parametrize(
    ("auth", "ssl"),
    [("ntlm", False), ("negotiate", False), ("basic", True), ("ntlm", True), ("negotiate", True)],
)
def test_each_auth_runs_a_pipeline(lab, auth, ssl):
    with RunspacePool(wsman(lab, auth=auth, ssl=ssl)) as pool:
        ps, output = run(pool, action="echo")
    assert not ps.had_errors
    assert output[0]["script"] == "Get-Thing"
    assert output[0]["user"].lower().endswith("wsusadmin")
    assert output[0]["big_int"] == 2**40 and output[0]["ratio"] == 0.1


def test_ntlm_over_http_sends_no_plaintext_soap(lab, monkeypatch):
    seen: list[tuple[str, bytes]] = []
    original = server_module._Handler.do_POST

    def recording(self):
        original_read = self.rfile.read

        def read(n=-1):
            data = original_read(n)
            seen.append((self.headers.get("Content-Type", ""), data))
            return data

        self.rfile.read = read
        return original(self)

    monkeypatch.setattr(server_module._Handler, "do_POST", recording)
    with RunspacePool(wsman(lab, "t1")) as pool:
        run(pool, action="echo", secret_marker="visible-only-if-plaintext")
    soap_bodies = [(ct, body) for ct, body in seen if body]
    assert len(soap_bodies) >= 5  # create, receive, command, receive, delete
    assert all(ct.startswith("multipart/encrypted") for ct, _ in soap_bodies)
    assert not any(b"Envelope" in body or b"visible-only-if-plaintext" in body for _, body in soap_bodies)


def test_basic_over_http_is_refused_unless_the_lab_allows_unencrypted(lab):
    with pytest.raises(AuthenticationError):
        RunspacePool(wsman(lab, "t0", auth="basic", encryption="never")).open()
    with RunspacePool(wsman(lab, "plain", auth="basic", encryption="never")) as pool:
        _, output = run(pool, action="echo")
    assert output[0]["script"] == "Get-Thing"


def test_plaintext_ntlm_over_http_is_refused_unless_allowed(lab):
    # AllowUnencrypted=false: the plaintext SOAP is answered with a new challenge, as for bad credentials
    with pytest.raises(AuthenticationError, match=r"^Failed to authenticate the user wsusadmin with ntlm$"):
        RunspacePool(wsman(lab, "t0", encryption="never")).open()
    with RunspacePool(wsman(lab, "t0")) as pool:  # the same credentials, encrypted: accepted
        assert run(pool, action="echo")[1][0]["user"] == "wsusadmin"
    with RunspacePool(wsman(lab, "plain", encryption="never")) as pool:
        ps, output = run(pool, action="echo")
    assert not ps.had_errors
    assert output == [
        {
            "script": "Get-Thing",
            "parameters": {"action": "echo"},
            "user": "wsusadmin",
            "big_int": 2**40,
            "ratio": 0.1,
        }
    ]


@pytest.mark.parametrize(("auth", "ssl"), [("ntlm", False), ("basic", True)])
def test_wrong_password_is_an_authentication_error(lab, auth, ssl):
    with pytest.raises(AuthenticationError):
        RunspacePool(wsman(lab, auth=auth, ssl=ssl, password="wrong-password")).open()


def test_https_needs_the_lab_ca_to_validate(lab):
    with pytest.raises(requests.exceptions.SSLError):
        RunspacePool(wsman(lab, auth="basic", ssl=True, cert_validation=True)).open()


def test_strict_channel_binding_accepts_pypsrp_and_rejects_a_client_without_it(lab):
    with RunspacePool(wsman(lab, "strict", ssl=True)) as pool:
        run(pool, action="echo")
    with pytest.raises(AuthenticationError):
        RunspacePool(wsman(lab, "strict", ssl=True, negotiate_send_cbt=False)).open()


def test_terminating_and_non_terminating_errors(lab):
    with RunspacePool(wsman(lab)) as pool:
        ps, output = run(pool, action="throw")
        assert ps.state == PSInvocationState.FAILED and ps.had_errors and output == []
        assert "boom: terminating" in str(ps.streams.error[0])
        ps, output = run(pool, action="write-error")
        assert ps.state == PSInvocationState.COMPLETED
        assert "soft: non-terminating" in str(ps.streams.error[0])


def test_hostile_parameters_arrive_exactly(lab):
    hostile = {
        "quote": 'it\'s "quoted"',
        "subexpr": "$(Remove-Item C:\\ -Recurse)",
        "tick": "`n`$x",
        "semi": "a; Stop-Service WsusService; b",
        "newline": "one\ntwo\r\nthree",
        "nested": ["$(x)", {"k": ";"}],
    }
    with RunspacePool(wsman(lab)) as pool:
        _, output = run(pool, action="echo", **hostile)
    received = output[0]["parameters"]
    for key, value in hostile.items():
        assert received[key] == value


def test_three_megabyte_output_is_intact(lab):
    with RunspacePool(wsman(lab)) as pool:
        _, output = run(pool, action="big")
    assert output == ["x" * (3 * 1024 * 1024)]


def test_slow_pipeline_outlives_operation_timeout_through_the_timeout_fault(lab):
    with RunspacePool(wsman(lab, operation_timeout=1, read_timeout=5)) as pool:
        started = time.monotonic()
        ps, output = run(pool, action="sleep", seconds=2.5)
    assert time.monotonic() - started >= 2.5
    assert output[0]["parameters"]["seconds"] == 2.5 and not ps.had_errors


def test_many_pipelines_on_one_pool_and_is_alive(lab):
    pool = RunspacePool(wsman(lab, "t2"))
    pool.open()
    try:
        for i in range(5):
            _, output = run(pool, action="echo", i=i)
            assert output[0]["parameters"]["i"] == i
        assert pool.is_alive()
        assert (
            lab.endpoints["t2"].shells[str(pool.id).upper()].pipelines == {}
        )  # finished pipelines forgotten
        lab.endpoints["t2"].close()  # the server forgets the shell
        assert not pool.is_alive()
    finally:
        try:
            pool.close()
        except WSManFaultError:
            pass


def test_stop_signal_stops_a_running_pipeline(lab):
    with RunspacePool(wsman(lab)) as pool:
        ps = PowerShell(pool)
        ps.add_script("x").add_parameters({"action": "sleep", "seconds": 1})
        ps.begin_invoke()
        ps.stop()
        assert ps.state == PSInvocationState.STOPPED


def test_faults_down_http_status_auth_reject(lab):
    spec = lab.specs["t2"]
    try:
        lab.set_faults("t2", EndpointFaults(down=True))
        with pytest.raises(requests.exceptions.ConnectionError):
            RunspacePool(wsman(lab, "t2")).open()
        lab.set_faults("t2", EndpointFaults(http_status=503))
        with pytest.raises(WinRMTransportError) as info:
            RunspacePool(wsman(lab, "t2")).open()
        assert info.value.code == 503
        lab.set_faults("t2", EndpointFaults(http_status=500))
        with pytest.raises(WSManFaultError):
            RunspacePool(wsman(lab, "t2")).open()
        lab.set_faults("t2", EndpointFaults(auth_reject=True))
        with pytest.raises(AuthenticationError):
            RunspacePool(wsman(lab, "t2")).open()
    finally:
        lab.set_faults("t2", EndpointFaults())
    assert spec.faults == EndpointFaults()
    with RunspacePool(wsman(lab, "t2")) as pool:
        run(pool, action="echo")


def test_unknown_action_is_a_real_fault(lab):
    pool = RunspacePool(wsman(lab))
    pool.open()
    try:
        with pytest.raises(WSManFaultError) as info:
            pool.shell.wsman.enumerate("http://schemas.microsoft.com/powershell/Microsoft.PowerShell", None)
        assert info.value.code == 2150858771
    finally:
        pool.close()


def test_stop_leaves_no_threads(tmp_path):
    before = threading.active_count()
    server = WinRMServer([EndpointSpec("s", next(_addresses), "wsusadmin", PASSWORD)], handler, tmp_path)
    server.start()
    with RunspacePool(wsman(server, "s")) as pool:
        run(pool, action="echo")
    server.stop()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before


def _raw_exchange(spec, request: bytes) -> bytes:
    """Send bytes to an endpoint's HTTP port; everything it answers until it closes."""
    with socket.create_connection((spec.address, spec.http_port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_http_requests_are_parsed_as_http_server_would(lab):
    spec = lab.specs["t1"]
    post = b"POST /wsman HTTP/1.1\r\nHost: lab\r\nContent-Length: 0\r\n"
    # Keep-alive unless the client says close (the socket stays open: the reply has to be read
    # without waiting for the close).
    with socket.create_connection((spec.address, spec.http_port), timeout=10) as connection:
        connection.sendall(post + b"\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 401 ")
        connection.sendall(post + b"connection: CLOSE\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 401 ") and b"WWW-Authenticate: Negotiate" in answer
    # Header names in any case; a body read by its Content-Length.
    answer = _raw_exchange(
        spec, b"POST /wsman HTTP/1.1\r\nCONTENT-LENGTH: 4\r\nConnection: close\r\n\r\nabcd"
    )
    assert answer.startswith(b"HTTP/1.1 401 ")
    # Expect: 100-continue is answered before the final response.
    answer = _raw_exchange(spec, post + b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 ")
    # Anything but HTTP/1.1 goes to http.server's own parsing and errors.
    assert _raw_exchange(spec, b"POST /wsman HTTP/1.0\r\nContent-Length: 0\r\n\r\n").startswith(
        b"HTTP/1.1 401 "
    )
    assert _raw_exchange(spec, b"POST /wsman extra HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    # (http.server answers a version it refuses as HTTP/0.9 would: the error page alone.)
    assert b"Error code explanation: 505" in _raw_exchange(spec, b"POST /wsman HTTP/2.0\r\n\r\n")
    # http.client's limits: 100 headers, 64 KiB a line.
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(101))
    assert _raw_exchange(spec, b"POST /wsman HTTP/1.1\r\n" + many + b"\r\n").startswith(b"HTTP/1.1 431 ")
    long = b"X-a: " + b"v" * 65536 + b"\r\n"
    assert _raw_exchange(spec, b"POST /wsman HTTP/1.1\r\n" + long + b"\r\n").startswith(b"HTTP/1.1 431 ")


def test_repeated_client_messages_are_deserialized_once_and_never_mixed_up(lab, monkeypatch):
    from wsusauto.lab.wsman import shells
    from wsusauto.lab.wsman.reused_messages import DeserializedMessages

    monkeypatch.setattr(shells, "DESERIALIZED", DeserializedMessages())  # this test's own memory
    deserialized = []
    real = shells.deserialize
    monkeypatch.setattr(shells, "deserialize", lambda *a, **k: deserialized.append(1) or real(*a, **k))
    outputs = []
    for name in ("t0", "t1", "t2", "t0"):
        with RunspacePool(wsman(lab, name)) as pool:
            for marker in ("first", "second", "first"):
                outputs.append(run(pool, action="echo", marker=marker)[1][0]["parameters"]["marker"])
    assert outputs == ["first", "second", "first"] * 4
    # SessionCapability, InitRunspacePool and the two pipelines' CreatePipeline: once each, for 4
    # pools and 12 pipelines (pypsrp's other messages never go through the memory).
    assert len(deserialized) == 4


def test_a_secure_string_payload_is_never_reused():
    from psrpcore.types import PSRPMessageType

    from wsusauto.lab.wsman.reused_messages import DeserializedMessages

    create = PSRPMessageType.CreatePipeline
    assert DeserializedMessages.key(create, b'<Obj RefId="0"><S>plain</S></Obj>', None) is not None
    assert DeserializedMessages.key(create, b'<Obj RefId="0"><SS N="p">AAAA</SS></Obj>', None) is None
    assert DeserializedMessages.key(PSRPMessageType.PipelineHostResponse, b"<Obj />", None) is None


def test_a_lab_started_and_stopped_beside_another_leaves_its_ntlm_logins_working(lab, tmp_path):
    other = WinRMServer(
        [EndpointSpec("other", next(_addresses), "wsusadmin", "Another-Lab-Pw-2")], handler, tmp_path / "tls"
    )
    other.start()
    try:
        with RunspacePool(wsman(other, "other", password="Another-Lab-Pw-2")) as pool:
            assert run(pool, action="echo")[1][0]["user"].lower().endswith("wsusadmin")
    finally:
        other.stop()
    # The module's lab (its own password) authenticates NTLM again.
    with RunspacePool(wsman(lab, "t2")) as pool:
        assert run(pool, action="echo")[1][0]["user"].lower().endswith("wsusadmin")
