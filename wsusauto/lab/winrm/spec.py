"""Configuration of one lab WinRM endpoint and the faults that can be injected into it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EndpointFaults:
    """Faults injected into one endpoint. Read on every request, so they can be flipped at runtime."""

    down: bool = False  # refuse connections (listener closed; reopened by WinRMServer.set_faults)
    slow_seconds: float = 0.0  # delay before the handler runs, per pipeline
    http_status: int | None = None  # 500 or 503: answer every request with that status
    auth_reject: bool = False  # every authentication attempt gets 401


@dataclass
class EndpointSpec:
    name: str  # server name, e.g. "wsus-root"
    address: str  # e.g. "127.0.1.2"; one address per endpoint
    username: str
    password: str
    http_port: int = 5985
    https_port: int | None = 5986  # None = no HTTPS listener
    allow_unencrypted: bool = False  # Basic over HTTP and unencrypted NTLM over HTTP only when True
    faults: EndpointFaults = field(default_factory=EndpointFaults)
    cbt_strict: bool = False  # HTTPS + NTLM: reject clients that send no channel binding token
