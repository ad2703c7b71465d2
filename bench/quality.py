"""Quality benchmark: goemox's default recipe against the plain Hugging Face recipe, several seeds, one run.

The plain recipe: `AutoModelForSequenceClassification(problem_type="multi_label_classification")`, the stock
`Trainer` (BCE, AdamW, linear schedule, no warm-up), lr 1e-4, 6 epochs, batch 32, dynamic padding, the final
model at threshold 0.5 (its best measured setting). For reference it is also scored with per-class
thresholds tuned on validation.

goemox: `goemox.training.run_training` with its defaults for this encoder (first-token pooling, Tanh head,
label smoothing 0.05, pos weights clip(sqrt(neg/pos), 1, 10), lr 1e-4, batch 32, early stopping on
validation macro-F1, per-class thresholds tuned on validation).

Modes:
- `full`: every row of GoEmotions train / dev / test (for a GPU).
- `subset`: CPU mode: a seeded random 1,000 training rows and 500 validation and 500 test rows
  (`Dataset.shuffle(seed=0).select(range(n))` of each split); its numbers are not comparable with `full`.

Runs go in parallel worker processes (`--jobs`); each writes its JSON under `--work`; the parent aggregates
means, standard deviations and bootstrap intervals into `--out`.

    python bench/quality.py --mode full --seeds 0 1 2 --jobs 6 --out bench/results/quality_full_gpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.common import (  # noqa: E402
    DEFAULT_DATA,
    DEFAULT_ENCODER,
    RESULTS,
    WallClock,
    machine,
    plain_trainer,
    summarise,
    test_report,
    write_json,
)
from bench.lightweight import end_with_launcher, run_workers  # noqa: E402

SUBSET = {"max_train_samples": 1000, "max_eval_samples": 500}
HEADLINE = ("macro_f1", "micro_f1", "roc_auc_macro", "hamming_score", "subset_accuracy", "jaccard_samples")


def load_splits(data: str, mode: str, max_length: int, tokenizer):
    """Raw and tokenized GoEmotions splits (the split seed is fixed, so every run sees the same rows)."""
    from goemox.data import tokenize_dataset
    from goemox.labels import get_label_scheme
    from goemox.training import DataArguments, load_data

    limits = SUBSET if mode == "subset" else {}
    data_args = DataArguments(dataset=data, max_length=max_length, split_seed=0, **limits)
    raw, _ = load_data(data_args, get_label_scheme("goemotions"))
    return raw, tokenize_dataset(raw, tokenizer, max_length=max_length)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def run_plain(args, seed: int, out_dir: Path) -> dict:
    """The plain recipe, as a user would write it with the stock Trainer."""
    from transformers import AutoTokenizer

    from goemox.data import label_matrix
    from goemox.evaluation import tune_per_class_thresholds
    from goemox.labels import GOEMOTIONS_LABELS

    labels = list(GOEMOTIONS_LABELS)
    tokenizer = AutoTokenizer.from_pretrained(args.encoder)
    raw, tokenized = load_splits(args.data, args.mode, args.max_length, tokenizer)
    trainer = plain_trainer(
        args.encoder, labels, "multi_label_classification", tokenized["train"], out_dir, args.plain_epochs, 1e-4, seed
    )
    start = time.perf_counter()
    output = trainer.train()
    wall = time.perf_counter() - start
    val_probs = sigmoid(trainer.predict(tokenized["validation"]).predictions)
    test_probs = sigmoid(trainer.predict(tokenized["test"]).predictions)
    y_val = label_matrix(raw["validation"]).astype(int)
    y_test = label_matrix(raw["test"]).astype(int)
    tuned = tune_per_class_thresholds(y_val, val_probs)
    return {
        "recipe": "plain",
        "seed": seed,
        "headline_thresholds": "fixed 0.5",
        "test": test_report(y_test, test_probs, labels, 0.5),
        "test_tuned_thresholds": test_report(y_test, test_probs, labels, tuned),
        "train_wall_s": wall,
        "train_samples_per_second": output.metrics["train_samples_per_second"],
        "wall_to_best_s": wall,  # the plain recipe keeps its final model
        "epochs_trained": args.plain_epochs,
    }


def run_goemox(args, seed: int, out_dir: Path) -> dict:
    """goemox's default recipe through its own training job."""
    from goemox.data import label_matrix, load_emotion_dataset
    from goemox.inference import EmotionClassifier
    from goemox.labels import GOEMOTIONS_LABELS
    from goemox.training import DataArguments, GoEmoXTrainingArguments, ModelArguments, run_training

    limits = SUBSET if args.mode == "subset" else {}
    clock = WallClock()
    metrics = run_training(
        ModelArguments(model_name_or_path=args.encoder, pooling=args.pooling),
        DataArguments(dataset=args.data, max_length=args.max_length, split_seed=0, **limits),
        GoEmoXTrainingArguments(
            output_dir=str(out_dir),
            overwrite_output_dir=True,
            learning_rate=args.goemox_lr,
            num_train_epochs=args.goemox_epochs,
            per_device_train_batch_size=32,
            seed=seed,
            save_total_limit=1,
            metric_for_best_model=args.metric_for_best_model,
            disable_tqdm=True,
            report_to="none",
            use_cpu=not torch.cuda.is_available(),
        ),
        callbacks=[clock],
    )
    splits = load_emotion_dataset(args.data, seed=0)
    test = splits["test"]
    if args.mode == "subset" and len(test) > SUBSET["max_eval_samples"]:  # the rows run_training tested on
        test = test.shuffle(seed=0).select(range(SUBSET["max_eval_samples"]))
    classifier = EmotionClassifier.from_pretrained(str(out_dir), max_length=args.max_length, batch_size=128)
    test_probs = classifier.predict_proba(test["text"])
    y_test = label_matrix(test).astype(int)
    labels = list(GOEMOTIONS_LABELS)
    best_step = int(Path(metrics["best_checkpoint"]).name.split("-")[-1])
    return {
        "recipe": "goemox",
        "seed": seed,
        "headline_thresholds": "per-class, tuned on validation",
        "test": test_report(y_test, test_probs, labels, metrics["thresholds"]),
        "test_fixed_0.5": test_report(y_test, test_probs, labels, 0.5),
        "validation_macro_f1_tuned": metrics["validation"]["per_class_thresholds"]["macro_f1"],
        "train_wall_s": metrics["train_runtime_s"],
        "train_samples_per_second": metrics["train_samples_per_second"],
        "wall_to_best_s": clock.at_evaluation.get(best_step),
        "best_epoch": metrics["best_epoch"],
        "epochs_trained": metrics["epochs_trained"],
    }


