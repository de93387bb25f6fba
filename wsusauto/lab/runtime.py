"""The lab as one object: a topology served on loopback, in this process or sharded across workers.

    with Lab(load_topology(None), state_dir) as lab:
        inventory = lab.inventory()          # an Ansible-style inventory dict for the fleet

With ``workers=0`` every endpoint runs in this process (tests flip faults at runtime with
``set_faults``). With ``workers >= 1`` endpoints are split across that many processes, by endpoint,
because WinRM shell and NTLM state belong to one connection in one process; the server side costs
several ms of Python CPU per pipeline, so one process tops out at a few hundred endpoints' worth of
traffic.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wsusauto.errors import UsageError
from wsusauto.lab.addresses import allocate
from wsusauto.lab.clock import VirtualClock
from wsusauto.lab.faults import EndpointFaultSettings, endpoint_fault_settings, model_faults
from wsusauto.lab.kdc import LabRealm
from wsusauto.lab.model.defaults import preset
from wsusauto.lab.topology import Topology
from wsusauto.lab.wsman import EndpointFaults, EndpointSpec, WinRMServer

LAB_USER = "wsusadmin"
_CREDENTIALS_FILE = "lab-credentials.json"
_READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class LabEndpoint:
    name: str
    address: str
    upstream: str | None
    replica: bool
    upstream_port: int = 8530  # the upstream's WSUS port (80 on WSUS 3.0, 8530 on 2012 and later)


def _upstream_port(topology: Topology, upstream: str | None) -> int:
    """The port the upstream's WSUS listens on, by its version (WSUS 3.0: 80; 2012 and later: 8530)."""
    if upstream is None:
        return 8530
    spec = topology.server(upstream)
    return preset(spec.version, f"server {spec.name}").port


def lab_password(state_dir: Path) -> str:
    """The lab's own credential: made once per state directory, so a restarted lab keeps it."""
    path = state_dir / _CREDENTIALS_FILE
    if path.exists():
        return str(json.loads(path.read_text(encoding="utf-8"))["password"])
    state_dir.mkdir(parents=True, exist_ok=True)
    password = "Lab-" + secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"username": LAB_USER, "password": password}, handle)
    return password


def _to_transport_faults(settings: EndpointFaultSettings) -> EndpointFaults:
    return EndpointFaults(
        down=settings.down,
        slow_seconds=settings.slow_seconds,
        http_status=settings.http_status,
        auth_reject=settings.auth_reject,
        reset_on_receive=settings.reset_on_receive,
        reset_skip=settings.reset_skip,
        reset_match=settings.reset_match,
        unresponsive=settings.unresponsive,
    )


