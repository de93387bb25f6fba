"""WS-Management SOAP: reading requests and writing responses and faults as Windows does.

Responses are built from string templates: ElementTree serialization showed up in profiles, and
the shapes are fixed. Every response carries ``RelatesTo`` = the request's MessageID (pypsrp checks).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmv": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "wsmanfault": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
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
SIGNAL_TERMINATE = (
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate"  # compared lower-case
)
SIGNAL_CTRL_C = "powershell/signal/ctrl_c"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

# Real WinRM fault codes (winerror.h ERROR_WSMAN_*).
FAULT_OPERATION_TIMEOUT = 2150858793  # 0x80338029: the long-poll Receive ran out of time
FAULT_SHELL_NOT_FOUND = 2150858843  # 0x8033805B
FAULT_ACTION_NOT_SUPPORTED = 2150858771  # 0x80338013
FAULT_INVALID_SELECTORS = 2150858774  # 0x80338016
FAULT_INTERNAL = 2150859173  # 0x803381A5: generic plug-in failure
FAULT_ACCESS_DENIED = 5

_TIMEOUT_TEXT = (
    "The WS-Management service cannot complete the operation within the time specified in OperationTimeout."
)


class SoapFault(Exception):
    """A WSMan fault to send back (HTTP 500)."""

    def __init__(
        self,
        code: int,
        message: str,
        subcode: str = "w:InternalError",
        value: str = "s:Receiver",
        action: str = ACTION_FAULT,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.subcode, self.value, self.action = code, message, subcode, value, action


def operation_timeout() -> SoapFault:
    return SoapFault(FAULT_OPERATION_TIMEOUT, _TIMEOUT_TEXT, subcode="w:TimedOut")


def shell_not_found(shell_id: str) -> SoapFault:
    return SoapFault(
        FAULT_SHELL_NOT_FOUND,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell "
        "was not found on the server. Possible causes are: the specified ShellId is incorrect or the "
        "shell no longer exists on the server. Provide the correct ShellId or create a new shell and "
        "retry the operation.",
        subcode="w:InvalidSelectors",
        value="s:Sender",
    )


def action_not_supported(action: str) -> SoapFault:
    return SoapFault(
        FAULT_ACTION_NOT_SUPPORTED,
        f"The WS-Management service cannot process the request because the action {action} is not supported.",
        subcode="a:ActionNotSupported",
        value="s:Sender",
    )


@dataclass
class Request:
    action: str
    message_id: str
    resource_uri: str
    shell_id: str | None
    operation_timeout: float
    body: ET.Element


def _timeout_seconds(text: str | None) -> float:
    # xs:duration as WinRM clients send it: PT20S, PT20.500S, PT1M
    if not text or not text.startswith("PT"):
        return 20.0
    total, number = 0.0, ""
    for char in text[2:]:
        if char.isdigit() or char == ".":
            number += char
            continue
        value = float(number or 0)
        total += value * {"H": 3600, "M": 60, "S": 1}.get(char, 0)
        number = ""
    return total or 20.0


def parse_request(data: bytes) -> Request:
    try:
        envelope = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SoapFault(
            FAULT_INTERNAL,
            f"The WS-Management service cannot process the request: bad XML ({exc})",
            subcode="w:SchemaValidationError",
            value="s:Sender",
        ) from None
    header = envelope.find("s:Header", NS)
    body = envelope.find("s:Body", NS)
    if header is None or body is None:
        raise SoapFault(
            FAULT_INTERNAL,
            "The WS-Management service cannot process the request: no SOAP header/body",
            subcode="w:SchemaValidationError",
            value="s:Sender",
        )

    def text(path: str) -> str:
        element = header.find(path, NS)
        return (element.text or "").strip() if element is not None else ""

    selector = header.find("wsman:SelectorSet/wsman:Selector[@Name='ShellId']", NS)
    return Request(
        action=text("wsa:Action"),
        message_id=text("wsa:MessageID"),
        resource_uri=text("wsman:ResourceURI"),
        shell_id=(selector.text or "").strip().upper() if selector is not None else None,
        operation_timeout=_timeout_seconds(text("wsman:OperationTimeout")),
        body=body,
    )


def _envelope(action: str, relates_to: str, body: str, header_extra: str = "") -> bytes:
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
        'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
        "<s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>{header_extra}"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault_response(fault: SoapFault, relates_to: str, machine: str) -> bytes:
    body = (
        "<s:Fault>"
        f"<s:Code><s:Value>{fault.value}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.message)}</s:Text></s:Reason>'
        "<s:Detail>"
        f'<f:WSManFault xmlns:f="{NS["wsmanfault"]}" Code="{fault.code}" Machine="{escape(machine)}">'
        f"<f:Message>{escape(fault.message)}</f:Message></f:WSManFault>"
        "</s:Detail></s:Fault>"
    )
    return _envelope(fault.action, relates_to, body)


def _shell_xml(shell_id: str, resource_uri: str, state: str = "Connected") -> str:
    return (
        f'<rsp:Shell xmlns:rsp="{NS["rsp"]}"><rsp:ShellId>{shell_id}</rsp:ShellId>'
        f"<rsp:ResourceUri>{escape(resource_uri)}</rsp:ResourceUri><rsp:Owner>lab</rsp:Owner>"
        "<rsp:ClientIP>127.0.0.1</rsp:ClientIP><rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
        "<rsp:InputStreams>stdin pr</rsp:InputStreams><rsp:OutputStreams>stdout</rsp:OutputStreams>"
        f"<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:State>{state}</rsp:State></rsp:Shell>"
    )


def create_response(relates_to: str, shell_id: str, resource_uri: str, address: str) -> bytes:
    body = (
        "<x:ResourceCreated>"
        f"<a:Address>http://{address}:5985/wsman</a:Address>"
        "<a:ReferenceParameters>"
        f"<w:ResourceURI>{escape(resource_uri)}</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters></x:ResourceCreated>" + _shell_xml(shell_id, resource_uri)
    )
    return _envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", relates_to, body)


def get_shell_response(relates_to: str, shell_id: str, resource_uri: str) -> bytes:
    return _envelope(
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse",
        relates_to,
        _shell_xml(shell_id, resource_uri),
    )


def command_response(relates_to: str, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    return _envelope(
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse", relates_to, body
    )


def empty_response(action: str, relates_to: str, element: str) -> bytes:
    return _envelope(action, relates_to, element)


def receive_response(relates_to: str, chunks: list[str], command_id: str | None, done: bool) -> bytes:
    attr = f' CommandId="{command_id}"' if command_id else ""
    streams = "".join(f'<rsp:Stream Name="stdout"{attr}>{chunk}</rsp:Stream>' for chunk in chunks)
    state = ""
    if command_id:
        status = "Done" if done else "Running"
        state = (
            f'<rsp:CommandState CommandId="{command_id}" '
            f'State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/{status}"/>'
        )
    body = f"<rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse>"
    return _envelope(
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse", relates_to, body
    )
