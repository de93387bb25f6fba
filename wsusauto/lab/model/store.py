"""SUSDB for a lab server: a real SQLite file, so state survives a lab restart and other lab
processes can read it (WAL mode lets readers in while a writer works)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

EVENT_PROVIDER = "Windows Server Update Services"

# Each entry moves SUSDB from version i to i + 1 (PRAGMA user_version). Later features (the sync
# engine, the update catalog, approvals) append entries; an existing state directory is upgraded in
# place when the lab opens it, so a restart never loses state.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS tbConfiguration (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS tbService (name TEXT PRIMARY KEY, state TEXT NOT NULL,
        start_mode TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS tbContentAcl (seq INTEGER PRIMARY KEY, identity TEXT NOT NULL,
        rights TEXT NOT NULL, access_type TEXT NOT NULL, inherited INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS tbSyncHistory (id INTEGER PRIMARY KEY AUTOINCREMENT, start_time TEXT,
        end_time TEXT, result TEXT NOT NULL, error TEXT NOT NULL, error_text TEXT NOT NULL,
        started_manually INTEGER NOT NULL, update_errors TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS tbEventInstance (id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id INTEGER NOT NULL, time_created TEXT NOT NULL, message TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS tbFault (name TEXT PRIMARY KEY, arguments TEXT NOT NULL);
    """,
    # 1 -> 2: events carry their provider (Get-WinEvent filters on ProviderName).
    f"""
    ALTER TABLE tbEventInstance ADD COLUMN provider TEXT NOT NULL DEFAULT '{EVENT_PROVIDER}';
    CREATE INDEX IF NOT EXISTS ixEventTime ON tbEventInstance (time_created);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to another server's SUSDB (e.g. a downstream reading its upstream
    from another process); WAL lets it read while the owner writes."""
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=30)


class SusDb:
    """A small typed key/value + tables store over one SQLite file; thread-safe."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            while True:
                # BEGIN IMMEDIATE: another process opening the same SUSDB waits instead of racing.
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    version = self._db.execute("PRAGMA user_version").fetchone()[0]
                    if version > SCHEMA_VERSION:
                        raise RuntimeError(
                            f"{self.path} has SUSDB schema version {version}; "
                            f"this lab knows up to {SCHEMA_VERSION}"
                        )
                    if version == SCHEMA_VERSION:
                        self._db.execute("COMMIT")
                        return
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {version + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @property
    def is_new(self) -> bool:
        return self.get("ServerId") is None

    def checkpoint(self) -> None:
        """Copy the WAL into the main file (readers never need this; backups and copies do)."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Close the connection; the last connection to close checkpoints the WAL. Idempotent."""
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

    def add_event(
        self, event_id: int, time_created: str, message: str, provider: str = EVENT_PROVIDER
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO tbEventInstance (event_id, time_created, message, provider) VALUES (?, ?, ?, ?)",
                (event_id, time_created, message, provider),
            )

    def events(
        self, event_ids: list[int], since: str, limit: int, provider: str = EVENT_PROVIDER
    ) -> list[tuple[int, str, str]]:
        """Newest first, like Get-WinEvent: the given ids, at or after ``since``, at most ``limit``."""
        marks = ",".join("?" * len(event_ids))
        if not event_ids or limit <= 0:
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT event_id, time_created, message FROM tbEventInstance WHERE event_id IN ({marks}) "
                "AND provider = ? AND time_created >= ? ORDER BY time_created DESC, id DESC LIMIT ?",
                (*event_ids, provider, since, limit),
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