class Lab:
    def __init__(
        self,
        topology: Topology,
        state_dir: str | Path,
        *,
        first_address: str = "127.0.10.1",
        workers: int = 0,
        http_port: int = 5985,
        https_port: int | None = 5986,
        allow_unencrypted: bool = False,
        clock: Callable[[], Any] | None = None,
        time_scale: float = 1.0,
        kerberos: bool = False,
    ) -> None:
        self.topology = topology
        self.state_dir = Path(state_dir).resolve()
        self.workers = workers
        self.http_port, self.https_port = http_port, https_port
        self.allow_unencrypted = allow_unencrypted
        # Sync durations and schedules run on this clock; --time-scale speeds it up.
        self.clock = clock or (VirtualClock(time_scale) if time_scale != 1.0 else None)
        self.password = lab_password(self.state_dir)
        addresses = allocate(first_address, len(topology.servers))
        self.endpoints = [
            LabEndpoint(s.name, a, s.upstream, s.replica, _upstream_port(topology, s.upstream))
            for s, a in zip(topology.servers, addresses, strict=True)
        ]
        # A Kerberos realm (MIT's KDC on the first server's address) for the servers whose
        # auth_methods take Kerberos: they are the ones with keys, as domain members are.
        self.realm: LabRealm | None = None
        if kerberos:
            self.realm = LabRealm(
                self.state_dir / "kerberos",
                address=self.endpoints[0].address,
                user=LAB_USER,
                password=self.password,
                servers=[s.name for s in topology.servers if "kerberos" in s.auth_methods],
            )
        self._server: WinRMServer | None = None
        self._ticker: Ticker | None = None
        self._handlers: Any = None
        self._processes: list[Any] = []
        self._pipes: list[Any] = []

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "tls"

    @property
    def ca_cert_path(self) -> Path:
        from wsusauto.lab.wsman.certs import ca_paths

        return ca_paths(self.tls_dir)[0]

    def specs(self, names: Sequence[str] | None = None) -> list[EndpointSpec]:
        by_name = {s.name: s for s in self.topology.servers}
        chosen = [e for e in self.endpoints if names is None or e.name in names]
        return [
            EndpointSpec(
                name=e.name,
                address=e.address,
                username=LAB_USER,
                password=self.password,
                http_port=self.http_port,
                https_port=self.https_port,
                allow_unencrypted=self.allow_unencrypted,
                faults=_to_transport_faults(endpoint_fault_settings(by_name[e.name].faults)),
                auth_methods=by_name[e.name].auth_methods,
                kerberos_realm=self.realm.realm if self.realm is not None else None,
            )
            for e in chosen
        ]

    def start(self) -> Lab:
        from wsusauto.lab.wsman.certs import ensure_ca

        ensure_ca(self.tls_dir)  # once, before any worker, so shards never race to create it
        if self.realm is not None:
            self.realm.start()
        addresses = {e.name: e.address for e in self.endpoints}
        if self.workers == 0:
            self._handlers = build_handlers(self.topology, self.state_dir, None, self.clock, addresses)
            self._server = WinRMServer(self.specs(), self._handlers, self.tls_dir, self.keytab)
            self._ticker = Ticker(self._handlers, tick_interval(self.clock))
            self._ticker.start()
            try:
                self._server.start()
            except OSError as exc:
                self.stop()
                raise UsageError(
                    f"the lab cannot listen: {exc.strerror} (is another lab using "
                    f"{self.endpoints[0].address}..{self.endpoints[-1].address}? "
                    "use --first-address)"
                ) from None
        else:
            self._start_workers()
        return self

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._handlers is not None:
            close = getattr(self._handlers, "close", None)
            if close is not None:
                close()
            self._handlers = None
        for pipe in self._pipes:
            try:
                pipe.send("stop")
            except (BrokenPipeError, OSError):
                pass
        for process in self._processes:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()
        self._processes, self._pipes = [], []
        if self.realm is not None:
            self.realm.stop()

    @property
    def keytab(self) -> Path | None:
        """The service keytab the endpoints accept Kerberos with (None: the lab has no realm)."""
        return self.realm.service_keytab if self.realm is not None else None

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def set_faults(self, name: str, faults: EndpointFaults) -> None:
        if self._server is None:
            raise RuntimeError("set_faults works on an in-process lab (workers=0) that is running")
        self._server.set_faults(name, faults)

    @property
    def handlers(self) -> Any:
        """The in-process lab's model (tests inspect and change server state through it)."""
        return self._handlers

    def _start_workers(self) -> None:
        # Fault evidence can span servers (a parent's replicas, a downstream's upstream) that land in
        # different workers: seed it here first, for the servers faults involve, then workers see
        # no new faults.
        involved = _fault_involved(self.topology)
        if involved:
            seeded = build_handlers(
                self.topology,
                self.state_dir,
                involved,
                self.clock,
                {e.name: e.address for e in self.endpoints},
            )
            seeded.close()
        context = multiprocessing.get_context("spawn")
        names = [e.name for e in self.endpoints]
        shards = [names[i :: self.workers] for i in range(self.workers)]
        for shard in shards:
            if not shard:
                continue
            parent, child = context.Pipe()
            process = context.Process(
                target=_worker_main,
                name=f"wsusauto-lab-{len(self._processes)}",
                args=(child, self.topology, self.state_dir, self.specs(shard), self.clock, self.keytab),
                daemon=True,
            )
            process.start()
            self._processes.append(process)
            self._pipes.append(parent)
        for pipe, process in zip(self._pipes, self._processes, strict=True):
            if not pipe.poll(_READY_TIMEOUT):
                self.stop()
                raise RuntimeError(f"lab worker {process.name} did not start within {_READY_TIMEOUT:g} s")
            status, detail = pipe.recv()
            if status != "ready":
                self.stop()
                raise UsageError(f"lab worker {process.name} failed: {detail}")

    # -- inventory ---------------------------------------------------------------------------

    def inventory(
        self,
        *,
        auth: str = "ntlm",
        protocol: str = "http",
        cert_validation: str = "ca",
        password: bool = True,
    ) -> dict[str, Any]:
        """An Ansible-style inventory for this lab (lab-only credentials in clear, by design).

        With the lab's realm, ``kerberos`` and ``negotiate`` log in as ``wsusadmin@REALM`` and name
        each server for its SPN with ``ansible_psrp_negotiate_hostname_override`` (the connection
        goes to its loopback address); ``password=False`` leaves the password out, for a ticket
        cache (``KRB5CCNAME``) or a keytab (``KRB5_CLIENT_KTNAME``)."""
        if auth == "basic" and protocol == "http" and not self.allow_unencrypted:
            raise UsageError("the lab refuses Basic over plain HTTP; use https, ntlm or negotiate")
        if auth == "kerberos" and self.realm is None:
            raise UsageError("the lab has no Kerberos realm; serve it with --kerberos")
        domain_login = self.realm is not None and auth in ("kerberos", "negotiate")
        port = self.https_port if protocol == "https" else self.http_port
        connection: dict[str, Any] = {
            "ansible_connection": "psrp",
            "ansible_user": self.realm.user_principal if domain_login and self.realm else LAB_USER,
            "ansible_password": self.password,
            "ansible_port": port,
            "ansible_psrp_protocol": protocol,
            "ansible_psrp_auth": auth,
            "ansible_psrp_message_encryption": "auto",
        }
        if not password:
            del connection["ansible_password"]
        if protocol == "https":
            if cert_validation == "ca":
                connection["ansible_psrp_ca_cert"] = str(self.ca_cert_path)
            else:
                connection["ansible_psrp_cert_validation"] = "ignore"
        hosts = {}
        for endpoint in self.endpoints:
            host: dict[str, Any] = {"ansible_host": endpoint.address}
            if domain_login:
                host["ansible_psrp_negotiate_hostname_override"] = endpoint.name
            if endpoint.upstream:
                host["wsus_upstream"] = endpoint.upstream
                if endpoint.upstream_port != 8530:  # the playbooks' default
                    host["wsus_upstream_port"] = endpoint.upstream_port
            host["wsus_replica"] = endpoint.replica
            hosts[endpoint.name] = host
        return {"all": {"vars": connection, "children": {"wsus": {"hosts": hosts}}}}

    def write_inventory(self, path: str | Path, **options: Any) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = (
            "# Written by `wsusauto lab serve` for its lab fleet. The password is the lab's own,\n"
            "# in clear on purpose so this file works as is; never do this for real servers.\n"
        )
        path.write_text(header + yaml.safe_dump(self.inventory(**options), sort_keys=False), encoding="utf-8")
        return path


