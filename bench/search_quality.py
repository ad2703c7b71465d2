"""Hyperparameter-search benchmark: pruned Optuna searches shared by parallel workers, against the default recipe.

1. The default recipe (mean pooling, lr 1e-4, batch 32, 3 epochs: the MiniLM recipe selected in
   BENCHMARKS.md) is trained once: its wall time is "one full training run".
2. For each entry of `--pruners` (`PRUNER` or `PRUNER+defaults`, the latter with `--enqueue_defaults true`,
   whose first trial is that same default recipe), `--workers` processes run `goemox search` on one study
   (SQLite) until it holds `--n_trials` finished trials; the wall time of the whole search is measured, and so
   is the number of epochs its trials trained (a cost that does not depend on the machine's load).
3. Each search's best trial's parameters (by validation macro-F1) are trained with `goemox train --params`.
Every model is then scored on test, once each. Every search runs on the same data, one after the other, so their
ratios to the one default run of the same call compare. Training uses a seeded subset of `--train_rows` training
rows (`shuffle(seed=0)`), and `--eval_rows` seeded validation and test rows if given (else the full splits).

    python bench/search_quality.py --workers 10 --n_trials 20 --pruners median,hyperband+defaults \
        --out bench/results/search_gpu.json
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

import optuna  # noqa: E402
import torch  # noqa: E402

from bench.common import DEFAULT_DATA, DEFAULT_ENCODER, RESULTS, machine, write_json  # noqa: E402
from goemox.training import PRUNERS  # noqa: E402

SPACE_FILE = "num_train_epochs: {type: int, low: 2, high: 4}\n"
HEADLINE = ("macro_f1", "micro_f1", "roc_auc_macro", "hamming_score", "subset_accuracy")
DEFAULT_RECIPE = ("--learning_rate", "1e-4", "--num_train_epochs", "3")


def search_specs(text: str) -> list[tuple[str, bool]]:
    """`median,hyperband+defaults` -> [("median", False), ("hyperband", True)]: a pruner and whether the search
    enqueues the default recipe as its first trial."""
    specs = []
    for item in text.split(","):
        pruner, _, suffix = item.strip().partition("+")
        if pruner not in PRUNERS or suffix not in ("", "defaults"):
            raise argparse.ArgumentTypeError(
                f"expected PRUNER or PRUNER+defaults with PRUNER in {PRUNERS}, got {item!r}"
            )
        specs.append((pruner, suffix == "defaults"))
    if len(set(specs)) != len(specs):
        raise argparse.ArgumentTypeError(f"an entry is given twice in {text!r}")
    return specs


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


def run_search(args, work: Path, pruner: str, enqueue: bool) -> dict:
    """One search of `args.workers` processes on a fresh study; its wall time, trials and best parameters."""
    name = f"{pruner}+defaults" if enqueue else pruner
    search_dir = work / f"search-{name.replace('+', '-')}"
    start = time.perf_counter()
    workers = []
    for index in range(args.workers):
        command = [
            sys.executable,
            "-m",
            "goemox",
            "search",
            *common_flags(args, search_dir),
            *DEFAULT_RECIPE,
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
            "--pruner",
            pruner,
            "--enqueue_defaults",
            str(enqueue).lower(),
            "--heartbeat_interval",
            "10",
            "--grace_period",
            "60",
        ]
        if args.worker_timeout is not None:
            command += ["--timeout", str(args.worker_timeout)]
        log = (search_dir.parent / f"{search_dir.name}-worker{index}.log").open("w")
        workers.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()))
    for worker in workers:
        if worker.wait() != 0:
            raise SystemExit(f"a search worker failed; see {search_dir}-worker*.log")
    wall = time.perf_counter() - start
    best = json.loads((search_dir / "best_params.json").read_text())
    study = optuna.load_study(study_name="bench", storage=best["storage"])
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED")]
    default_trial = next((t for t in finished if t.user_attrs.get("goemox_default_recipe")), None)
    return {
        "name": name,
        "dir": search_dir,
        "pruner": pruner,
        "enqueue_defaults": enqueue,
        "trial_states": best["trials"],
        "search_wall_s": wall,
        "trial_epochs": sum(len(t.intermediate_values) for t in finished),
        "best_trial": {"number": best["trial"], "validation_macro_f1": best["value"], "params": best["params"]},
        "default_trial": None
        if default_trial is None
        else {"number": default_trial.number, "validation_macro_f1": default_trial.value},
    }


def run_summary(run_dir: Path) -> dict:
    """Validation (tuned thresholds) and test figures of a `goemox train` run."""
    from goemox.run_folder import METRICS_FILE, read_run_file

    metrics = read_run_file(run_dir, METRICS_FILE)
    return {
        "validation_macro_f1_tuned": metrics["validation"]["per_class_thresholds"]["macro_f1"],
        "test": {key: metrics["test"]["tuned"][key] for key in HEADLINE},
        "best_epoch": metrics["best_epoch"],
        "train_runtime_s": metrics["train_runtime_s"],
    }


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
        "--pruners",
        type=search_specs,
        default="median,hyperband+defaults",
        help="Searches to run, comma-separated: PRUNER or PRUNER+defaults (first trial = the default recipe).",
    )
    parser.add_argument(
        "--worker_timeout", type=float, default=None, help="Seconds after which workers start no trial."
    )
    parser.add_argument("--work", default="runs/bench_search")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "space.yaml").write_text(SPACE_FILE)

    start = time.perf_counter()
    goemox("train", *common_flags(args, work / "default"), *DEFAULT_RECIPE, "--overwrite_output_dir", "true")
    default_wall = time.perf_counter() - start
    searches = [run_search(args, work, pruner, enqueue) for pruner, enqueue in args.pruners]
    for search in searches:
        best_dir = work / f"best-{search['dir'].name}"
        params = search.pop("dir") / "best_params.json"
        goemox("train", *common_flags(args, best_dir), "--params", str(params), "--overwrite_output_dir", "true")
        search["search_wall_in_full_runs"] = search["search_wall_s"] / default_wall
        search["searched_params"] = run_summary(best_dir)

    result = {
        "machine": machine(),
        "data": os.path.relpath(args.data),
        "train_rows": args.train_rows,
        "eval_rows": args.eval_rows,
        "workers": args.workers,
        "space": args.space,
        "space_overrides": SPACE_FILE.strip(),
        "default_recipe_flags": " ".join(DEFAULT_RECIPE),
        "n_trials_requested": args.n_trials,
        "worker_timeout_s": args.worker_timeout,
        "default_run_wall_s": default_wall,
        "default_recipe": run_summary(work / "default"),
        "searches": {search.pop("name"): search for search in searches},
    }
    write_json(Path(args.out) if args.out else RESULTS / "search.json", result)
    print(f"one default run: {default_wall:.0f} s, test macro-F1 {result['default_recipe']['test']['macro_f1']:.4f}")
    for name, search in result["searches"].items():
        print(
            f"{name}: {search['search_wall_s']:.0f} s = {search['search_wall_in_full_runs']:.2f} default runs, "
            f"{search['trial_epochs']} trial epochs; best validation macro-F1 "
            f"{search['best_trial']['validation_macro_f1']:.4f}, "
            f"searched test macro-F1 {search['searched_params']['test']['macro_f1']:.4f}"
        )


if __name__ == "__main__":
    main()
