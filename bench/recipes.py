"""Recipes for rare labels and distillation: today's loss, the asymmetric loss, and students distilled from an
ensemble of goemox models, several seeds, with every threshold chosen on validation.

Every arm fine-tunes the same encoder with goemox's recipe for all-MiniLM-L6-v2 (mean pooling, lr 1e-4, batch 32,
3 epochs, max length 64, early stopping and checkpoint on validation macro-F1, Platt calibration):
- `recipe`: today's loss, BCE with label smoothing 0.05 and positive weights clip(sqrt(neg/pos), 1, 10);
- `asymmetric`: the asymmetric loss in its published form in place of it (`--loss asymmetric`, gamma_neg 4,
  gamma_pos 0, clip 0.05; no smoothing, no positive weights: the focusing is what favours the rare labels);
- `distilled`: `goemox distill` of a student (the `recipe` arm's options) from the ensemble of the `recipe` models of
  every seed (the mean of their calibrated probabilities), alpha 0.5, temperature 1, on the training texts;
  `--teachers` names other goemox model folders instead (e.g. where fewer seeds than teachers are affordable);
- `distilled_carer`: the same, with CARER's training texts (`../shared/data/carer/train.tsv`) added unlabelled;
- `ensemble` (no training): the teachers themselves, their mean probabilities, for reference.

Each model's calibrated probabilities on validation and test are scored under three threshold policies: 0.5, one
global threshold tuned on validation, and per-label thresholds tuned on validation (the headline). Test rows never
choose anything; `selected_on_validation` names the arm with the best mean validation macro-F1 (per-label).

The summary takes every finished run of the arms named in `--work`, whatever its seed (a call with `--seeds 3 --arms
asymmetric` adds a seed to that arm). The `recipe` and `asymmetric` runs go first, the distilled ones after them
(they need the teachers); `--jobs` runs of a phase share the machine. A run whose JSON is already in `--work` is kept
(a stopped benchmark resumes); the teachers' logits are cached in `--work` and computed once (the first distilled run
of each text set scores them, the others wait for it). On a GPU:

    python bench/recipes.py --jobs 6 --out bench/results/recipes_gpu.json

`--scheme ekman` (or `sentiment`) trains on GoEmotions' Ekman (sentiment) groups instead of its 28 labels; keep each
scheme's runs in a work folder of their own (`--work runs/bench_recipes_ekman`).

A smoke run on CPU: `python bench/recipes.py --max_train_samples 200 --max_eval_samples 200
--max_unlabelled_samples 200 --epochs 1 --seeds 0 1 --out runs/recipes_smoke.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.common import (  # noqa: E402
    DEFAULT_DATA,
    DEFAULT_ENCODER,
    RESULTS,
    SHARED,
    machine,
    relative_paths,
    summarise,
    write_json,
)
from bench.lightweight import end_with_launcher, run_workers  # noqa: E402

CARER_TRAIN = SHARED / "data" / "carer" / "train.tsv"
TRAINED_ARMS = ("recipe", "asymmetric", "distilled", "distilled_carer")
DISTILLED_ARMS = ("distilled", "distilled_carer")
POLICIES = ("fixed_0.5", "global", "per_label")
HEADLINE_POLICY = "per_label"
RARE_LABELS = ("grief", "nervousness", "pride", "relief")
PROBABILITIES_FILE = "probabilities.npz"
# The thresholds a policy may choose: goemox's grid (0.05 to 0.95 by 0.01) and, below it, 25 steps down to 0.001.
# Calibrated probabilities of a rare label sit below 0.05 (grief's highest on validation is 0.03 to 0.19 across the
# arms), where a grid starting at 0.05 finds no threshold that predicts it at all.
THRESHOLD_GRID = np.unique(np.round(np.concatenate([np.geomspace(0.001, 0.05, 25), np.arange(0.05, 0.951, 0.01)]), 4))


def data_arguments(args):
    from goemox.training import DataArguments

    return DataArguments(
        dataset=args.data,
        scheme=args.scheme,
        max_length=args.max_length,
        split_seed=0,
        max_train_samples=args.max_train_samples,
        max_eval_samples=args.max_eval_samples,
    )


def training_options(args, arm: str) -> dict:
    """The options an arm changes from goemox's defaults."""
    options = {}
    if arm == "asymmetric":
        options = {
            "loss": "asymmetric",
            "asl_gamma_neg": args.asl_gamma_neg,
            "asl_gamma_pos": args.asl_gamma_pos,
            "asl_clip": args.asl_clip,
            "label_smoothing_factor": 0.0,
            "pos_weight_strategy": "none",
        }
    return options


