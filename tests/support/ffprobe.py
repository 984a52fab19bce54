"""ffprobe (Debian's ffmpeg) on recorded files: streams, duration, and a full decode check."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

FFPROBE = shutil.which("ffprobe")


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's JSON for the file; raises if ffprobe reports any error."""
    assert FFPROBE, "ffprobe missing: scripts/system-deps.sh installs ffmpeg"
    done = subprocess.run(
        [FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    return dict(json.loads(done.stdout))


def decoded_duration(path: Path) -> float:
    """Seconds of media found by reading every packet (works on files cut short by a crash,
    whose header carries no duration); raises on any decoding error."""
    assert FFPROBE
    done = subprocess.run(
        [FFPROBE, "-v", "error", "-show_entries", "packet=pts_time,duration_time", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    packets = json.loads(done.stdout).get("packets", [])
    assert packets, f"no packets in {path}"
    first = float(packets[0]["pts_time"])
    last = max(float(p["pts_time"]) + float(p.get("duration_time") or 0) for p in packets)
    return last - first
