"""One lab endpoint's WS-Management logic, independent of HTTP: SOAP in, SOAP out."""

from __future__ import annotations

import base64
import threading
import uuid
from dataclasses import dataclass, field

from psrpcore import StreamType

from wsusauto.lab.invocation import ScriptHandler
from wsusauto.lab.wsman import soap
from wsusauto.lab.wsman.shells import Shell


@dataclass
class EndpointFaults:
    """Faults read on every request, so they can be flipped while the lab runs."""

    down: bool = False  # refuse connections: the listener is closed
    slow_seconds: float = 0.0  # delay before each pipeline's handler runs
    http_status: int | None = None  # answer every request with 500 or 503
    auth_reject: bool = False  # refuse every authentication with 401
    # Reset the TCP connection in the middle of the next N pipeline Receives (after skipping the
    # first ``reset_skip``): the pipeline has run on the server, its output is lost on the way.
    reset_on_receive: int = 0
    reset_skip: int = 0
    reset_match: str = ""  # only pipelines whose script contains this text count (e.g. "Save()")
    # Accept connections and read requests, never answer: a hung WinRM service, or a firewall that
    # lets the handshake through and drops the rest. A request is held until the fault is lifted,
    # then its connection is dropped; only the client's own timeouts end its wait.
    unresponsive: bool = False


@dataclass
class EndpointSpec:
    name: str
    address: str
    username: str
    password: str = field(repr=False)
    http_port: int = 5985
    https_port: int | None = 5986
    allow_unencrypted: bool = False  # Basic and unencrypted NTLM over plain HTTP only when set
    cbt_strict: bool = False  # require a correct channel binding on HTTPS (Windows: Strict)
    faults: EndpointFaults = field(default_factory=EndpointFaults)
    auth_methods: tuple[str, ...] = ("basic", "ntlm", "kerberos")  # the topology's auth_methods
    kerberos_realm: str | None = None  # the lab's realm when it has one (its keytab holds this server)


class ConnectionReset(Exception):
    """Raised by a Receive under the ``reset_on_receive`` fault: the HTTP layer drops the connection
    with a TCP reset instead of answering."""


def _script_of(shell: Shell, pipeline_id: uuid.UUID | None) -> str:
    """The script text a pipeline runs ('' for the pool or an unknown pipeline)."""
    if pipeline_id is None:
        return ""
    with shell.lock:
        pipeline = shell.pipelines.get(pipeline_id)
    try:
        metadata = pipeline.metadata if pipeline is not None else None
        commands = list(metadata.commands or []) if metadata is not None else []
        return str(commands[0].command_text) if commands else ""
    except Exception:
        return ""


_SHELL_ACTIONS = {
    soap.ACTION_RECEIVE,
    soap.ACTION_COMMAND,
    soap.ACTION_SEND,
    soap.ACTION_SIGNAL,
    soap.ACTION_DELETE,
    soap.ACTION_GET,
}


