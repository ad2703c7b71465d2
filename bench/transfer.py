"""Transfer benchmark: how models trained by goemox do off Reddit, and what several corpora and adaptation buy.

One encoder (the shared all-MiniLM-L6-v2, mean pooling, lr 1e-4, batch 32, max length 64) and the same GoEmotions
training rows for every model. Part `models` trains and scores:
- `goemotions_only`: goemox on GoEmotions alone;
- `plain_goemotions_only`: the plain recipe (stock `Trainer`, `AutoModelForSequenceClassification`, BCE) on the
  same rows, scored at threshold 0.5 and with thresholds tuned on validation;
- `masked`: GoEmotions + CARER in one run, CARER's loss masked to its six labels;
- `naive`: the same two corpora with CARER rows taken as all-negative on the other 22 labels (`annotates` lists all
  28), the usual way of pooling corpora.
Each is scored on the GoEmotions test split (28 labels, thresholds tuned on GoEmotions validation; the masked and
naive runs tune each label on the validation rows that annotate it), on GoEmotions test's 22 labels that CARER does
not annotate, on CARER validation (argmax over its six labels: accuracy, macro-F1) and by the share of `neutral` as
the top label on the shared out-of-domain texts (Hacker News titles, Flask commit subjects).

Part `recipe` picks the small-data recipe (learning rate, epochs at n = 100) for starting from the GoEmotions model
and from the raw encoder, on 1,000 CARER training rows kept out of every learning-curve subset (never on CARER
validation, which the curves report). Part `curves` trains on n CARER training rows (n = 50, 100, 200, 500, 1000 and
all the rest; three seeds for n <= 200) into CARER's six labels: (a) the raw encoder with a fresh head, (b) starting
from the `goemotions_only` model (its encoder, Tanh layer and the six shared output rows carried over), (c) the plain
single-label recipe (`AutoModelForSequenceClassification`, cross-entropy) from the raw encoder; each scored on CARER
validation (argmax). Epochs scale as max(1, round(E * 100 / n)), capped at E, for the recipe's E. Part
`same_recipe` repeats (b) at n <= 200 with the raw encoder's recipe, so that both starting points train alike.

Modes: `cpu` (default) uses a seeded 6,000 GoEmotions training rows (`Dataset.shuffle(seed=0).select(range(6000))`,
after the exact-duplicate drop) and 6,000 CARER training rows for the two-corpus runs, 2 epochs, every validation and
test row; `full` uses every row and 3 epochs (for a GPU). Results accumulate in `--out` (a part already there is kept
unless `--redo`), so the parts can run one after another:

    python bench/transfer.py --parts models recipe curves same_recipe --out bench/results/transfer_cpu.json
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

from bench.common import DEFAULT_DATA, DEFAULT_ENCODER, RESULTS, SHARED, machine, plain_trainer, write_json  # noqa: E402

CARER = SHARED / "data" / "carer"
OOD_FILES = (SHARED / "data" / "ood" / "hackernews_titles.txt", SHARED / "data" / "ood" / "github_flask_text.txt")
CARER_LABELS = ["joy", "sadness", "anger", "fear", "love", "surprise"]
MODES = {
    "cpu": {"goemotions_rows": 6000, "carer_rows": 6000, "epochs": 2},
    "full": {"goemotions_rows": None, "carer_rows": None, "epochs": 3},
}
CURVE_SIZES = (50, 100, 200, 500, 1000, None)
SMALL = 200
SEEDS = (0, 1, 2)
SELECTION_ROWS = 1000
RECIPE_GRID = {"learning_rate": (1e-4, 3e-4), "epochs": (10, 20)}


def training_args(out: Path, **changes):
    from goemox.training import GoEmoXTrainingArguments

    options = {
        "output_dir": str(out),
        "overwrite_output_dir": True,
        "learning_rate": 1e-4,
        "per_device_train_batch_size": 32,
        "save_total_limit": 1,
        "disable_tqdm": True,
        "report_to": "none",
        "use_cpu": not torch.cuda.is_available(),
        "seed": 0,
    }
    return GoEmoXTrainingArguments(**{**options, **changes})


def fixed_epochs(args) -> dict:
    """Options for a run of fixed length that keeps its last model (no per-epoch evaluation or checkpoints)."""
    return {"eval_strategy": "no", "save_strategy": "no", "load_best_model_at_end": False, **args}


def carer_split(name: str) -> tuple[list[str], np.ndarray]:
    """CARER texts and label ids (index into CARER_LABELS) of train.tsv or validation.tsv."""
    texts, ids = [], []
    for line in (CARER / f"{name}.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        text, label = line.rsplit("\t", 1)
        texts.append(text)
        ids.append(CARER_LABELS.index(label))
    return texts, np.array(ids)


def argmax_scores(probs: np.ndarray, true: np.ndarray) -> dict:
    """Accuracy, macro-F1 and per-label F1 of the argmax over CARER's labels."""
    from sklearn.metrics import accuracy_score, f1_score

    predicted = probs.argmax(axis=1)
    per_label = f1_score(true, predicted, labels=range(len(CARER_LABELS)), average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(true, predicted)),
        "macro_f1": float(per_label.mean()),
        "per_label_f1": dict(zip(CARER_LABELS, per_label.round(4).tolist())),
    }