def teacher_folders(args) -> list[str]:
    """The distilled arms' teachers: `--teachers`, or else the `recipe` models of every seed."""
    if args.teachers:
        return [str(Path(folder).resolve()) for folder in args.teachers]
    return [str(Path(args.work) / f"recipe_seed{seed}") for seed in args.seeds]


def distill_options(args, arm: str) -> dict:
    """The `goemox distill` options of a distilled arm."""
    return {
        "teachers": teacher_folders(args),
        "unlabelled_file": str(args.unlabelled) if arm == "distilled_carer" else None,
        "max_unlabelled_samples": args.max_unlabelled_samples if arm == "distilled_carer" else None,
        "distill_alpha": args.distill_alpha,
        "distill_temperature": args.distill_temperature,
        "teacher_cache_dir": str(Path(args.work) / "teacher_cache"),
    }


def evaluation_splits(args) -> tuple[list[str], dict[str, tuple[list[str], np.ndarray]]]:
    """The label names and, per split, the texts and 0/1 labels the runs measure on (the rows `run_training` uses)."""
    from goemox.data import label_matrix
    from goemox.labels import get_label_scheme
    from goemox.training import load_data

    data_args = data_arguments(args)
    scheme = get_label_scheme(data_args.resolved_scheme())
    raw, _ = load_data(data_args, scheme)
    splits = {name: (list(raw[name]["text"]), label_matrix(raw[name]).astype(int)) for name in ("validation", "test")}
    return list(scheme.labels), splits


def score(labels: list[str], y_true: np.ndarray, probs: np.ndarray, thresholds) -> dict:
    """Macro-F1, micro-F1 and each label's F1 at the given thresholds."""
    from goemox.evaluation import multilabel_metrics

    metrics = multilabel_metrics(y_true, probs, labels, thresholds)
    return {
        "macro_f1": metrics["macro_f1"],
        "micro_f1": metrics["micro_f1"],
        "per_label_f1": {name: values["f1"] for name, values in metrics["per_class"].items()},
    }


def threshold_policies(labels: list[str], splits: dict, probabilities: dict[str, np.ndarray]) -> dict:
    """Each policy's thresholds (tuned on validation only) and its scores on validation and test."""
    from goemox.evaluation import tune_global_threshold, tune_per_class_thresholds

    y_val, p_val = splits["validation"][1], probabilities["validation"]
    chosen = {
        "fixed_0.5": [0.5] * len(labels),
        "global": [tune_global_threshold(y_val, p_val, THRESHOLD_GRID)] * len(labels),
        "per_label": tune_per_class_thresholds(y_val, p_val, THRESHOLD_GRID),
    }
    return {
        policy: {
            "thresholds": thresholds,
            **{split: score(labels, splits[split][1], probabilities[split], thresholds) for split in splits},
        }
        for policy, thresholds in chosen.items()
    }


def run_arm(args, arm: str, seed: int, out_dir: Path) -> dict:
    """Train one arm with one seed, save its probabilities, and score the thresholds the run stored on test (the
    summary scores the threshold policies from the saved probabilities)."""
    from goemox.inference import EmotionClassifier
    from goemox.training import (
        DistillArguments,
        GoEmoXTrainingArguments,
        ModelArguments,
        run_distillation,
        run_training,
    )

    model_args = ModelArguments(model_name_or_path=str(args.encoder), pooling=args.pooling)
    options = training_options(args, arm)
    training_args = GoEmoXTrainingArguments(
        output_dir=str(out_dir),
        overwrite_output_dir=True,
        learning_rate=args.lr,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=32,
        seed=seed,
        metric_for_best_model=args.select_on,
        save_total_limit=1,
        disable_tqdm=True,
        report_to="none",
        use_cpu=not torch.cuda.is_available(),
        **options,
    )
    if arm in DISTILLED_ARMS:
        distillation = distill_options(args, arm)
        metrics = run_distillation(model_args, data_arguments(args), training_args, DistillArguments(**distillation))
        options["distillation"] = distillation
    else:
        metrics = run_training(model_args, data_arguments(args), training_args)
    labels, splits = evaluation_splits(args)
    classifier = EmotionClassifier.from_pretrained(str(out_dir), max_length=args.max_length, batch_size=256)
    probabilities = {split: classifier.predict_proba(texts) for split, (texts, _) in splits.items()}
    np.savez(out_dir / PROBABILITIES_FILE, **probabilities)
    return {
        "arm": arm,
        "seed": seed,
        "config": run_config(args),
        "options": options,
        "stored_thresholds_test": score(labels, splits["test"][1], probabilities["test"], metrics["thresholds"]),
        "distillation": metrics.get("distillation"),
        "train_runtime_s": metrics["train_runtime_s"],
        "epochs_trained": metrics["epochs_trained"],
        "best_epoch": metrics["best_epoch"],
    }


