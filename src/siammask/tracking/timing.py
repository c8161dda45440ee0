"""How fast a video was tracked, with what describes the conditions: the machine, its load, the backend, threads.

A figure of speed means little without them (the same run on a loaded machine is slower), so ``timing.json``
carries them next to the medians.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path

from siammask.tracking.tracker import StageTimes


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def timing_summary(frame_seconds: Sequence[float], stages: Sequence[StageTimes], targets: int, backend: str,
                   threads: int | None) -> dict:
    """Medians over the tracked frames (the first frame, initialisation, is not among them), in milliseconds."""
    def median_ms(values: Sequence[float]) -> float | None:
        return round(statistics.median(values) * 1000, 3) if values else None

    return {"median_ms_per_frame": median_ms(frame_seconds),
            "stages_median_ms": {name: median_ms([getattr(s, name) for s in stages])
                                 for name in ("crop", "network", "post")},
            "frames": len(frame_seconds), "targets": targets, "backend": backend, "threads": threads,
            "cpu": cpu_model(), "cpu_count": os.cpu_count(), "load_average_1min": load_average()}


def write_timing(path: str | Path, summary: dict) -> Path:
    path = Path(path)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path