def ood_texts(per_file: int = 1000) -> list[str]:
    """A seeded sample of each shared out-of-domain file."""
    rng = np.random.default_rng(0)
    texts = []
    for path in OOD_FILES:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        texts += [lines[i] for i in sorted(rng.choice(len(lines), size=min(per_file, len(lines)), replace=False))]
    return texts


def score_model(labels: list[str], probs_of) -> dict:
    """CARER validation (argmax over its six labels) and the neutral top-1 share on out-of-domain texts."""
    texts, true = carer_split("validation")
    probs = probs_of(texts)
    columns = [labels.index(name) for name in CARER_LABELS]
    ood = probs_of(ood_texts())
    return {
        "carer_validation": argmax_scores(probs[:, columns], true),
        "ood_neutral_top1_share": float(np.mean(ood.argmax(axis=1) == labels.index("neutral"))),
    }


def goemotions_test(metrics: dict, source: str | None) -> dict:
    """GoEmotions test macro-F1 (tuned and 0.5) on all 28 labels and on the 22 CARER does not annotate."""
    test = metrics["test_by_source"][source] if source else metrics["test"]
    per_class = test["tuned"]["per_class"]
    others = [name for name in per_class if name not in CARER_LABELS]
    return {
        "macro_f1_tuned": test["tuned"]["macro_f1"],
        "macro_f1_0.5": test["fixed_0.5"]["macro_f1"],
        "micro_f1_tuned": test["tuned"]["micro_f1"],
        "macro_f1_tuned_22_other_labels": float(np.mean([per_class[name]["f1"] for name in others])),
        "macro_f1_tuned_6_carer_labels": float(np.mean([per_class[name]["f1"] for name in CARER_LABELS])),
    }


def goemox_model(name: str, args, work: Path, datasets: list | None) -> dict:
    """Train one goemox model on GoEmotions (and CARER) and score it."""
    from goemox.inference import EmotionClassifier
    from goemox.run_folder import METRICS_FILE, read_run_file
    from goemox.training import DataArguments, ModelArguments, run_training

    mode = MODES[args.mode]
    out = work / name
    data = DataArguments(
        dataset=str(args.data),
        datasets=datasets,
        max_length=args.max_length,
        max_train_samples=mode["goemotions_rows"] if datasets is None else None,
        split_seed=0,
    )
    if (out / METRICS_FILE).is_file() and not args.redo:  # a finished run of an earlier call: scored again only
        metrics = read_run_file(out, METRICS_FILE)
    else:
        metrics = run_training(
            ModelArguments(model_name_or_path=str(args.encoder), pooling="mean"),
            data,
            training_args(out, num_train_epochs=mode["epochs"]),
        )
    classifier = EmotionClassifier.from_pretrained(str(out), max_length=args.max_length, batch_size=128)
    return {
        "model": name,
        "train_runtime_s": metrics["train_runtime_s"],
        "train_samples_per_second": metrics["train_samples_per_second"],
        "rows": metrics["rows"],
        "best_epoch": metrics["best_epoch"],
        "goemotions_test": goemotions_test(metrics, "goemotions" if datasets else None),
        **score_model(classifier.label_names, classifier.predict_proba),
    }


def two_corpus_sources(args, naive: bool) -> list[dict]:
    mode = MODES[args.mode]
    goemotions = {"name": "goemotions", "dataset": str(args.data), "max_train_samples": mode["goemotions_rows"]}
    carer = {
        "name": "carer",
        "dataset": str(CARER),
        "label_column": "label",
        "test_size": 0,
        "single_label": True,
        "max_train_samples": mode["carer_rows"],
    }
    if naive:
        from goemox.labels import GOEMOTIONS_LABELS

        carer["annotates"] = list(GOEMOTIONS_LABELS)
    return [{key: value for key, value in entry.items() if value is not None} for entry in (goemotions, carer)]