def model_probabilities(args, folder: str, splits: dict) -> dict[str, np.ndarray]:
    """A model's calibrated probabilities on validation and test: saved by its run of this benchmark on the same
    rows, or computed here (a `--teachers` folder made elsewhere, or a run scored on other rows: a smoke run's
    subsets); nothing is written into the folder."""
    saved = Path(folder) / PROBABILITIES_FILE
    if saved.is_file():
        probabilities = dict(np.load(saved))
        if all(len(probabilities.get(split, ())) == len(texts) for split, (texts, _) in splits.items()):
            return probabilities
    from goemox.inference import EmotionClassifier

    classifier = EmotionClassifier.from_pretrained(folder, max_length=args.max_length, batch_size=256)
    return {split: classifier.predict_proba(texts) for split, (texts, _) in splits.items()}


def run_ensemble(args, labels: list[str], splits: dict) -> dict:
    """The teachers' mean probabilities (the soft targets' definition at temperature 1), scored like a model."""
    saved = [model_probabilities(args, folder, splits) for folder in teacher_folders(args)]
    probabilities = {split: np.mean([item[split] for item in saved], axis=0) for split in splits}
    return {"arm": "ensemble", "members": len(saved), "policies": threshold_policies(labels, splits, probabilities)}


def run_config(args) -> dict:
    """The options that decide a run's result (not how many run at once, nor where the summary goes)."""
    return {key: value for key, value in vars(args).items() if key not in ("worker", "out", "jobs", "arms")}


# Options that only some arms read (every other option decides every run).
ARMS_READING = {
    "asl_gamma_neg": ("asymmetric",),
    "asl_gamma_pos": ("asymmetric",),
    "asl_clip": ("asymmetric",),
    "seeds": DISTILLED_ARMS,  # the default teachers are the recipe models of every seed (not read with --teachers)
    "work": DISTILLED_ARMS,
    "teachers": DISTILLED_ARMS,
    "distill_alpha": DISTILLED_ARMS,
    "distill_temperature": DISTILLED_ARMS,
    "unlabelled": ("distilled_carer",),
    "max_unlabelled_samples": ("distilled_carer",),
}


def options_read_by(config: dict, arm: str) -> dict:
    """The part of a run configuration that `arm` reads, so that a run is reused under any other options (e.g. a
    `recipe` run by a call that names `--teachers` for the distilled arms)."""
    read = {key: value for key, value in config.items() if arm in ARMS_READING.get(key, (arm,))}
    if config.get("teachers"):  # named teachers: the seeds no longer choose them
        read.pop("seeds", None)
    return read


def finished(args, work: Path, arm: str, seed: int) -> bool:
    """Whether `work` holds this run's JSON, made with the options this arm reads (one made with others stops the
    benchmark; an option the run's JSON lacks, added to the script later, counts at its default)."""
    path = work / f"{arm}_seed{seed}.json"
    if not path.is_file():
        return False
    made_with = {**run_config(build_parser().parse_args([])), **json.loads(path.read_text())["config"]}
    if options_read_by(made_with, arm) != options_read_by(run_config(args), arm):
        raise SystemExit(f"{path} was made with other options; delete it or choose another --work")
    return True


def summarised_runs(args, work: Path) -> list[tuple[str, int]]:
    """Every finished run in `work` of the arms named, whatever its seed: a later call with `--seeds 3` adds a seed to
    the summary without training the others again."""
    found = []
    for arm in args.arms:
        seeds = sorted(int(path.stem.rpartition("_seed")[2]) for path in work.glob(f"{arm}_seed*.json"))
        found += [(arm, seed) for seed in seeds if finished(args, work, arm, seed)]
    return found


