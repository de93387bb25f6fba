"""The lab's clock: real UTC time, or virtual time running ``scale`` times faster (``--time-scale``).

Sync durations and schedules in the lab are measured on this clock, so a 20-minute synchronization
takes 2 real seconds at ``--time-scale 600``. Picklable, so lab worker processes share the origin.
"""

from __future__ import annotations

import datetime as dt
import time


class VirtualClock:
    def __init__(self, scale: float = 1.0, origin: dt.datetime | None = None) -> None:
        if scale <= 0:
            raise ValueError("the time scale must be positive")
        self.scale = scale
        self.origin = origin or dt.datetime.now(dt.timezone.utc)
        self._wall_origin = time.time()

    def __call__(self) -> dt.datetime:
        elapsed = time.time() - self._wall_origin
        return self.origin + dt.timedelta(seconds=elapsed * self.scale)
