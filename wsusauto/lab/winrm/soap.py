"""WS-Management SOAP: parsing requests and writing responses and faults the way WinRM does."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmv": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "pwsh": "http://schemas.microsoft.com/powershell",
    "cfg": "http://schemas.microsoft.com/wbem/wsman/1/config",
}

ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
ACTION_COMMAND = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command"
ACTION_SEND = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send"
ACTION_RECEIVE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive"
ACTION_SIGNAL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ADDRESSING_FAULT_ACTION = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault"

SIGNAL_TERMINATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate"
SIGNAL_CTRL_C_SUFFIXES = ("/ctrl_c", "/crtl_c")  # pypsrp sends ctrl_c; PowerShell itself spells it crtl_c
COMMAND_STATE_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
COMMAND_STATE_RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"

POWERSHELL_URI_PREFIX = "http://schemas.microsoft.com/powershell/"
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"

_ENVELOPE_OPEN = (
    '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
    'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
)

_DURATION = re.compile(r"^P(?:T)?(?:(\d+(?:\.\d+)?)S)?$")


class WSManFault(Exception):
    """A fault to answer with (HTTP 500 and a WS-Management fault body)."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        subcode: str = "w:InternalError",
        sender: bool = False,
        reason: str | None = None,
        action: str = FAULT_ACTION,
        fault_detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.subcode = subcode
        self.sender = sender
        self.reason = reason or message
        self.action = action
        self.fault_detail = fault_detail


def operation_timeout_fault() -> WSManFault:
    text = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout."
    return WSManFault(2150858793, text, subcode="w:TimedOut", reason=text)


def shell_not_found_fault(shell_id: str) -> WSManFault:
    return WSManFault(
        2150858843,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not found "
        "on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the "
        "server. Provide the correct ShellId or create a new shell and retry the operation. ",
        subcode="w:InvalidSelectors",
        sender=True,
        reason="The WS-Management service cannot process the request because the request contained invalid "
        "selectors for the resource. ",
        fault_detail="http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors",
    )


def action_not_supported_fault(action: str) -> WSManFault:
    return WSManFault(
        2150858771,
        "The WS-Management service does not support the action specified in the request. ",
        subcode="a:ActionNotSupported",
        sender=True,
        reason="The action is not supported by the service.",
        action=ADDRESSING_FAULT_ACTION,
        fault_detail=action,
    )


def internal_error_fault(message: str) -> WSManFault:
    return WSManFault(2150858772, message, subcode="w:InternalError", reason=message)


@dataclass
class Request:
    action: str
    message_id: str
    resource_uri: str
    operation_timeout: float
    max_envelope_size: int
    selectors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None


def parse_duration(text: str | None, default: float) -> float:
    if not text:
        return default
    m = _DURATION.match(text.strip())
    if not m or m.group(1) is None:
        return default
    return float(m.group(1))


def parse_request(data: bytes) -> Request:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise WSManFault(
            2150858817,  # ERROR_WSMAN_INVALID_XML
            f"The WS-Management service cannot process the request because the XML is invalid: {exc}",
            subcode="w:SchemaValidationError",
            sender=True,
        ) from None
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    if header is None:
        raise WSManFault(2150858817, "The request has no SOAP header.", subcode="w:SchemaValidationError", sender=True)

    def text(path: str) -> str:
        el = header.find(path, NS)
        return (el.text or "").strip() if el is not None else ""

    selectors = {
        el.get("Name", ""): (el.text or "") for el in header.findall("wsman:SelectorSet/wsman:Selector", NS)
    }
    options = {el.get("Name", ""): (el.text or "") for el in header.findall("wsman:OptionSet/wsman:Option", NS)}
    try:
        max_env = int(text("wsman:MaxEnvelopeSize") or 153600)
    except ValueError:
        max_env = 153600
    return Request(
        action=text("wsa:Action"),
        message_id=text("wsa:MessageID"),
        resource_uri=text("wsman:ResourceURI"),
        operation_timeout=parse_duration(text("wsman:OperationTimeout"), 60.0),
        max_envelope_size=max_env,
        selectors=selectors,
        options=options,
        body=body,
    )


def envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        f"{_ENVELOPE_OPEN}<s:Header><a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode("utf-8")


def fault_envelope(fault: WSManFault, relates_to: str, machine: str) -> bytes:
    code = "s:Sender" if fault.sender else "s:Receiver"
    detail = f"<w:FaultDetail>{escape(fault.fault_detail)}</w:FaultDetail>" if fault.fault_detail else ""
    body = (
        f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode>"
        f'</s:Code><s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        f'<s:Detail>{detail}<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        f"Code={quoteattr(str(fault.code))} Machine={quoteattr(machine)}>"
        f"<f:Message>{escape(fault.message)}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return envelope(fault.action, relates_to, body)
