"""Benchmark helpers that import neither torch nor transformers, so a torch-free worker process (the ONNX
runtime path of `bench/infer_speed.py`) can use them: the data and results paths, peak memory, JSON output."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SHARED = Path(os.environ.get("GOEMOX_SHARED", REPO.parent / "shared"))
DEFAULT_DATA = SHARED / "data" / "goemotions"
DEFAULT_ENCODER = SHARED / "models" / "all-MiniLM-L6-v2"


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB.

    Read from `VmHWM` in /proc/self/status: Linux's `getrusage` carries the parent's peak into a child started
    with fork + exec, so a worker process would report its launcher's peak when that is higher. Elsewhere,
    `getrusage` (KiB on Linux).
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_json(path: Path, payload: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")
    return path
