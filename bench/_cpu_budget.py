"""A CPU budget for one server process of a benchmark (not a benchmark itself).

Two nodes' capacity against one node's (#18: ≥ 1.8×) cannot be measured on a 2-core machine
the plain way: at the load one node holds, the two servers, the load generator, PostgreSQL
and Redis together want more than the two cores. Giving every node the same CPU budget —
a CFS quota of the kernel's cpu controller, ``cores`` × the period — makes a node's capacity
what fits in that budget, so one budgeted node against two budgeted nodes is the question
asked, scaled down, with the rest of the machine left to the generator and the services.

The period is 10 ms (not the kernel's default 100 ms) so that a throttled node waits at most
a few milliseconds, not tens, before it runs again; what throttling there was is read back
(``nr_throttled``, ``throttled_ms``) and reported beside the results.

Needs a writable cpu controller: cgroup v1 (``/sys/fs/cgroup/cpu``) or v2 (``cpu.max``;
the controller enabled for the parent's children). Without one, ``CpuBudget`` raises
``SystemExit`` with the reason instead of measuring something else.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

PERIOD_US = 10_000
V1 = Path("/sys/fs/cgroup/cpu")
V2 = Path("/sys/fs/cgroup")


class CpuBudget:
    """One cgroup with a CPU quota; ``add(pid)`` moves a process (all its threads) into it."""

    def __init__(self, cores: float, name: str) -> None:
        if not 0.01 <= cores <= os.cpu_count():  # type: ignore[operator]
            raise SystemExit(f"a CPU budget of {cores} cores is outside 0.01…{os.cpu_count()}")
        self.cores = cores
        quota = round(cores * PERIOD_US)
        leaf = f"smo-bench-{name}-{secrets.token_hex(3)}"
        try:
            if (V1 / "cgroup.procs").exists():
                self.v2 = False
                self.path = V1 / leaf
                self.path.mkdir()
                (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (self.path / "cpu.cfs_quota_us").write_text(str(quota))
            elif "cpu" in (V2 / "cgroup.subtree_control").read_text().split():
                self.v2 = True
                self.path = V2 / leaf
                self.path.mkdir()
                (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            else:
                raise OSError("no cpu controller: neither cgroup v1's cpu nor v2's cpu.max is available")
        except OSError as e:
            raise SystemExit(f"--node-cpu needs a writable cpu cgroup (run as root): {e}") from e

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def stats(self) -> dict[str, Any]:
        """Throttling so far: periods in which the quota ran out, and the time spent waiting."""
        fields = dict(
            line.split() for line in (self.path / "cpu.stat").read_text().splitlines() if " " in line
        )
        throttled_ms = (
            int(fields.get("throttled_usec", 0)) / 1000
            if self.v2
            else int(fields.get("throttled_time", 0)) / 1e6
        )
        return {
            "cores": self.cores,
            "periods": int(fields.get("nr_periods", 0)),
            "nr_throttled": int(fields.get("nr_throttled", 0)),
            "throttled_ms": round(throttled_ms, 1),
        }

    def throttling_since(self, before: dict[str, Any]) -> dict[str, Any]:
        """Throttling since ``before`` (an earlier ``stats()``): the share of periods whose
        quota ran out, and the time waited."""
        now = self.stats()
        periods = now["periods"] - before["periods"]
        return {
            "throttled_share_of_periods": round(
                (now["nr_throttled"] - before["nr_throttled"]) / max(periods, 1), 3
            ),
            "throttled_ms": round(now["throttled_ms"] - before["throttled_ms"], 1),
        }

    def remove(self) -> None:
        """Remove the (by then empty) cgroup; a process still in it keeps it, silently."""
        try:
            self.path.rmdir()
        except OSError:
            pass
