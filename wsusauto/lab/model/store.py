"""SUSDB for a lab server: a real SQLite file, so state survives a lab restart and other lab
processes can read it (WAL mode lets readers in while a writer works)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tbConfiguration (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tbService (name TEXT PRIMARY KEY, state TEXT NOT NULL, start_mode TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tbContentAcl (seq INTEGER PRIMARY KEY, identity TEXT NOT NULL,
    rights TEXT NOT NULL,
    access_type TEXT NOT NULL, inherited INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tbSyncHistory (id INTEGER PRIMARY KEY AUTOINCREMENT, start_time TEXT,
    end_time TEXT,
    result TEXT NOT NULL, error TEXT NOT NULL, error_text TEXT NOT NULL, started_manually INTEGER NOT NULL,
    update_errors TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tbEventInstance (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id INTEGER NOT NULL,
    time_created TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tbFault (name TEXT PRIMARY KEY, arguments TEXT NOT NULL);
"""


class SusDb:
    """A small typed key/value + tables store over one SQLite file; thread-safe."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @property
    def is_new(self) -> bool:
        return self.get("ServerId") is None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- configuration values (JSON-encoded, keyed by API member name) -----------------------

    def get(self, name: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM tbConfiguration WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_many(self, values: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO tbConfiguration (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                [(k, json.dumps(v)) for k, v in values.items()],
            )
            self._db.execute("COMMIT")

    def all_config(self) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute("SELECT name, value FROM tbConfiguration").fetchall()
        return {name: json.loads(value) for name, value in rows}

    # -- tables ------------------------------------------------------------------------------

    def services(self) -> dict[str, tuple[str, str]]:
        with self._lock:
            rows = self._db.execute("SELECT name, state, start_mode FROM tbService ORDER BY name").fetchall()
        return {name: (state, mode) for name, state, mode in rows}

    def set_service(self, name: str, state: str, start_mode: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO tbService VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "state = excluded.state, start_mode = excluded.start_mode",
                (name, state, start_mode),
            )

    def content_acl(self) -> list[tuple[str, str, str, bool]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT identity, rights, access_type, inherited FROM tbContentAcl ORDER BY seq"
            ).fetchall()
        return [(i, r, t, bool(h)) for i, r, t, h in rows]

    def replace_content_acl(self, rules: list[tuple[str, str, str, bool]]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM tbContentAcl")
            self._db.executemany(
                "INSERT INTO tbContentAcl (identity, rights, access_type, inherited) VALUES (?, ?, ?, ?)",
                [(i, r, t, int(h)) for i, r, t, h in rules],
            )
            self._db.execute("COMMIT")

    def add_sync(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO tbSyncHistory (start_time, end_time, result, error, error_text, "
                "started_manually, "
                "update_errors) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record["StartTime"],
                    record["EndTime"],
                    record["Result"],
                    record["Error"],
                    record["ErrorText"],
                    int(record["StartedManually"]),
                    json.dumps(record["UpdateErrors"]),
                ),
            )

    def sync_history(self, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT start_time, end_time, result, error, error_text, started_manually, update_errors "
                "FROM tbSyncHistory ORDER BY id DESC LIMIT ?",
                (max(0, limit),),
            ).fetchall()
        return [
            {
                "Result": r,
                "Error": e,
                "ErrorText": t,
                "StartTime": s,
                "EndTime": end,
                "StartedManually": bool(m),
                "UpdateErrors": json.loads(u),
            }
            for s, end, r, e, t, m, u in rows
        ]

    def add_event(self, event_id: int, time_created: str, message: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO tbEventInstance (event_id, time_created, message) VALUES (?, ?, ?)",
                (event_id, time_created, message),
            )

    def events(self, event_ids: list[int], since: str, limit: int) -> list[tuple[int, str, str]]:
        marks = ",".join("?" * len(event_ids))
        if not event_ids or limit <= 0:
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT event_id, time_created, message FROM tbEventInstance WHERE event_id IN ({marks}) "
                "AND time_created >= ? ORDER BY time_created DESC, id DESC LIMIT ?",
                (*event_ids, since, limit),
            ).fetchall()
        return [(int(i), t, m) for i, t, m in rows]

    def faults(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT name, arguments FROM tbFault").fetchall()
        return {name: json.loads(arguments) for name, arguments in rows}

    def replace_faults(self, faults: dict[str, dict[str, Any]]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM tbFault")
            self._db.executemany(
                "INSERT INTO tbFault VALUES (?, ?)",
                [(name, json.dumps(args)) for name, args in faults.items()],
            )
            self._db.execute("COMMIT")
