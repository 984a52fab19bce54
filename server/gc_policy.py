"""The garbage collector while meetings run.

CPython's full collection scans every tracked object outside the permanent generation. With
200 media peers in a process (aiortc's connections, transports, receivers) a full collection
took 100-290 ms, and the event loop, which forwards every RTP packet, stood still meanwhile:
that one stall was the latency p99 of bench/meeting200.py. Full collections keep coming while
the heap grows (a join storm) and now and then afterwards.

The policy: after each full collection, everything that survived it is alive and long-lived,
so it is frozen (``gc.freeze``: moved to the permanent generation, which collections skip).
The next full collection then scans only what was made since. Frozen objects are still freed
by reference counting; only reference cycles among them wait. So the process thaws
(``gc.unfreeze`` and one full collection, at a moment it chooses) once the peers that left
since the last thaw are as many as those still connected (and at least ``THAW_MIN``): the
garbage kept frozen stays under the live peers' own size, and the one long pause comes when
people are leaving anyway.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

log = logging.getLogger("smo.gc")
THAW_MIN = 20  # departures before a thaw is considered at all


class GcPolicy:
    def __init__(self) -> None:
        self.installed = False
        self.freezing = False  # False: only observe (the report in /healthz)
        self.freezes = 0
        self.thaws = 0
        self.departures = 0  # peers gone since the last thaw
        self.full_collections = 0
        self.longest_full_ms = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = 0.0
        self._freeze_due = False

    def install(self, loop: asyncio.AbstractEventLoop, *, freeze: bool = True) -> None:
        if self.installed:
            return
        self._loop = loop
        self.freezing = freeze
        gc.callbacks.append(self._on_collection)
        self.installed = True

    def uninstall(self) -> None:
        if not self.installed:
            return
        gc.callbacks.remove(self._on_collection)
        self.installed = False
        self._loop = None

    # --- the collector's callback (any thread that allocates may run a collection) --------------
    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.full_collections += 1
        self.longest_full_ms = max(self.longest_full_ms, (time.perf_counter() - self._started) * 1000)
        loop = self._loop
        if self.freezing and loop is not None and not self._freeze_due and not loop.is_closed():
            self._freeze_due = True  # not from inside the collector: on the loop, right after
            loop.call_soon_threadsafe(self.freeze)

    def freeze(self) -> None:
        self._freeze_due = False
        gc.freeze()
        self.freezes += 1

    # --- reclaiming cycles among frozen objects ------------------------------------------------
    def departed(self, remaining: int) -> bool:
        """A media peer left; ``remaining`` peers are still connected. True if this thawed."""
        if not (self.installed and self.freezing):
            return False
        self.departures += 1
        if self.departures < max(THAW_MIN, remaining):
            return False
        self.thaw()
        return True

    def thaw(self) -> None:
        started = time.perf_counter()
        self.departures = 0
        gc.unfreeze()
        collected = gc.collect()  # its callback schedules the freeze of the survivors
        self.thaws += 1
        log.info(
            "gc thawed",
            extra={"collected": collected, "ms": round((time.perf_counter() - started) * 1000, 1)},
        )

    def status(self) -> dict[str, Any]:
        return {
            "freeze_survivors": self.installed and self.freezing,
            "frozen": gc.get_freeze_count(),
            "full_collections": self.full_collections,
            "longest_full_ms": round(self.longest_full_ms, 1),
            "freezes": self.freezes,
            "thaws": self.thaws,
        }
