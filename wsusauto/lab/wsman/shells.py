"""PSRP behind WinRS shells, through psrpcore's server side (sans-IO).

One ``Shell`` per RunspacePool (the client's ShellId is the pool id). psrpcore produces outgoing
data for one target per ``data_to_send()`` call, so payloads are routed by pipeline id into
outboxes: the pool's (answered by pool-level Receives) and one per pipeline (answered by that
pipeline's long-poll Receives). Handlers run in worker threads so a slow one never blocks the HTTP
thread; the pipeline's Receive waits on a condition and ends with the OperationTimeout fault, which
pypsrp retries.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from psrpcore import ServerHostRequestor, ServerPipeline, ServerRunspacePool, StreamType
from psrpcore._events import PSRPEvent
from psrpcore._payload import PSRPMessage, PSRPPayload, create_message
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSDouble,
    PSInvocationState,
    PSPrimitiveDictionary,
    PSRPMessageType,
    PSSecureString,
    PSVersion,
    RunspacePoolState,
    deserialize,
)

from wsusauto.lab.invocation import Invocation, ScriptError, ScriptHandler, SecureValue
from wsusauto.lab.wsman import soap
from wsusauto.lab.wsman.clixml_out import plain_clixml
from wsusauto.lab.wsman.reused_messages import DESERIALIZED

log = logging.getLogger(__name__)

_FINAL_STATES = {PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped}

# Ansible's psrp connection runs a raw command as ``<command>\nexit $LASTEXITCODE`` and takes its rc
# from the host's SetShouldExit call, which PowerShell's ``exit`` makes. The lab runs no native
# commands, so $LASTEXITCODE is $null and the exit code 0; a terminating error never reaches the
# ``exit`` (no call; the pipeline fails, which Ansible reports as rc 1).
EXIT_LASTEXITCODE = "\nexit $LASTEXITCODE"


class PlainOutput:
    """A handler's plain output on its way to the pool, which writes its CLIXML directly."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class _LabRunspacePool(ServerRunspacePool):
    """psrpcore's server pool with two fixes for pypsrp 0.9.1 (see the lab notes), plain output
    written without psrpcore's object model (``clixml_out``), and the client's repeated messages
    deserialized once (``reused_messages``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Call ids of runspace requests, answered after each batch of fragments (Shell.feed).
        self._pending_ci: list[int] = []
        self._pending_available: list[int] = []

    def _process_message(self, message: PSRPMessage) -> PSRPEvent[Any, Any]:
        key = DESERIALIZED.key(message.message_type, message.data, self.their_capability)
        if key is None:
            return super()._process_message(message)
        ps_object = DESERIALIZED.get(key)
        if ps_object is None:
            ps_object = deserialize(
                ElementTree.fromstring(message.data),
                cipher=self._cipher,
                our_capability=self.our_capability,
                their_capability=self.their_capability,
            )
            DESERIALIZED.put(key, ps_object)
        # The rest of psrpcore's _process_message.
        kind = message.message_type
        event = PSRPEvent.create(kind, ps_object, message.runspace_pool_id, message.pipeline_id)
        getattr(self, f"_process_{kind.name}")(event)
        return event

    def prepare_message(
        self,
        message: Any,
        message_type: PSRPMessageType | None = None,
        pipeline_id: uuid.UUID | None = None,
        stream_type: StreamType = StreamType.default,
    ) -> None:
        if isinstance(message, PlainOutput):
            data = plain_clixml(message.value)
            if data is not None:
                # What psrpcore's prepare_message does once it has serialized a message.
                kind = message_type or PSRPMessageType.PipelineOutput
                pool_id = self.runspace_pool_id
                raw = create_message(self._is_client, kind, data, pool_id, pipeline_id)
                object_id = self._fragment_counter
                self._send_buffer.append(
                    PSRPMessage(kind, bytearray(raw), pool_id, pipeline_id, object_id, stream_type)
                )
                return
            message = to_ps(message.value)
        super().prepare_message(message, message_type, pipeline_id, stream_type)

    def _fix_ci(self, event: Any) -> int:
        # pypsrp writes <I64 N="CI">; psrpcore reads .ci case-sensitively.
        obj = event.ps_object
        for name in ("ci", "CI", "Ci"):
            value = getattr(obj, name, None)
            if value is not None:
                return int(value)
        raise AttributeError("runspace availability request without a call id")

    def _process_SetMaxRunspaces(self, event: Any) -> None:
        ci = self._fix_ci(event)
        self._ci_events[ci] = event
        self._ci_handlers[ci] = lambda e: setattr(self, "_max_runspaces", int(event.ps_object.MaxRunspaces))
        self._pending_ci.append(ci)

    def _process_SetMinRunspaces(self, event: Any) -> None:
        ci = self._fix_ci(event)
        self._ci_events[ci] = event
        self._ci_handlers[ci] = lambda e: setattr(self, "_min_runspaces", int(event.ps_object.MinRunspaces))
        self._pending_ci.append(ci)

    def _process_ResetRunspaceState(self, event: Any) -> None:
        ci = self._fix_ci(event)
        self._ci_events[ci] = event
        self._ci_handlers[ci] = None
        self._pending_ci.append(ci)

    def _process_GetAvailableRunspaces(self, event: Any) -> None:
        ci = self._fix_ci(event)
        self._ci_events[ci] = event
        self._ci_handlers[ci] = None
        self._pending_available.append(ci)


def to_plain(value: Any) -> Any:
    """psrpcore values (PSString, PSInt, PSList, PSDict, ...) as plain Python."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, PSSecureString):
        return SecureValue(str(value.decrypt()))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return str(value)