def predictions(trainer, tokenizer, texts: list[str], max_length: int, activation) -> np.ndarray:
    from datasets import Dataset

    data = Dataset.from_dict({"text": texts}).map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=max_length), batched=True
    )
    logits = trainer.predict(data.remove_columns("text")).predictions
    return activation(np.asarray(logits, dtype=np.float64))


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def plain_goemotions(args, work: Path) -> dict:
    """The plain multi-label recipe on the same GoEmotions rows as `goemotions_only`."""
    from transformers import AutoTokenizer

    from goemox.data import label_matrix, tokenize_dataset
    from goemox.evaluation import multilabel_metrics, tune_per_class_thresholds
    from goemox.labels import GOEMOTIONS_LABELS, get_label_scheme
    from goemox.training import DataArguments, load_data

    mode, labels = MODES[args.mode], list(GOEMOTIONS_LABELS)
    data = DataArguments(dataset=str(args.data), max_train_samples=mode["goemotions_rows"], split_seed=0)
    raw, _ = load_data(data, get_label_scheme("goemotions"))
    started = time.perf_counter()
    tokenized = tokenize_dataset(raw, AutoTokenizer.from_pretrained(str(args.encoder)), max_length=args.max_length)
    trainer = plain_trainer(
        str(args.encoder),
        labels,
        "multi_label_classification",
        tokenized["train"],
        work / "plain",
        mode["epochs"],
        1e-4,
        0,
    )
    trainer.train()
    tokenizer = trainer.processing_class

    def probs_of(texts):
        return predictions(trainer, tokenizer, texts, args.max_length, sigmoid)

    validation = probs_of(raw["validation"]["text"])
    test = probs_of(raw["test"]["text"])
    tuned = tune_per_class_thresholds(label_matrix(raw["validation"]).astype(int), validation)
    y_test = label_matrix(raw["test"]).astype(int)
    metrics = {
        "test": {
            "tuned": multilabel_metrics(y_test, test, labels, tuned),
            "fixed_0.5": multilabel_metrics(y_test, test, labels, 0.5),
        }
    }
    return {
        "model": "plain_goemotions_only",
        "wall_s": time.perf_counter() - started,
        "goemotions_test": goemotions_test(metrics, None),
        **score_model(labels, probs_of),
    }


def run_models(args, work: Path, results: dict, save) -> dict:
    """Each model of part `models`, saved as it finishes; a model `--out` already holds is kept (unless `--redo`)."""
    done = results.setdefault("models", {})
    builders = {
        "goemotions_only": lambda: goemox_model("goemotions_only", args, work, None),
        "plain_goemotions_only": lambda: plain_goemotions(args, work),
        "masked": lambda: goemox_model("masked", args, work, two_corpus_sources(args, naive=False)),
        "naive": lambda: goemox_model("naive", args, work, two_corpus_sources(args, naive=True)),
    }
    for name, build in builders.items():
        if name in done and not args.redo:
            print(f"model {name}: kept from {args.out}")
            continue
        done[name] = build()
        save()
    return done


def carer_files(work: Path) -> tuple[Path, list[str], list[str]]:
    """CARER training rows split (seeded) into 1,000 selection rows and the pool the curves draw from; writes the
    six-label scheme file and returns it with both row sets."""
    texts, ids = carer_split("train")
    order = np.random.default_rng(0).permutation(len(texts))
    rows = [f"{texts[i]}\t{CARER_LABELS[ids[i]]}" for i in order]
    work.mkdir(parents=True, exist_ok=True)
    scheme = work / "carer_scheme.json"
    scheme.write_text(json.dumps({"name": "carer", "labels": CARER_LABELS}))
    return scheme, rows[:SELECTION_ROWS], rows[SELECTION_ROWS:]