class Endpoint:
    def __init__(self, spec: EndpointSpec, handler: ScriptHandler) -> None:
        self.spec = spec
        self.handler = handler
        self.shells: dict[str, Shell] = {}
        self._lock = threading.Lock()
        self._unanswered = threading.Condition()
        self.held_requests = 0  # requests held unanswered now (the ``unresponsive`` fault)

    def hold_unanswered(self) -> None:
        """The ``unresponsive`` fault: keep the request unanswered until the fault is lifted."""
        with self._unanswered:
            self.held_requests += 1
            try:
                self._unanswered.wait_for(lambda: not self.spec.faults.unresponsive)
            finally:
                self.held_requests -= 1

    def faults_changed(self) -> None:
        with self._unanswered:
            self._unanswered.notify_all()

    def handle(self, data: bytes, user: str) -> bytes:
        request = None
        try:
            request = soap.parse_request(data)
            return self._dispatch(request, user)
        except soap.SoapFault as fault:
            return soap.fault_response(fault, request.message_id if request else "", self.spec.name)

    # -- actions -----------------------------------------------------------------------------

    def _dispatch(self, request: soap.Request, user: str) -> bytes:
        action = request.action
        if action == soap.ACTION_CREATE:
            return self._create(request, user)
        if action not in _SHELL_ACTIONS or (action == soap.ACTION_GET and request.shell_id is None):
            raise soap.action_not_supported(action)  # Enumerate, Identify, config Get: not served by the lab
        shell = self._shell(request)
        if action == soap.ACTION_RECEIVE:
            return self._receive(request, shell)
        if action == soap.ACTION_COMMAND:
            return self._command(request, shell)
        if action == soap.ACTION_SEND:
            self._send(request, shell)
            return soap.empty_response(action + "Response", request.message_id, "<rsp:SendResponse/>")
        if action == soap.ACTION_SIGNAL:
            return self._signal(request, shell)
        if action == soap.ACTION_DELETE:
            with self._lock:
                self.shells.pop(shell.shell_id, None)
            shell.close()
            return soap.empty_response(action + "Response", request.message_id, "")
        if action == soap.ACTION_GET:
            return soap.get_shell_response(request.message_id, shell.shell_id, shell.resource_uri)
        raise soap.action_not_supported(action)

    def _shell(self, request: soap.Request) -> Shell:
        if not request.shell_id:
            raise soap.SoapFault(
                soap.FAULT_INVALID_SELECTORS,
                "The request needs a ShellId selector.",
                subcode="w:InvalidSelectors",
                value="s:Sender",
            )
        with self._lock:
            shell = self.shells.get(request.shell_id)
        if shell is None:
            raise soap.shell_not_found(request.shell_id)
        return shell

    def _create(self, request: soap.Request, user: str) -> bytes:
        shell_el = request.body.find("rsp:Shell", soap.NS)
        if shell_el is None:
            raise soap.action_not_supported(request.action)
        shell_id = (shell_el.get("ShellId") or str(uuid.uuid4())).upper()
        creation = shell_el.find("pwsh:creationXml", soap.NS)
        if creation is None or not (creation.text or "").strip():
            raise soap.SoapFault(
                soap.FAULT_INTERNAL,
                "The lab serves PowerShell (PSRP) shells only.",
                subcode="w:InternalError",
            )
        shell = Shell(
            shell_id,
            request.resource_uri,
            self.spec.name,
            user,
            self.handler,
            lambda: self.spec.faults.slow_seconds,
        )
        shell.feed(base64.b64decode(creation.text or ""))
        with self._lock:
            self.shells[shell_id] = shell
        return soap.create_response(request.message_id, shell_id, request.resource_uri, self.spec.address)

    def _command(self, request: soap.Request, shell: Shell) -> bytes:
        command_line = request.body.find("rsp:CommandLine", soap.NS)
        if command_line is None:
            raise soap.action_not_supported(request.action)
        command_id = (command_line.get("CommandId") or str(uuid.uuid4())).upper()
        pipeline_id = uuid.UUID(command_id)
        shell.new_pipeline(pipeline_id)
        arguments = command_line.find("rsp:Arguments", soap.NS)
        if arguments is not None and arguments.text:
            shell.feed(base64.b64decode(arguments.text), pipeline_id)
        return soap.command_response(request.message_id, command_id)

    def _send(self, request: soap.Request, shell: Shell) -> None:
        send = request.body.find("rsp:Send", soap.NS)
        for stream in send.findall("rsp:Stream", soap.NS) if send is not None else []:
            command_id = stream.get("CommandId")
            pipeline_id = uuid.UUID(command_id) if command_id else None
            kind = StreamType.prompt_response if stream.get("Name") == "pr" else StreamType.default
            if stream.text:
                shell.feed(base64.b64decode(stream.text), pipeline_id, kind)

    def _receive(self, request: soap.Request, shell: Shell) -> bytes:
        receive = request.body.find("rsp:Receive", soap.NS)
        desired = receive.find("rsp:DesiredStream", soap.NS) if receive is not None else None
        command_id = desired.get("CommandId") if desired is not None else None
        pipeline_id = uuid.UUID(command_id) if command_id else None
        script = _script_of(shell, pipeline_id) if self.spec.faults.reset_on_receive > 0 else ""
        chunks, done = shell.receive(pipeline_id, request.operation_timeout)
        if pipeline_id is not None and self._reset_due(script):
            raise ConnectionReset(f"{self.spec.name}: reset_on_receive fault")
        return soap.receive_response(
            request.message_id, chunks, command_id.upper() if command_id else None, done
        )

    def _reset_due(self, script: str) -> bool:
        faults = self.spec.faults
        with self._lock:
            if faults.reset_on_receive <= 0 or faults.reset_match not in script:
                return False
            if faults.reset_skip > 0:
                faults.reset_skip -= 1
                return False
            faults.reset_on_receive -= 1
            return True

    def _signal(self, request: soap.Request, shell: Shell) -> bytes:
        signal_el = request.body.find("rsp:Signal", soap.NS)
        if signal_el is None:
            raise soap.action_not_supported(request.action)
        code_el = signal_el.find("rsp:Code", soap.NS)
        command_id = signal_el.get("CommandId")
        if command_id:
            shell.signal(uuid.UUID(command_id), (code_el.text or "") if code_el is not None else "")
        return soap.empty_response(request.action + "Response", request.message_id, "<rsp:SignalResponse/>")

    def close(self) -> None:
        with self._lock:
            shells, self.shells = list(self.shells.values()), {}
        for shell in shells:
            shell.close()