def to_ps(value: Any) -> Any:
    """Plain Python output as psrpcore values: psrpcore already maps dict, list, str, bool, int (I32/I64),
    datetime; floats would become Single, so they are made Double here."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return PSDouble(value)
    if isinstance(value, dict):
        return {str(k): to_ps(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_ps(v) for v in value]
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _error_record(error: ScriptError) -> ErrorRecord:
    try:
        category = ErrorCategory[error.category]
    except KeyError:
        category = ErrorCategory.NotSpecified
    exception = NETException(Message=error.message)
    exception.PSObject.type_names.insert(0, error.exception_type)
    return ErrorRecord(
        Exception=exception,
        CategoryInfo=ErrorCategoryInfo(Category=category, Reason=error.exception_type.rsplit(".", 1)[-1]),
        FullyQualifiedErrorId=error.error_id,
    )


def _private_data(handler: ScriptHandler, endpoint: str) -> dict[str, Any]:
    """The pool's ApplicationPrivateData: the server's $PSVersionTable, as Windows PowerShell sends it,
    where the handler knows the endpoint's PowerShell version (``ps_version(endpoint)``)."""
    ps_version = getattr(handler, "ps_version", None)
    version = ps_version(endpoint) if callable(ps_version) else None
    if not version:
        return {}
    major_minor = tuple(int(part) for part in str(version).split(".")[:2])
    compatible = [v for v in ("1.0", "2.0", "3.0", "4.0", "5.0", "5.1") if _tuple(v) <= major_minor]
    table: dict[str, Any] = {
        "PSVersion": PSVersion(str(version)),
        "PSCompatibleVersions": [PSVersion(v) for v in compatible],
        "SerializationVersion": PSVersion("1.1.0.1"),
        # 2.1 in Windows PowerShell 2.0, 2.2 in 3.0 and 4.0, 2.3 in 5.x (MS-PSRP protocolversion)
        "PSRemotingProtocolVersion": PSVersion(
            "2.1" if major_minor < (3, 0) else "2.2" if major_minor < (5, 0) else "2.3"
        ),
    }
    if major_minor >= (5, 1):
        table["PSEdition"] = "Desktop"
    return {"PSVersionTable": PSPrimitiveDictionary(table)}


def _tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