def tick_interval(clock: Any) -> float:
    """Real seconds between ticks: about 30 virtual seconds, at most a quarter of a real second."""
    scale = getattr(clock, "scale", 1.0)
    return max(0.02, min(0.25, 30.0 / scale))


class Ticker:
    """The lab servers' own clockwork: scheduled syncs and their retries happen without a client."""

    def __init__(self, handlers: Any, interval: float = 0.25) -> None:
        self.handlers = handlers
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lab-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.handlers.tick()
            except Exception:  # a model error must not stop the lab's clockwork
                logging.getLogger(__name__).exception("lab ticker")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def build_handlers(
    topology: Topology,
    state_dir: Path,
    names: Sequence[str] | None,
    clock: Callable[[], Any] | None,
    addresses: dict[str, str] | None = None,
) -> Any:
    from wsusauto.lab.handlers import LabHandlers

    return LabHandlers.from_topology(topology, state_dir, names=names, clock=clock, addresses=addresses)


def _fault_involved(topology: Topology) -> list[str]:
    """Servers with model faults, their upstream servers and the servers below them."""
    faulty = {s.name for s in topology.servers if model_faults(s.faults)}
    if not faulty:
        return []

    def upstream(spec: Any) -> str | None:
        name = spec.initial.get("UpstreamWsusServerName") or spec.upstream
        return str(name).split(".")[0] if name else None

    return [
        s.name
        for s in topology.servers
        if s.name in faulty
        or upstream(s) in faulty
        or (s.name in {upstream(f) for f in topology.servers if f.name in faulty})
    ]


def _worker_main(
    pipe: Any,
    topology: Topology,
    state_dir: Path,
    specs: list[EndpointSpec],
    clock: Callable[[], Any] | None,
    keytab: Path | None = None,
) -> None:
    import signal

    # The parent owns shutdown: it sends "stop" (or dies, which closes the pipe).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    handlers = server = None
    try:
        handlers = build_handlers(
            topology, state_dir, [s.name for s in specs], clock, {s.name: s.address for s in specs}
        )
        server = WinRMServer(specs, handlers, state_dir / "tls", keytab)
        ticker = Ticker(handlers, tick_interval(clock))
        ticker.start()
        server.start()
        pipe.send(("ready", None))
    except OSError as exc:
        pipe.send(("error", f"cannot listen: {exc.strerror}; is another lab using these addresses?"))
        return
    except Exception as exc:
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    try:
        pipe.recv()
    except (EOFError, OSError):
        pass
    finally:
        ticker.stop()
        server.stop()
        close = getattr(handlers, "close", None)
        if close is not None:
            close()