def aggregate(runs: list[dict], args) -> dict:
    """Per-recipe means / standard deviations, per-class F1 means, and each run's figures."""
    result = {
        "mode": args.mode,
        "subset_rows": SUBSET if args.mode == "subset" else None,
        "data": str(args.data),
        "encoder": str(args.encoder),
        "machine": machine(),
        "recipes": {},
    }
    for recipe in ("plain", "goemox"):
        chosen = [r for r in runs if r["recipe"] == recipe]
        if not chosen:
            continue
        flat = [
            {
                **{k: r["test"][k] for k in HEADLINE},
                "train_wall_s": r["train_wall_s"],
                "wall_to_best_s": r["wall_to_best_s"] or float("nan"),
                "train_samples_per_second": r["train_samples_per_second"],
            }
            for r in chosen
        ]
        labels = list(chosen[0]["test"]["per_class"])
        result["recipes"][recipe] = {
            "seeds": [r["seed"] for r in chosen],
            "headline_thresholds": chosen[0]["headline_thresholds"],
            "test": summarise(flat, HEADLINE + ("train_wall_s", "wall_to_best_s", "train_samples_per_second")),
            "macro_f1_bootstrap_95_per_seed": [r["test"]["macro_f1_bootstrap_95"] for r in chosen],
            "per_class_f1_mean": {
                name: float(np.mean([r["test"]["per_class"][name]["f1"] for r in chosen])) for name in labels
            },
            "runs": chosen,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--encoder", default=str(DEFAULT_ENCODER))
    parser.add_argument("--mode", choices=["full", "subset"], default="full" if torch.cuda.is_available() else "subset")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recipes", nargs="+", choices=["plain", "goemox"], default=["plain", "goemox"])
    parser.add_argument("--jobs", type=int, default=1, help="Runs at once (several fit on one GPU).")
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--plain_epochs", type=float, default=6)
    parser.add_argument("--goemox_epochs", type=float, default=6)
    parser.add_argument("--goemox_lr", type=float, default=1e-4)
    parser.add_argument("--pooling", default="cls")
    parser.add_argument("--metric_for_best_model", default="macro_f1")
    parser.add_argument("--work", default="runs/bench_quality")
    parser.add_argument("--out", default=None)
    parser.add_argument("--worker", nargs=2, metavar=("RECIPE", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)

    if args.worker:
        end_with_launcher()
        recipe, seed = args.worker[0], int(args.worker[1])
        runner = run_plain if recipe == "plain" else run_goemox
        result = runner(args, seed, work / f"{recipe}_seed{seed}")
        write_json(work / f"{recipe}_seed{seed}.json", result)
        return

    jobs = [(recipe, seed) for seed in args.seeds for recipe in args.recipes]
    work.mkdir(parents=True, exist_ok=True)
    run_workers(__file__, jobs, work, args.jobs)
    runs = []
    for recipe, seed in jobs:
        path = work / f"{recipe}_seed{seed}.json"
        if not path.is_file():
            raise SystemExit(f"{recipe} seed {seed} failed; see {work / f'{recipe}_seed{seed}.log'}")
        runs.append(json.loads(path.read_text()))
    result = aggregate(runs, args)
    out = Path(args.out) if args.out else RESULTS / f"quality_{args.mode}.json"
    write_json(out, result)
    for recipe, summary in result["recipes"].items():
        t = summary["test"]
        print(
            f"{recipe:<7} macro-F1 {t['macro_f1']['mean']:.4f} ± {t['macro_f1']['std']:.4f}  "
            f"micro-F1 {t['micro_f1']['mean']:.4f}  ROC-AUC {t['roc_auc_macro']['mean']:.4f}  "
            f"wall to best {t['wall_to_best_s']['mean']:.0f} s  ({summary['headline_thresholds']})"
        )


if __name__ == "__main__":
    main()
