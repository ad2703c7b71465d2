"""Hyperparameter-search benchmark: a pruned Optuna search shared by parallel workers, against the default recipe.

1. `--workers` processes run `goemox search` on one study (SQLite) until it holds `--n_trials` finished trials;
   the wall time of the whole search is measured.
2. The default recipe (mean pooling, lr 1e-4, batch 32, 3 epochs: the MiniLM recipe selected in
   BENCHMARKS.md) is trained once on the same data: its wall time is "one full training run".
3. The best trial's parameters (by validation macro-F1) are trained with `goemox train --params`.
Both models are then scored on test, once each. Training uses a seeded subset of `--train_rows` training rows
(`shuffle(seed=0)`), and `--eval_rows` seeded validation and test rows if given (else the full splits).

    python bench/search_quality.py --workers 10 --n_trials 20 --out bench/results/search_gpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import DEFAULT_DATA, DEFAULT_ENCODER, RESULTS, machine, write_json  # noqa: E402

SPACE_FILE = "num_train_epochs: {type: int, low: 2, high: 4}\n"
HEADLINE = ("macro_f1", "micro_f1", "roc_auc_macro", "hamming_score", "subset_accuracy")


def common_flags(args, output_dir: Path) -> list[str]:
    flags = [
        "--model_name_or_path",
        args.encoder,
        "--pooling",
        args.pooling,
        "--dataset",
        args.data,
        "--split_seed",
        "0",
        "--output_dir",
        str(output_dir),
        "--disable_tqdm",
        "true",
        "--report_to",
        "none",
    ]
    if args.train_rows:
        flags += ["--max_train_samples", str(args.train_rows)]
    if args.eval_rows:
        flags += ["--max_eval_samples", str(args.eval_rows)]
    if not torch.cuda.is_available():
        flags += ["--use_cpu", "true"]
    return flags


def goemox(*flags: str) -> None:
    subprocess.run([sys.executable, "-m", "goemox", *flags], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--encoder", default=str(DEFAULT_ENCODER))
    parser.add_argument("--train_rows", type=int, default=12000)
    parser.add_argument("--eval_rows", type=int, default=None, help="Seeded subsets of validation and test.")
    parser.add_argument("--n_trials", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--space", default="pos-weight")
    parser.add_argument("--pooling", default="mean")
    parser.add_argument(
        "--worker_timeout", type=float, default=None, help="Seconds after which workers start no trial."
    )
    parser.add_argument("--work", default="runs/bench_search")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "space.yaml").write_text(SPACE_FILE)

    search_dir = work / "search"
    start = time.perf_counter()
    workers = []
    for index in range(args.workers):
        command = [
            sys.executable,
            "-m",
            "goemox",
            "search",
            *common_flags(args, search_dir),
            "--n_trials",
            str(args.n_trials),
            "--space",
            args.space,
            "--space_file",
            str(work / "space.yaml"),
            "--study_name",
            "bench",
            "--sampler_seed",
            str(index),
            "--heartbeat_interval",
            "10",
            "--grace_period",
            "60",
        ]
        log = (work / f"worker{index}.log").open("w")
        workers.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()))
    for worker in workers:
        if worker.wait() != 0:
            raise SystemExit(f"a search worker failed; see {work}/worker*.log")
    search_wall = time.perf_counter() - start
    best = json.loads((search_dir / "best_params.json").read_text())

    start = time.perf_counter()
    goemox(
        "train",
        *common_flags(args, work / "default"),
        "--learning_rate",
        "1e-4",
        "--num_train_epochs",
        "3",
        "--overwrite_output_dir",
        "true",
    )
    default_wall = time.perf_counter() - start
    goemox(
        "train",
        *common_flags(args, work / "best"),
        "--params",
        str(search_dir / "best_params.json"),
        "--overwrite_output_dir",
        "true",
    )

    runs = {}
    for name in ("default", "best"):
        metrics = json.loads((work / name / "metrics.json").read_text())
        runs[name] = {
            "validation_macro_f1_tuned": metrics["validation"]["per_class_thresholds"]["macro_f1"],
            "test": {key: metrics["test"]["tuned"][key] for key in HEADLINE},
            "best_epoch": metrics["best_epoch"],
            "train_runtime_s": metrics["train_runtime_s"],
        }
    trials = (search_dir / "trials.csv").read_text().splitlines()
    result = {
        "machine": machine(),
        "data": args.data,
        "train_rows": args.train_rows,
        "eval_rows": args.eval_rows,
        "workers": args.workers,
        "space": args.space,
        "space_overrides": SPACE_FILE.strip(),
        "n_trials_requested": args.n_trials,
        "worker_timeout_s": args.worker_timeout,
        "trial_states": best["trials"],
        "search_wall_s": search_wall,
        "default_run_wall_s": default_wall,
        "search_wall_in_full_runs": search_wall / default_wall,
        "best_trial": {"number": best["trial"], "validation_macro_f1": best["value"], "params": best["params"]},
        "default_recipe": runs["default"],
        "searched_params": runs["best"],
        "trials_csv_rows": len(trials) - 1,
    }
    write_json(Path(args.out) if args.out else RESULTS / "search.json", result)
    print(
        f"search: {search_wall:.0f} s = {result['search_wall_in_full_runs']:.2f} default runs; "
        f"test macro-F1 default {runs['default']['test']['macro_f1']:.4f}, "
        f"searched {runs['best']['test']['macro_f1']:.4f}"
    )


if __name__ == "__main__":
    main()
