"""Session and facts over the real pypsrp client against the lab: auth, errors, deadlines, data."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from tests.lab_fixtures import lab_inventory, running_lab, small_topology
from wsusauto.client.session import Session, TransportRetry
from wsusauto.client.snippets import SnippetRegistry, registry
from wsusauto.client.speedups import cached_password_hashes
from wsusauto.config.secrets import Secret
from wsusauto.errors import AuthenticationFailed, DeadlineExceeded, RemoteError, Unreachable
from wsusauto.execution.executor import HostExecutor
from wsusauto.lab.wsman import EndpointFaults
from wsusauto.state.facts import SyncInfo, facts_parameters, gather_facts


@pytest.fixture(scope="module")
def lab(make_module_lab):
    return make_module_lab(small_topology(3))


def _session(lab, host="wsus-root", **inventory_options) -> Session:
    inventory = lab_inventory(lab, **inventory_options)
    return Session(host, inventory.connection_options(inventory.hosts[host]), default_deadline=30)


@pytest.mark.parametrize(
    ("auth", "protocol"), [("ntlm", "http"), ("negotiate", "http"), ("basic", "https"), ("ntlm", "https")]
)
def test_facts_over_each_auth_and_protocol(lab, auth, protocol):
    with _session(lab, "wsus-01", auth=auth, protocol=protocol) as session:
        facts = gather_facts(session)
    assert facts.host == "wsus-01"
    assert facts.name == "wsus-01"
    assert facts.sync_from_microsoft_update is True  # every lab server starts unconfigured
    # A server that never synchronized: Result NeverRun (wsus-api.md 1.4), a record, not $null
    assert facts.last_synchronization_info == SyncInfo(
        result="NeverRun",
        error="NotApplicable",
        error_text="",
        start_time=None,
        end_time=None,
        started_manually=False,
        update_errors=(),
    )


def test_one_session_runs_many_snippets_on_one_pool(lab):
    with _session(lab) as session:
        first = gather_facts(session)
        pool = session._pool
        second = gather_facts(session)
        assert session._pool is pool and session.is_alive()
        assert not pool.pipelines  # finished pipelines are not kept
    assert first == second


def test_wrong_password_is_authentication_failed(lab):
    session = _session(lab)
    session.options = dataclasses.replace(session.options, password=Secret("not-the-lab-password"))
    with pytest.raises(AuthenticationFailed) as info, session:
        session.open()
    assert "not-the-lab-password" not in str(info.value)


def test_basic_https_without_the_ca_is_refused(lab):
    session = _session(lab, auth="basic", protocol="https")
    session.options = dataclasses.replace(session.options, cert_validation=True)
    with pytest.raises(Unreachable, match="TLS"), session:
        session.open()


def test_endpoint_down_is_unreachable(lab):
    lab.set_faults("wsus-02", EndpointFaults(down=True))
    try:
        with pytest.raises(Unreachable, match="connection refused"), _session(lab, "wsus-02") as session:
            session.open()
    finally:
        lab.set_faults("wsus-02", EndpointFaults())
    with _session(lab, "wsus-02") as session:
        assert gather_facts(session).name == "wsus-02"


@pytest.mark.parametrize("status", [500, 503])
def test_http_errors_are_unreachable_and_503_is_retried_briefly(lab, status):
    sleeps: list[float] = []
    lab.set_faults("wsus-02", EndpointFaults(http_status=status))
    try:
        session = _session(lab, "wsus-02")
        session.transport_retry = TransportRetry(attempts=3, initial_wait=0.01, max_wait=0.02)
        session._sleep = sleeps.append
        with pytest.raises(Unreachable), session:
            session.open()
    finally:
        lab.set_faults("wsus-02", EndpointFaults())
    assert len(sleeps) == (2 if status == 503 else 0)


def test_slow_handler_past_the_deadline_raises_deadline_exceeded(lab):
    lab.set_faults("wsus-02", EndpointFaults(slow_seconds=4))
    try:
        with _session(lab, "wsus-02") as session:
            session.open()
            with pytest.raises(DeadlineExceeded, match=r"within 1.5 s"):
                session.invoke("get_facts", deadline=1.5, **facts_parameters())
    finally:
        lab.set_faults("wsus-02", EndpointFaults())


def test_snippet_changed_by_one_character_gets_a_remote_error(lab, tmp_path):
    original = registry()["get_facts"].text
    changed = original.replace("Reads only", "Reads 0nly", 1)
    assert changed != original and len(changed) == len(original)
    (tmp_path / "get_facts.ps1").write_bytes(changed.encode("utf-8"))
    with _session(lab) as session:
        session.snippets = SnippetRegistry(tmp_path)
        with pytest.raises(RemoteError, match="is not recognized"):
            session.invoke("get_facts", **facts_parameters())


@pytest.mark.parametrize(
    "hostile",
    [
        "C:\\x'; Remove-Item -Recurse C:\\ #",
        '"; $(Stop-Service WsusService) "',
        "`$env:COMPUTERNAME`n; exit 1",
        "line one\nline two\r\nthree;four",
        "$(whoami)@{a=1}|Out-Null",
    ],
)
def test_hostile_parameters_arrive_as_data(lab, hostile):
    # The lab echoes SetupRegistryPath in PowerShell's "Cannot find path" error, byte for byte.
    with _session(lab) as session:
        params = facts_parameters()
        params["SetupRegistryPath"] = hostile
        with pytest.raises(RemoteError) as info:
            session.invoke("get_facts", **params)
    assert f"Cannot find path '{hostile}' because it does not exist." in info.value.remote_text


def test_the_real_setup_path_is_accepted(lab):
    # The key WSUS setup writes on every server, spelled out here rather than taken from the
    # constant under test (wsus-api.md section 5).
    real_path = r"HKLM:\SOFTWARE\Microsoft\Update Services\Server\Setup"
    assert facts_parameters()["SetupRegistryPath"] == real_path
    with _session(lab) as session:
        assert session.invoke("get_facts", **facts_parameters())["Name"] == "wsus-root"
        with pytest.raises(RemoteError, match="Cannot find path"):
            session.invoke("get_facts", **{**facts_parameters(), "SetupRegistryPath": real_path + "x"})


def test_sessions_in_parallel_threads(lab):
    results: dict[str, str] = {}

    def read(host: str) -> None:
        with _session(lab, host) as session:
            results[host] = gather_facts(session).name

    threads = [threading.Thread(target=read, args=(h,)) for h in ("wsus-root", "wsus-01", "wsus-02")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"wsus-root": "wsus-root", "wsus-01": "wsus-01", "wsus-02": "wsus-02"}


def test_three_megabyte_output_arrives_intact(lab):
    message = "Content file download failed. Reason: the server does not support the Range header. " * 40000
    message = message[: 3 * 1024 * 1024]
    lab.handlers.servers["wsus-02"].add_event(364, message)
    with _session(lab, "wsus-02") as session:
        facts = gather_facts(session)
    assert [e.message for e in facts.events if e.id == 364] == [message]


def test_state_persists_across_a_lab_restart(tmp_path):
    first = small_topology(
        2,
        **{
            "wsus-01": {
                "initial": {
                    "HostBinariesOnMicrosoftUpdate": True,
                    "SynchronizeAutomatically": True,
                    "SynchronizeAutomaticallyTimeOfDay": "03:00:00",
                    "NumberOfSynchronizationsPerDay": 4,
                }
            }
        },
    )
    with running_lab(tmp_path, first) as lab:
        lab.handlers.servers["wsus-01"].set(ProxyName="proxy.corp.example", UseProxy=True)
        lab.handlers.servers["wsus-01"].set_proxy_password("Proxy-Canary-Pw-77")
        with _session(lab, "wsus-01") as session:
            before = gather_facts(session)
    # Restart with a topology that no longer sets initial values: the SUSDB state wins.
    with running_lab(tmp_path, small_topology(2)) as lab, _session(lab, "wsus-01") as session:
        after = gather_facts(session)
    assert after == before
    assert after.host_binaries_on_microsoft_update and after.proxy_name == "proxy.corp.example"
    assert after.has_proxy_password
    next_sync = after.next_synchronization_time  # 4 a day from 03:00 UTC: 03, 09, 15 or 21
    assert (next_sync.hour, next_sync.minute) in {(3, 0), (9, 0), (15, 0), (21, 0)}
    assert "Proxy-Canary-Pw-77" not in repr(after)


def test_facts_over_the_fleet_leave_no_password_cached(make_lab):
    # NTLM's password hashes are memoized while hosts are worked on (wsusauto.client.speedups); once
    # every session is closed, the passwords leave that cache (test_session_password_cache.py
    # searches every cache for them). (A lab of its own: the shared one has endpoints other tests
    # leave down or slow.)
    lab = make_lab()
    inventory = lab_inventory(lab, auth="ntlm", protocol="http")
    seen: list[int] = []

    def facts_and_cache_size(job):
        facts = gather_facts(job.session)
        seen.append(cached_password_hashes())
        return facts

    with HostExecutor(inventory, processes=1) as executor:  # a closure: threads of this process
        outcomes = executor.map(list(inventory.hosts), facts_and_cache_size)
    assert [o.error for o in outcomes] == [None] * len(outcomes) and min(seen) >= 1  # the cache was in use
    assert cached_password_hashes() == 0


@pytest.mark.parametrize(("auth", "protocol"), [("ntlm", "http"), ("basic", "https")])
def test_every_winrm_response_header_takes_the_fast_parser(lab, monkeypatch, auth, protocol):
    import http.client

    from wsusauto.client import http_headers

    monkeypatch.setattr(http.client, "parse_headers", http_headers._original)  # as a fresh process has it
    parsed, fallbacks = [], []
    plain = http_headers._plain_message

    def counted(lines, message_class):
        message = plain(lines, message_class)
        (parsed if message is not None else fallbacks).append("".join(lines))
        return message

    monkeypatch.setattr(http_headers, "_plain_message", counted)
    with _session(lab, "wsus-02", auth=auth, protocol=protocol) as session:
        assert http.client.parse_headers is http_headers.parse_headers  # installed by the Session
        facts = gather_facts(session)
    assert facts.host == "wsus-02"
    assert len(parsed) >= 5 and fallbacks == []  # 401s, SOAP, encrypted multipart: all plain
