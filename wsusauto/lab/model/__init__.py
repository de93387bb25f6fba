"""The lab's model of WSUS servers: each server's state lives in its own SUSDB (a SQLite file)."""

from wsusauto.lab.model.server import WsusServerModel

__all__ = ["WsusServerModel"]