class Shell:
    """One RunspacePool: psrpcore state, outboxes and running pipelines, guarded by one lock."""

    def __init__(
        self,
        shell_id: str,
        resource_uri: str,
        endpoint: str,
        username: str,
        handler: ScriptHandler,
        slow_seconds: Callable[[], float],
    ) -> None:
        self.shell_id = shell_id
        self.resource_uri = resource_uri
        self.endpoint = endpoint
        self.username = username
        self.handler = handler
        self.slow_seconds = slow_seconds
        self.pool = _LabRunspacePool(application_private_data=_private_data(handler, endpoint))
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.outbox: dict[uuid.UUID | None, list[bytes]] = {}
        self.pipelines: dict[uuid.UUID, ServerPipeline] = {}
        self.finished: set[uuid.UUID] = set()
        self.closed = False

    # -- incoming ----------------------------------------------------------------------------

    def feed(
        self, data: bytes, pipeline_id: uuid.UUID | None = None, stream: StreamType = StreamType.default
    ) -> None:
        """Process PSRP fragments from Create, Command or Send; queue the answers."""
        with self.lock:
            self.pool.receive_data(PSRPPayload(data, stream, pipeline_id))
            while True:
                event = self.pool.next_event()
                if event is None:
                    break
                self._on_event(event)
            self._answer_pool_requests()
            self._drain()

    def new_pipeline(self, pipeline_id: uuid.UUID) -> None:
        with self.lock:
            # psrpcore must know the pipeline before its CreatePipeline fragment arrives.
            self.pipelines[pipeline_id] = ServerPipeline(self.pool, pipeline_id)

    def _on_event(self, event: Any) -> None:
        name = type(event).__name__
        if name == "CreatePipelineEvent":
            pipeline = self.pool.pipeline_table[event.pipeline_id]
            pipeline.start()
            metadata = pipeline.metadata  # cached by psrpcore; event.pipeline would parse it again
            thread = threading.Thread(
                target=self._run,
                args=(event.pipeline_id, metadata),
                name=f"lab-pipeline-{self.endpoint}",
                daemon=True,
            )
            thread.start()

    def _answer_pool_requests(self) -> None:
        pool = self.pool
        while pool._pending_ci:
            pool.runspace_availability_response(pool._pending_ci.pop(0), True)
        while pool._pending_available:
            ci = pool._pending_available.pop(0)
            pool.runspace_availability_response(ci, max(0, pool.max_runspaces - len(self.pipelines)))

    def _drain(self) -> None:
        """Move everything psrpcore wants to send into the per-target outboxes."""
        moved = False
        while True:
            payload = self.pool.data_to_send()
            if payload is None:
                break
            self.outbox.setdefault(payload.pipeline_id, []).append(payload.data)
            moved = True
        if moved:
            self.changed.notify_all()

    # -- running a pipeline ------------------------------------------------------------------

    def _run(self, pipeline_id: uuid.UUID, metadata: Any) -> None:
        commands = list(getattr(metadata, "commands", []) or [])
        script = commands[0].command_text if commands else ""
        parameters = {}
        if commands:
            for name, value in commands[0].parameters:
                if name is not None:
                    parameters[str(name)] = to_plain(value)
        invocation = Invocation(
            endpoint=self.endpoint, script=str(script), parameters=parameters, username=self.username
        )
        delay = self.slow_seconds()
        if delay > 0:
            time.sleep(delay)
        try:
            if len(commands) != 1 or not commands[0].is_script:
                raise ScriptError("The lab runs exactly one script per pipeline.", error_id="LabUnsupported")
            outputs, error = list(self.handler(invocation)), None
        except ScriptError as exc:
            outputs, error = [], exc
        except Exception as exc:  # a handler bug still answers the client, as PowerShell would
            log.exception("lab handler failed on %s", self.endpoint)
            outputs, error = [], ScriptError(f"{type(exc).__name__}: {exc}")
        with self.lock:
            pipeline = self.pipelines.get(pipeline_id)
            if pipeline is None or pipeline.state != PSInvocationState.Running:
                return  # stopped or terminated meanwhile
            try:
                for output in outputs:
                    pipeline.write_output(PlainOutput(output))
                if error is not None and not error.terminating:
                    pipeline.write_error(
                        _error_record(error).Exception,
                        _error_record(error).CategoryInfo,
                        fully_qualified_error_id=error.error_id,
                    )
                if error is not None and error.terminating:
                    pipeline._change_state(PSInvocationState.Failed, _error_record(error))
                else:
                    if invocation.script.endswith(EXIT_LASTEXITCODE):
                        ServerHostRequestor(pipeline).set_should_exit(0)
                    pipeline.complete()
            except Exception as exc:
                log.exception("serializing output failed on %s", self.endpoint)
                if pipeline.state == PSInvocationState.Running:
                    pipeline._change_state(
                        PSInvocationState.Failed, _error_record(ScriptError(f"{type(exc).__name__}: {exc}"))
                    )
            self._drain()

    # -- outgoing ----------------------------------------------------------------------------

    def receive(self, pipeline_id: uuid.UUID | None, timeout: float) -> tuple[list[str], bool]:
        """Chunks (base64) for one target; pipelines long-poll up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                if self.closed:
                    raise soap.shell_not_found(self.shell_id)
                queued = self.outbox.pop(pipeline_id, None)
                if queued:
                    done = self._forget_if_final(pipeline_id)
                    return [base64.b64encode(chunk).decode("ascii") for chunk in queued], done
                if pipeline_id is None:
                    return [], False  # pool-level Receive is never retried by pypsrp: answer at once
                if pipeline_id not in self.pipelines:
                    raise soap.SoapFault(
                        soap.FAULT_INVALID_SELECTORS,
                        f"The command {str(pipeline_id).upper()} was not found in the shell.",
                        subcode="w:InvalidSelectors",
                        value="s:Sender",
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise soap.operation_timeout()
                self.changed.wait(remaining)

    def _forget_if_final(self, pipeline_id: uuid.UUID | None) -> bool:
        # pypsrp's invoke() never signals; forget a pipeline once its final state went out.
        if pipeline_id is None:
            return False
        pipeline = self.pipelines.get(pipeline_id)
        if pipeline is not None and pipeline.state in _FINAL_STATES:
            self._drop(pipeline_id)
            return True
        return False

    def _drop(self, pipeline_id: uuid.UUID) -> None:
        self.pipelines.pop(pipeline_id, None)
        self.pool.pipeline_table.pop(pipeline_id, None)
        self.outbox.pop(pipeline_id, None)

    def signal(self, pipeline_id: uuid.UUID, code: str) -> None:
        with self.lock:
            pipeline = self.pipelines.get(pipeline_id)
            if pipeline is None:
                return
            if code.lower() == soap.SIGNAL_CTRL_C and pipeline.state == PSInvocationState.Running:
                pipeline.stop()
                self._drain()
                return
            self._drop(pipeline_id)
            self.changed.notify_all()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            for pipeline_id in list(self.pipelines):
                self._drop(pipeline_id)
            if self.pool.state == RunspacePoolState.Opened:
                try:
                    self.pool.close()
                except Exception:
                    pass
            self.changed.notify_all()