def write_tsv(path: Path, rows: list[str]) -> Path:
    path.write_text("text\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def epochs_for(n: int, recipe_epochs: int) -> int:
    return max(1, min(recipe_epochs, round(recipe_epochs * 100 / n)))


def adapted_run(args, start: str, train: Path, selection: Path, scheme: Path, out: Path, lr: float, epochs: int, seed):
    """goemox on CARER rows from `start` (the raw encoder or a trained model), fixed epochs, thresholds re-tuned on
    the selection rows; returns the classifier's CARER validation argmax scores."""
    from goemox.inference import EmotionClassifier
    from goemox.training import DataArguments, ModelArguments, run_training

    run_training(
        ModelArguments(model_name_or_path=start, pooling="mean"),
        DataArguments(
            train_file=str(train),
            validation_file=str(selection),
            label_column="label",
            scheme=str(scheme),
            test_size=0,
            max_length=args.max_length,
        ),
        training_args(
            out,
            **fixed_epochs({"learning_rate": lr, "num_train_epochs": epochs, "seed": seed}),
            per_device_train_batch_size=16,
        ),
    )
    classifier = EmotionClassifier.from_pretrained(str(out), max_length=args.max_length, batch_size=128)
    texts, true = carer_split("validation")
    return argmax_scores(classifier.predict_proba(texts), true)


def plain_run(args, train_rows: list[str], out: Path, lr: float, epochs: int, seed: int, texts: list[str], true):
    """The plain single-label recipe on CARER rows; argmax scores on the given texts."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(args.encoder))
    pairs = [row.rsplit("\t", 1) for row in train_rows]
    train = Dataset.from_dict(
        {"text": [text for text, _ in pairs], "label": [CARER_LABELS.index(label) for _, label in pairs]}
    ).map(lambda batch: tokenizer(batch["text"], truncation=True, max_length=args.max_length), batched=True)
    trainer = plain_trainer(
        str(args.encoder),
        CARER_LABELS,
        "single_label_classification",
        train.remove_columns("text"),
        out,
        epochs,
        lr,
        seed,
    )
    trainer.train()
    return argmax_scores(predictions(trainer, tokenizer, texts, args.max_length, softmax), true)


def selection_scores(folder: Path, selection_rows: list[str], max_length: int) -> float:
    from goemox.inference import EmotionClassifier

    pairs = [row.rsplit("\t", 1) for row in selection_rows]
    classifier = EmotionClassifier.from_pretrained(str(folder), max_length=max_length, batch_size=128)
    true = np.array([CARER_LABELS.index(label) for _, label in pairs])
    return argmax_scores(classifier.predict_proba([text for text, _ in pairs]), true)["macro_f1"]


def run_recipe(args, work: Path, results: dict, save) -> dict:
    """Learning rate and epochs at n = 100 per starting point, chosen by macro-F1 on the selection rows."""
    scheme, selection_rows, pool = carer_files(work / "carer")
    selection = write_tsv(work / "carer" / "selection.tsv", selection_rows)
    train = write_tsv(work / "carer" / "recipe_train.tsv", pool[:100])
    starts = {"raw_encoder": str(args.encoder), "from_goemotions": str(work / "goemotions_only")}
    if not (work / "goemotions_only" / "config.json").is_file():
        raise SystemExit("part recipe needs the goemotions_only model of part models in --work")
    trials = []
    for start_name, start in starts.items():
        for lr in RECIPE_GRID["learning_rate"]:
            for epochs in RECIPE_GRID["epochs"]:
                out = work / "recipe" / f"{start_name}-{lr}-{epochs}"
                adapted_run(args, start, train, selection, scheme, out, lr, epochs, 0)
                score = selection_scores(out, selection_rows, args.max_length)
                trials.append({"start": start_name, "learning_rate": lr, "epochs": epochs, "selection_macro_f1": score})
                print(json.dumps(trials[-1]), flush=True)
    chosen = {}
    for start_name in starts:
        best = max((t for t in trials if t["start"] == start_name), key=lambda t: t["selection_macro_f1"])
        chosen[start_name] = {"learning_rate": best["learning_rate"], "epochs": best["epochs"]}
    return {"trials": trials, "chosen": chosen, "selection_rows": SELECTION_ROWS, "n": 100}


def run_curves(args, work: Path, results: dict, save) -> dict:
    """CARER validation macro-F1 against the number of CARER training rows, per starting point."""
    if "recipe" not in results:
        raise SystemExit("part curves needs part recipe first")
    chosen = results["recipe"]["chosen"]
    scheme, selection_rows, pool = carer_files(work / "carer")
    selection = write_tsv(work / "carer" / "selection.tsv", selection_rows)
    texts, true = carer_split("validation")
    points = []
    for n in CURVE_SIZES:
        size = len(pool) if n is None else n
        for seed in SEEDS if size <= SMALL else SEEDS[:1]:
            rows = [pool[i] for i in sorted(np.random.default_rng(seed).choice(len(pool), size=size, replace=False))]
            train = write_tsv(work / "carer" / f"train-{size}-{seed}.tsv", rows)
            for start_name, start in (
                ("raw_encoder", str(args.encoder)),
                ("from_goemotions", str(work / "goemotions_only")),
            ):
                recipe = chosen[start_name]
                epochs = epochs_for(size, recipe["epochs"])
                started = time.perf_counter()
                scores = adapted_run(
                    args,
                    start,
                    train,
                    selection,
                    scheme,
                    work / "curve" / start_name,
                    recipe["learning_rate"],
                    epochs,
                    seed,
                )
                points.append(
                    {
                        "start": start_name,
                        "n": size,
                        "seed": seed,
                        "epochs": epochs,
                        "wall_s": time.perf_counter() - started,
                        **scores,
                    }
                )
                print(json.dumps({k: points[-1][k] for k in ("start", "n", "seed", "macro_f1")}), flush=True)
            epochs = epochs_for(size, chosen["raw_encoder"]["epochs"])
            started = time.perf_counter()
            scores = plain_run(args, rows, work / "curve" / "plain", 1e-4, epochs, seed, texts, true)
            points.append(
                {
                    "start": "plain_recipe",
                    "n": size,
                    "seed": seed,
                    "epochs": epochs,
                    "wall_s": time.perf_counter() - started,
                    **scores,
                }
            )
            print(json.dumps({k: points[-1][k] for k in ("start", "n", "seed", "macro_f1")}), flush=True)
    summary = {}
    for point in points:
        summary.setdefault(point["start"], {}).setdefault(str(point["n"]), []).append(point["macro_f1"])
    means = {
        start: {
            n: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "runs": len(v)}
            for n, v in by_n.items()
        }
        for start, by_n in summary.items()
    }
    return {"points": points, "carer_validation_macro_f1": means, "pool_rows": len(pool)}


def run_same_recipe(args, work: Path, results: dict, save) -> dict:
    """Part `same_recipe`: the GoEmotions model as the start with the raw encoder's recipe (same learning rate and
    epochs) at n <= 200, the same subsets as part `curves`: the two starting points with equal training."""
    if "recipe" not in results:
        raise SystemExit("part same_recipe needs part recipe first")
    recipe = results["recipe"]["chosen"]["raw_encoder"]
    scheme, selection_rows, pool = carer_files(work / "carer")
    selection = write_tsv(work / "carer" / "selection.tsv", selection_rows)
    points = []
    for size in (n for n in CURVE_SIZES if n is not None and n <= SMALL):
        for seed in SEEDS:
            rows = [pool[i] for i in sorted(np.random.default_rng(seed).choice(len(pool), size=size, replace=False))]
            train = write_tsv(work / "carer" / f"train-{size}-{seed}.tsv", rows)
            epochs = epochs_for(size, recipe["epochs"])
            out = work / "curve" / "from_goemotions_same_recipe"
            start = str(work / "goemotions_only")
            scores = adapted_run(args, start, train, selection, scheme, out, recipe["learning_rate"], epochs, seed)
            points.append({"start": "from_goemotions", "n": size, "seed": seed, "epochs": epochs, **scores})
            print(json.dumps({k: points[-1][k] for k in ("start", "n", "seed", "macro_f1")}), flush=True)
    means = {
        str(size): float(np.mean([p["macro_f1"] for p in points if p["n"] == size]))
        for size in sorted({p["n"] for p in points})
    }
    return {"recipe": recipe, "points": points, "carer_validation_macro_f1_mean": means}


PARTS = {"models": run_models, "recipe": run_recipe, "curves": run_curves, "same_recipe": run_same_recipe}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=sorted(MODES), default="cpu")
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--encoder", type=Path, default=DEFAULT_ENCODER)
    parser.add_argument("--max_length", type=int, default=64)
    parser.add_argument("--work", type=Path, default=Path("runs/bench-transfer"))
    parser.add_argument("--out", type=Path, default=RESULTS / "transfer_cpu.json")
    parser.add_argument("--redo", action="store_true", help="Run parts again that --out already holds.")
    args = parser.parse_args()
    torch.manual_seed(0)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results.update({"mode": args.mode, "settings": {**MODES[args.mode], "max_length": args.max_length}})

    def save() -> None:
        results["machine"] = machine()
        write_json(args.out, results)

    for part in args.parts:
        if part in results and part != "models" and not args.redo:
            print(f"part {part}: kept from {args.out}")
            continue
        started = time.perf_counter()
        results[part] = PARTS[part](args, args.work, results, save)
        results[part + "_wall_s"] = results.get(part + "_wall_s", 0.0) + time.perf_counter() - started
        save()
    print(json.dumps({key: results[key] for key in results if key in PARTS}, indent=1)[:4000])


if __name__ == "__main__":
    main()