def run_phase(args, jobs: list[tuple[str, int]], work: Path) -> None:
    """Run the jobs whose JSON is not in `work` yet, `--jobs` at a time, each in its own process."""
    run_workers(__file__, [(arm, seed) for arm, seed in jobs if not finished(args, work, arm, seed)], work, args.jobs)
    for arm, seed in jobs:
        if not finished(args, work, arm, seed):
            raise SystemExit(f"{arm} seed {seed} failed; see {work / f'{arm}_seed{seed}.log'}")


def policy_summary(runs: list[dict]) -> dict:
    """Per policy and split: mean and standard deviation over the runs of macro-F1 and micro-F1."""
    summary = {}
    for policy in POLICIES:
        summary[policy] = {}
        for split in ("validation", "test"):
            flat = [{key: run["policies"][policy][split][key] for key in ("macro_f1", "micro_f1")} for run in runs]
            summary[policy][split] = summarise(flat, ("macro_f1", "micro_f1"))
    return summary


def aggregate(args, runs: list[dict], ensemble: dict | None) -> dict:
    """Each arm's means and standard deviations over seeds, its rare labels' F1 and the arm chosen on validation."""
    arms = {}
    for arm in args.arms:
        chosen = [run for run in runs if run["arm"] == arm]
        headline = [run["policies"][HEADLINE_POLICY] for run in chosen]
        labels = list(headline[0]["test"]["per_label_f1"])
        arms[arm] = {
            "seeds": [run["seed"] for run in chosen],
            "options": chosen[0]["options"],
            "headline_policy": HEADLINE_POLICY,
            "policies": policy_summary(chosen),
            "rare_labels_test_f1": {
                name: float(np.mean([h["test"]["per_label_f1"][name] for h in headline]))
                for name in RARE_LABELS
                if name in labels
            },
            "per_label_test_f1_mean": {
                name: float(np.mean([h["test"]["per_label_f1"][name] for h in headline])) for name in labels
            },
            "runs": chosen,
        }
    validation = {
        arm: values["policies"][HEADLINE_POLICY]["validation"]["macro_f1"]["mean"] for arm, values in arms.items()
    }
    return {
        "config": run_config(args),
        "machine": machine(),
        "policies": {
            "fixed_0.5": "0.5 for every label",
            "global": "one threshold for every label, tuned on validation macro-F1",
            "per_label": "each label's threshold tuned on its validation F1 (the headline)",
        },
        "arms": arms,
        "ensemble": ensemble and {**ensemble, "policies_summary": policy_summary([ensemble])},
        "selected_on_validation": max(validation, key=validation.get) if validation else None,
    }


def mean_std(values: dict, single: bool = False) -> str:
    """`mean ± std` over seeds; the mean alone for a figure measured once."""
    return f"{values['mean']:.4f}" if single else f"{values['mean']:.4f} ± {values['std']:.4f}"


