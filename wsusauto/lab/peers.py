"""Other lab servers as one server sees them over the network: by name or address.

A name resolves to a lab server when it is the server's name, or its first label plus any domain
suffix (``wsus-root``, ``WSUS-ROOT.corp.example``), case-insensitively, or the server's lab address.
The server is read in this process when it runs here, else read-only from its SUSDB file in the
state directory (another lab process may own it).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsusauto.lab.model.server import WsusServerModel
from wsusauto.lab.model.store import connect_read_only, read_updates


@dataclass(frozen=True)
class Peer:
    name: str
    path: Path  # its SUSDB file
    model: WsusServerModel | None  # when it runs in this process

    def config(self) -> dict[str, Any]:
        if self.model is not None:
            return self.model.config()
        with connect_read_only(self.path) as db:
            return {
                key: json.loads(value) for key, value in db.execute("SELECT name, value FROM tbConfiguration")
            }

    def faults(self) -> dict[str, dict[str, Any]]:
        if self.model is not None:
            return self.model.faults
        with connect_read_only(self.path) as db:
            return {n: json.loads(a) for n, a in db.execute("SELECT name, arguments FROM tbFault")}

    def updates(self) -> list[dict[str, Any]]:
        if self.model is not None:
            return self.model.updates()
        return read_updates(self.path)


def _state_dir(server: WsusServerModel) -> Path:
    return server.db.path.parent.parent


def _all(server: WsusServerModel, peers: Mapping[str, WsusServerModel]) -> dict[str, Peer]:
    found: dict[str, Peer] = {}
    state_dir = _state_dir(server)
    if state_dir.is_dir():
        for entry in sorted(state_dir.iterdir()):
            if (entry / "SUSDB.sqlite").exists():
                found[entry.name] = Peer(entry.name, entry / "SUSDB.sqlite", peers.get(entry.name))
    for name, model in peers.items():
        found[name] = Peer(name, model.db.path, model)
    return found


def is_address(text: str) -> bool:
    """An IP address literal (v4 or v6), not a name."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def find(server: WsusServerModel, peers: Mapping[str, WsusServerModel], name: str) -> Peer | None:
    """The lab server this name (or address) reaches from ``server``, or None."""
    text = name.strip().rstrip(".")
    if not text:
        return None
    # The common case first, without listing the state directory: the exact name or its first label.
    for candidate in dict.fromkeys((text, text.split(".")[0])):
        if candidate in peers:
            return Peer(candidate, peers[candidate].db.path, peers[candidate])
        path = _state_dir(server) / candidate / "SUSDB.sqlite"
        if path.exists() and not is_address(text):
            return Peer(candidate, path, None)
    servers = _all(server, peers)
    if is_address(text):
        for peer in servers.values():
            if peer.config().get("LabAddress") == text:
                return peer
        return None
    lowered = {n.lower(): p for n, p in servers.items()}
    if text.lower() in lowered:
        return lowered[text.lower()]
    labels = text.lower().split(".")
    for cut in range(len(labels) - 1, 0, -1):  # the longest name that leaves a domain suffix
        candidate = ".".join(labels[:cut])
        if candidate in lowered:
            return lowered[candidate]
    return None
