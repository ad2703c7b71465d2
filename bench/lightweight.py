"""Benchmark helpers that import neither torch nor transformers, so a torch-free worker process (the ONNX
runtime path of `bench/infer_speed.py`) can use them: the data and results paths, peak memory, JSON output, and
running a benchmark's jobs in worker processes."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
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


def run_workers(script: str, jobs: list[tuple[str, int]], work: Path, at_once: int) -> None:
    """Run each `(name, seed)` job as `python SCRIPT <this command line> --worker NAME SEED`, `at_once` at a time,
    each in its own process logging to `WORK/NAME_seedSEED.log`; return when all have ended (the caller checks
    what each one wrote)."""
    pending, running = list(jobs), []
    while pending or running:
        running = [process for process in running if process.poll() is None]
        while pending and len(running) < at_once:
            name, seed = pending.pop(0)
            with (work / f"{name}_seed{seed}.log").open("w") as log:
                command = [sys.executable, script, *sys.argv[1:], "--worker", name, str(seed)]
                running.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
            print(f"started {name} seed {seed}", flush=True)
        time.sleep(2)
