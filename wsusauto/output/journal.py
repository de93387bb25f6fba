"""The run journal: JSON lines, written and flushed to disk as each change happens.

Before a change is sent to a server an ``applying`` line records what is about to change; after it,
an ``applied`` or ``failed`` line. A run that crashes in between leaves the ``applying`` line, so the
journal never claims less than what may have changed. Secrets never reach it: values are passed
through the same redaction as the logs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any, TextIO

from wsusauto.output.jsonable import to_jsonable
from wsusauto.output.log import redact_secrets


class Journal:
    def __init__(self, path: str | Path, run_id: str) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: TextIO = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run
        self._lock = threading.Lock()

    def write(self, event: str, **fields: Any) -> None:
        record = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
            "run_id": self.run_id,
            "event": event,
            **fields,
        }
        safe = redact_secrets(None, "", to_jsonable(record))
        line = json.dumps(safe, sort_keys=False, default=str)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        with self._lock:
            if not self._handle.closed:
                self._handle.close()


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