def markdown_tables(result: dict) -> str:
    """The headline table (test, per-label thresholds) and the threshold-policy table, in Markdown."""
    lines = [
        "| arm | seeds | test macro-F1 | test micro-F1 | validation macro-F1 | rare labels' test F1 |",
        "|---|---|---|---|---|---|",
    ]
    rows = [
        (arm, summary["seeds"], summary["policies"], summary["rare_labels_test_f1"])
        for arm, summary in result["arms"].items()
    ]
    if result["ensemble"]:
        ensemble = result["ensemble"]
        rows.append((f"ensemble of the {ensemble['members']} teachers", [], ensemble["policies_summary"], {}))
    for name, seeds, policies, rare in rows:
        headline, single = policies[HEADLINE_POLICY], len(seeds) < 2
        rare_text = ", ".join(f"{label} {value:.3f}" for label, value in rare.items()) or "-"
        lines.append(
            f"| {name} | {len(seeds) or '-'} | {mean_std(headline['test']['macro_f1'], single)} | "
            f"{mean_std(headline['test']['micro_f1'], single)} | "
            f"{mean_std(headline['validation']['macro_f1'], single)} | {rare_text} |"
        )
    lines += [
        "",
        "| arm | thresholds | validation macro-F1 | test macro-F1 | validation micro-F1 | test micro-F1 |",
        "|---|---|---|---|---|---|",
    ]
    for name, seeds, policies, _ in rows:
        for policy in POLICIES:
            cells = [
                mean_std(policies[policy][split][metric], len(seeds) < 2)
                for metric in ("macro_f1", "micro_f1")
                for split in ("validation", "test")
            ]
            lines.append(f"| {name} | {policy} | {' | '.join(cells)} |")
    lines += ["", f"Selected on validation (per-label thresholds): {result['selected_on_validation']}"]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The command line (its defaults also stand for options a run in `--work` was made before)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--encoder", default=str(DEFAULT_ENCODER))
    parser.add_argument(
        "--scheme",
        default="goemotions",
        choices=("goemotions", "ekman", "sentiment"),
        help="The labels every arm learns: GoEmotions' 28, or its Ekman or sentiment groups.",
    )
    parser.add_argument("--unlabelled", default=str(CARER_TRAIN), help="The unlabelled texts of `distilled_carer`.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", choices=TRAINED_ARMS, default=list(TRAINED_ARMS))
    parser.add_argument("--jobs", type=int, default=1, help="Runs at once (several fit on one GPU).")
    parser.add_argument("--max_length", type=int, default=64)
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--pooling", default="mean")
    parser.add_argument(
        "--select_on",
        default="macro_f1",
        choices=("macro_f1", "macro_f1_tuned"),
        help="The validation metric that picks the checkpoint: macro-F1 at 0.5 (goemox's default) or with per-label "
        "thresholds tuned on validation.",
    )
    parser.add_argument("--asl_gamma_neg", type=float, default=4.0)
    parser.add_argument("--asl_gamma_pos", type=float, default=0.0)
    parser.add_argument("--asl_clip", type=float, default=0.05)
    parser.add_argument(
        "--teachers", nargs="+", default=None, help="The distilled arms' teachers (default: the recipe models)."
    )
    parser.add_argument("--distill_alpha", type=float, default=0.5)
    parser.add_argument("--distill_temperature", type=float, default=1.0)
    parser.add_argument("--max_train_samples", type=int, default=None, help="Smoke runs: a seeded training subset.")
    parser.add_argument("--max_eval_samples", type=int, default=None, help="Smoke runs: validation and test subsets.")
    parser.add_argument("--max_unlabelled_samples", type=int, default=None, help="Smoke runs: an unlabelled subset.")
    parser.add_argument("--work", default="runs/bench_recipes")
    parser.add_argument("--out", default=None)
    parser.add_argument("--worker", nargs=2, metavar=("ARM", "SEED"), help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    work = Path(args.work)

    if args.worker:
        end_with_launcher()
        arm, seed = args.worker[0], int(args.worker[1])
        result = run_arm(args, arm, seed, work / f"{arm}_seed{seed}")
        write_json(work / f"{arm}_seed{seed}.json", result)
        return

    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SystemExit(f"--work {work}: cannot be a folder here ({error.strerror})") from None
    distilled = [arm for arm in args.arms if arm in DISTILLED_ARMS]
    first = [(arm, seed) for seed in args.seeds for arm in args.arms if arm not in DISTILLED_ARMS]
    if distilled and not args.teachers:  # the teachers: the recipe models of every seed
        first += [("recipe", seed) for seed in args.seeds if ("recipe", seed) not in first]
    run_phase(args, first, work)
    run_phase(args, [(arm, seed) for seed in args.seeds for arm in distilled], work)
    labels, splits = evaluation_splits(args)
    runs = []
    for arm, seed in summarised_runs(args, work):  # scored here, so that every run meets the same policies
        run = json.loads((work / f"{arm}_seed{seed}.json").read_text())
        probabilities = model_probabilities(args, str(work / f"{arm}_seed{seed}"), splits)
        runs.append({**run, "policies": threshold_policies(labels, splits, probabilities)})
    ensemble = run_ensemble(args, labels, splits) if distilled or "recipe" in args.arms else None  # teachers are there
    result = relative_paths(aggregate(args, runs, ensemble))
    device = "gpu" if torch.cuda.is_available() else "cpu"
    out = Path(args.out) if args.out else RESULTS / f"recipes_{device}.json"
    write_json(out, result)
    tables = markdown_tables(result)
    out.with_suffix(".md").write_text(tables, encoding="utf-8")
    print(tables)


if __name__ == "__main__":
    main()
