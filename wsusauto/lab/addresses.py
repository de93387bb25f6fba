"""Loopback addresses for lab endpoints: one address per server, in topology order."""

from __future__ import annotations

import ipaddress

from wsusauto.errors import UsageError

_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def allocate(first: str, count: int) -> list[str]:
    """``count`` consecutive addresses from ``first``, all inside 127.0.0.0/8, skipping .0 and .255."""
    try:
        address = ipaddress.ip_address(first)
    except ValueError:
        raise UsageError(f"{first!r} is not an IPv4 address") from None
    if address not in _LOOPBACK:
        raise UsageError(f"lab addresses must be in 127.0.0.0/8 (loopback), not {first}")
    found: list[str] = []
    while len(found) < count:
        if address not in _LOOPBACK or address == _LOOPBACK.broadcast_address:
            raise UsageError(f"not enough loopback addresses after {first} for {count} servers")
        if int(address) & 0xFF not in (0, 255):
            found.append(str(address))
        address += 1
    return found
