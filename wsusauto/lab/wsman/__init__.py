"""The lab's WinRM endpoints: WS-Management over HTTP(S) with Basic, NTLM and Negotiate (with
WinRM message encryption), PSRP through psrpcore's server side."""

from wsusauto.lab.wsman.endpoint import EndpointFaults, EndpointSpec
from wsusauto.lab.wsman.server import WinRMServer

__all__ = ["EndpointFaults", "EndpointSpec", "WinRMServer"]
