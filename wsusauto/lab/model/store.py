"""SUSDB for a lab server: a real SQLite file, so state survives a lab restart and other lab
processes can read it (WAL mode lets readers in while a writer works)."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Sequence
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
    # 2 -> 3: the column the documented Range-header fix sets (KB 922330: "USE SUSDB update
    # tbConfigurationC set BitsDownloadPriorityForeground=1"), one row as in SUSDB; and per-server
    # update state (IUpdate: State, IsApproved, IsDeclined; an approval goes inactive when the
    # update's language is no longer enabled: replicas synchronize only active approvals).
    """
    CREATE TABLE IF NOT EXISTS tbConfigurationC (
        BitsDownloadPriorityForeground INTEGER NOT NULL DEFAULT 0);
    INSERT INTO tbConfigurationC (BitsDownloadPriorityForeground)
        SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM tbConfigurationC);
    CREATE TABLE IF NOT EXISTS tbUpdate (update_id TEXT PRIMARY KEY, title TEXT NOT NULL,
        product TEXT NOT NULL, classification TEXT NOT NULL, language TEXT NOT NULL,
        size_bytes INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'NotReady',
        approved INTEGER NOT NULL DEFAULT 0, declined INTEGER NOT NULL DEFAULT 0,
        approval_active INTEGER NOT NULL DEFAULT 1, seq INTEGER NOT NULL DEFAULT 0);
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
        # Bumped by every configuration write through this object: lets a reader that decided on
        # some values know nothing has changed since (the lab's ticker).
        self.revision = 0
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
            self.revision += 1

    def get_many(self, names: Sequence[str]) -> dict[str, Any]:
        """The stored rows of these members only (the ticker reads a few, many times a second)."""
        marks = ", ".join("?" * len(names))
        with self._lock:
            rows = self._db.execute(
                f"SELECT name, value FROM tbConfiguration WHERE name IN ({marks})", tuple(names)
            ).fetchall()
        return {name: json.loads(value) for name, value in rows}

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

    def last_sync_number(self) -> int | None:
        """The row number of the newest tbSyncHistory entry (None: no sync ever ended)."""
        with self._lock:
            (number,) = self._db.execute("SELECT max(id) FROM tbSyncHistory").fetchone()
        return None if number is None else int(number)

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

    # -- tbConfigurationC and the SQL the documented fix runs ----------------------------------

    def bits_foreground(self) -> bool:
        with self._lock:
            row = self._db.execute("SELECT BitsDownloadPriorityForeground FROM tbConfigurationC").fetchone()
        return bool(row and row[0])

    def set_bits_foreground(self, value: bool) -> None:
        with self._lock:
            self._db.execute("UPDATE tbConfigurationC SET BitsDownloadPriorityForeground = ?", (int(value),))

    def execute_tsql(self, query: str) -> list[str]:
        """Run the text of an osql/sqlcmd ``-Q`` on this SUSDB (SQLite), as far as the lab's T-SQL
        goes: ``SET NOCOUNT ON;``, a leading ``USE SUSDB``, three-part names ``SUSDB.dbo.<table>``
        mapped to the SQLite table, then one SELECT or UPDATE on a ``tb*`` table. Returns the rows
        as text lines (a SELECT) or the "(n rows affected)" line. Raises ``TsqlError`` with SQL
        Server's wording for what the lab cannot run."""
        text = query.strip()
        if re.match(r"(?i)^set\s+nocount\s+on\s*;", text):
            nocount, text = True, re.sub(r"(?i)^set\s+nocount\s+on\s*;", "", text).strip()
        else:
            nocount = False
        use = re.match(r"(?i)^use\s+(\[?\w+\]?)\s*;?\s*", text)
        if use:
            if use[1].strip("[]").upper() != "SUSDB":
                raise TsqlError(
                    911,
                    f"Database '{use[1].strip('[]')}' does not exist. Make sure that the "
                    "name is entered correctly.",
                )
            text = text[use.end() :]
        text = re.sub(r"(?i)\b\[?SUSDB\]?\.\[?dbo\]?\.(\w+)", r"\1", text).strip().rstrip(";")
        statement = re.match(r"(?i)^(select|update)\b", text)
        tables = re.findall(r"(?i)\b(?:from|update)\s+(\w+)", text)
        if (
            statement is None
            or ";" in text
            or not tables
            or not all(t.lower().startswith("tb") for t in tables)
        ):
            raise TsqlError(102, f"Incorrect syntax near '{text.split()[0] if text.split() else query}'.")
        with self._lock:
            try:
                cursor = self._db.execute(text)
            except sqlite3.OperationalError as exc:
                missing = re.search(r"no such (?:table|column): (\S+)", str(exc))
                if missing and "table" in str(exc):
                    raise TsqlError(208, f"Invalid object name '{missing[1]}'.") from None
                if missing:
                    raise TsqlError(207, f"Invalid column name '{missing[1]}'.") from None
                raise TsqlError(102, f"Incorrect syntax near '{text.split()[0]}'.") from None
            if statement[1].lower() == "select":
                lines = [" ".join("NULL" if v is None else str(v) for v in row) for row in cursor.fetchall()]
                count = len(lines)
            else:
                lines, count = [], cursor.rowcount
        if not nocount:
            lines.append(f"({count} row{'' if count == 1 else 's'} affected)")
        return lines

    # -- updates (IUpdate state per server) ----------------------------------------------------

    _UPDATE_COLUMNS = (
        "update_id, title, product, classification, language, size_bytes, state, approved, declined, "
        "approval_active"
    )

    def updates(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._UPDATE_COLUMNS} FROM tbUpdate ORDER BY seq, update_id"
            ).fetchall()
        return [_update_row(r) for r in rows]

    def updates_by_id(self, update_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The rows of these updates (ids compared case-insensitively), without reading the rest."""
        wanted = [i.lower() for i in update_ids]
        rows = []
        with self._lock:
            for start in range(0, len(wanted), 500):  # under SQLite's older 999-variable limit
                chunk = wanted[start : start + 500]
                rows += self._db.execute(
                    f"SELECT {self._UPDATE_COLUMNS}, seq FROM tbUpdate WHERE lower(update_id) IN "
                    f"({', '.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
        rows.sort(key=lambda r: (r[-1], r[0]))
        return [_update_row(r[:-1]) for r in rows]

    def approved_updates(self) -> list[dict[str, Any]]:
        """The rows of the updates whose latest revision is approved (approved, not declined)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._UPDATE_COLUMNS} FROM tbUpdate WHERE approved AND NOT declined "
                "ORDER BY seq, update_id"
            ).fetchall()
        return [_update_row(r) for r in rows]

    def upsert_updates(self, rows: list[dict[str, Any]]) -> None:
        """Insert or replace whole update rows (keys as ``updates()`` returns them)."""
        with self._lock:
            self._db.execute("BEGIN")
            start = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM tbUpdate").fetchone()[0]
            self._db.executemany(
                f"INSERT INTO tbUpdate ({self._UPDATE_COLUMNS}, seq) VALUES ({', '.join('?' * 11)}) "
                "ON CONFLICT(update_id) DO UPDATE SET title = excluded.title, product = excluded.product, "
                "classification = excluded.classification, language = excluded.language, "
                "size_bytes = excluded.size_bytes, state = excluded.state, approved = excluded.approved, "
                "declined = excluded.declined, approval_active = excluded.approval_active",
                [
                    (
                        r["UpdateId"],
                        r["Title"],
                        r["Product"],
                        r["Classification"],
                        r["Language"],
                        int(r["SizeBytes"]),
                        r["State"],
                        int(r["IsApproved"]),
                        int(r["IsDeclined"]),
                        int(r.get("ApprovalActive", True)),
                        start + i + 1,
                    )
                    for i, r in enumerate(rows)
                ],
            )
            self._db.execute("COMMIT")

    def update_counts(self) -> dict[str, int]:
        """UpdateServerStatus's update counts, from the table."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(approved AND NOT declined), 0), COALESCE(SUM(declined), 0), "
                "COALESCE(SUM(state = 'Failed' AND NOT declined), 0), "
                "COALESCE(SUM(state = 'NotReady' AND approved AND NOT declined), 0) FROM tbUpdate"
            ).fetchone()
        total, approved, declined, failed, needing = (int(v) for v in row)
        return {
            "UpdateCount": total,
            "ApprovedUpdateCount": approved,
            "NotApprovedUpdateCount": max(0, total - approved - declined),
            "DeclinedUpdateCount": declined,
            "UpdatesWithServerErrorsCount": failed,
            "UpdatesNeedingFilesCount": needing,
        }


class TsqlError(Exception):
    """A SQL Server error as osql/sqlcmd print it (Msg number, then the message)."""

    def __init__(self, number: int, message: str) -> None:
        super().__init__(message)
        self.number = number
        self.message = message


def _update_row(row: tuple[Any, ...]) -> dict[str, Any]:
    update_id, title, product, classification, language, size, state, approved, declined, active = row
    return {
        "UpdateId": update_id,
        "Title": title,
        "Product": product,
        "Classification": classification,
        "Language": language,
        "SizeBytes": int(size),
        "State": state,
        "IsApproved": bool(approved),
        "IsDeclined": bool(declined),
        "ApprovalActive": bool(active),
    }


def read_updates(path: Path) -> list[dict[str, Any]]:
    """Another server's updates, read-only from its SUSDB file (another lab process may own it)."""
    with connect_read_only(path) as db:
        try:
            rows = db.execute(
                f"SELECT {SusDb._UPDATE_COLUMNS} FROM tbUpdate ORDER BY seq, update_id"
            ).fetchall()
        except sqlite3.OperationalError:  # an older SUSDB its lab has not upgraded yet
            return []
    return [_update_row(r) for r in rows]
