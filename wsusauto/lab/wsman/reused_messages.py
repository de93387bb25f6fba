"""Client messages the lab deserializes once per distinct payload instead of once per pool.

Every pool a client opens sends the same SessionCapability and InitRunspacePool messages, and every
run of a snippet with the same parameters the same CreatePipeline (ids travel in the PSRP header,
not in the payload). psrpcore turns each into its object model, about 2 ms apiece: a quarter of
the lab's CPU per facts call. The objects are only read afterwards (psrpcore builds its pipeline
and host descriptions from them, the lab reads the script and parameters), so one object serves
every pool that sends the same bytes, under the same session capability. A payload holding a
SecureString is never reused: it is encrypted with its own pool's session key.
"""

from __future__ import annotations

import threading
from typing import Any

from psrpcore.types import PSRPMessageType

REUSABLE = frozenset(
    {PSRPMessageType.SessionCapability, PSRPMessageType.InitRunspacePool, PSRPMessageType.CreatePipeline}
)
_LIMIT = 256  # distinct payloads kept: snippets x parameter sets in use; emptied when full


def capability_key(capability: Any) -> tuple[str, str, str] | None:
    """What of the client's session capability the deserializer may depend on."""
    if capability is None:
        return None
    return (str(capability.PSVersion), str(capability.protocolversion), str(capability.SerializationVersion))


class DeserializedMessages:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[tuple[Any, ...], Any] = {}

    @staticmethod
    def key(message_type: PSRPMessageType, data: bytes, capability: Any) -> tuple[Any, ...] | None:
        """None: this message is deserialized afresh every time."""
        if message_type not in REUSABLE or b"<SS" in data:
            return None
        return (message_type, bytes(data), capability_key(capability))

    def get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._objects.get(key)

    def put(self, key: tuple[Any, ...], ps_object: Any) -> None:
        with self._lock:
            if len(self._objects) >= _LIMIT:
                self._objects.clear()
            self._objects[key] = ps_object


DESERIALIZED = DeserializedMessages()
