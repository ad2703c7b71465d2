"""Benchmark helpers that import neither torch nor transformers, so a torch-free worker process (the ONNX
runtime path of `bench/infer_speed.py`) can use them: the data and results paths, peak memory, JSON output, and
running a benchmark's jobs in worker processes."""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SHARED = Path(os.environ.get("GOEMOX_SHARED", REPO.parent / "shared"))
DEFAULT_DATA = SHARED / "data" / "goemotions"
DEFAULT_ENCODER = SHARED / "models" / "all-MiniLM-L6-v2"
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when the one that started it ends
LAUNCHER_PID_VARIABLE = "GOEMOX_BENCH_LAUNCHER_PID"


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


def end_with_launcher() -> None:
    """Called by a worker first: on Linux, have the kernel end it (SIGTERM) when the benchmark that started it ends,
    however that ends (SIGKILL or a test's timeout included), so that no run goes on unseen beside a later one that
    writes the same folder; a worker whose benchmark ended while it was starting stops here. Elsewhere Ctrl-C still
    reaches the workers, which share the terminal's process group."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    launcher = os.environ.get(LAUNCHER_PID_VARIABLE)
    if launcher and os.getppid() != int(launcher):
        raise SystemExit("the benchmark that started this worker has ended")


def run_workers(script: str, jobs: list[tuple[str, int]], work: Path, at_once: int) -> None:
    """Run each `(name, seed)` job as `python SCRIPT <this command line> --worker NAME SEED`, `at_once` at a time,
    each in its own process logging to `WORK/NAME_seedSEED.log` (the worker calls `end_with_launcher` first); return
    when all have ended (the caller checks what each one wrote)."""
    pending, running = list(jobs), []
    while pending or running:
        running = [process for process in running if process.poll() is None]
        while pending and len(running) < at_once:
            name, seed = pending.pop(0)
            with (work / f"{name}_seed{seed}.log").open("w") as log:
                command = [sys.executable, script, *sys.argv[1:], "--worker", name, str(seed)]
                environment = {**os.environ, LAUNCHER_PID_VARIABLE: str(os.getpid())}
                running.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment))
            print(f"started {name} seed {seed}", flush=True)
        time.sleep(2)
