"""CPU inference speed: the plain `pipeline("text-classification", top_k=None)` against goemox's prediction path.

All variants score the same 2,000 GoEmotions test sentences (the first 2,000 rows of test.tsv) with the same
trained model and its tuned thresholds; the pipeline's scores are turned into labels with those thresholds,
so the label sets are comparable. Each variant runs in its own process (peak RSS is per process); the model
is loaded and warmed up on 32 sentences before the clock starts.

- `pipeline_bs1`, `pipeline_bs32`: `pipeline(..., top_k=None, batch_size=B)` in input order.
- `goemox`: `EmotionClassifier.predict` (batch 64, texts sorted by length, `torch.inference_mode`).

Without `--model`, a model is first trained on CPU (mean pooling, a seeded 3,000-row subset of train,
1 epoch, thresholds tuned on the full validation split): its quality is modest, which does not matter for
speed, and agreement is measured on its own labels.

    python bench/infer_speed.py --out bench/results/infer_speed_cpu.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.common import DEFAULT_DATA, DEFAULT_ENCODER, RESULTS, machine, peak_rss_mib, write_json  # noqa: E402

VARIANTS = ("pipeline_bs1", "pipeline_bs32", "goemox")


def read_test(data: Path, rows: int) -> tuple[list[str], np.ndarray]:
    from goemox.data import label_matrix, load_emotion_dataset

    test = load_emotion_dataset(str(data))["test"].select(range(rows))
    return list(test["text"]), label_matrix(test).astype(int)


def train_model(args, out: Path) -> Path:
    from goemox.arguments import DataArguments, ModelArguments
    from goemox.train import run_training
    from goemox.training_args import GoEmoXTrainingArguments

    run_training(
        ModelArguments(model_name_or_path=str(args.encoder), pooling="mean"),
        DataArguments(dataset=str(args.data), max_train_samples=3000, split_seed=0),
        GoEmoXTrainingArguments(
            output_dir=str(out),
            overwrite_output_dir=True,
            learning_rate=1e-4,
            num_train_epochs=1,
            use_cpu=True,
            disable_tqdm=True,
            report_to="none",
        ),
    )
    return out


def run_variant(variant: str, model: str, texts: list[str]) -> dict:
    """Time one variant in this process; returns speed, peak RSS and the predicted label sets."""
    from transformers import pipeline

    import goemox  # noqa: F401  (registers the architecture for pipeline())
    from goemox.inference import EmotionClassifier

    if variant == "goemox":
        classifier = EmotionClassifier.from_pretrained(model, device="cpu", batch_size=64)
        classifier.predict(texts[:32])
        start = time.perf_counter()
        labels = [p.labels for p in classifier.predict(texts)]
    else:
        batch = 1 if variant == "pipeline_bs1" else 32
        pipe = pipeline("text-classification", model=model, top_k=None, batch_size=batch, device="cpu")
        config = pipe.model.config
        thresholds = dict(zip([config.id2label[i] for i in range(config.num_labels)], config.thresholds))
        pipe(texts[:32])
        start = time.perf_counter()
        scores = pipe(texts)
        labels = [[s["label"] for s in row if s["score"] >= thresholds[s["label"]]] for row in scores]
    seconds = time.perf_counter() - start
    return {
        "variant": variant,
        "sentences": len(texts),
        "seconds": seconds,
        "sentences_per_second": len(texts) / seconds,
        "peak_rss_mib": peak_rss_mib(),
        "labels": labels,
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--encoder", default=str(DEFAULT_ENCODER))
    parser.add_argument("--model", default=None, help="A trained goemox model folder (else one is trained).")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--work", default="runs/bench_infer_speed")
    parser.add_argument("--out", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    texts_file = work / "texts.json"
    if args.worker:  # reads plain text, so its peak RSS is the model's and the variant's, not the data loader's
        texts = json.loads(texts_file.read_text(encoding="utf-8"))
        write_json(work / f"{args.worker}.json", run_variant(args.worker, args.model, texts))
        return
    texts, y_true = read_test(Path(args.data), args.rows)
    work.mkdir(parents=True, exist_ok=True)
    texts_file.write_text(json.dumps(texts), encoding="utf-8")

    model = args.model or str(train_model(args, work / "model"))
    runs = {}
    for variant in VARIANTS:
        command = [
            sys.executable,
            __file__,
            "--data",
            args.data,
            "--rows",
            str(args.rows),
            "--work",
            str(work),
            "--model",
            model,
            "--worker",
            variant,
        ]
        subprocess.run(command, check=True)
        runs[variant] = json.loads((work / f"{variant}.json").read_text())

    from goemox.metrics import multilabel_metrics

    label_names = list(json.loads((Path(model) / "config.json").read_text())["id2label"].values())
    reference = runs["pipeline_bs1"]["labels"]
    for run in runs.values():
        labels = run.pop("labels")
        predicted = np.array([[name in row for name in label_names] for row in labels], dtype=int)
        run["label_agreement_with_pipeline_bs1"] = float(np.mean([set(a) == set(b) for a, b in zip(labels, reference)]))
        run["share_with_a_label"] = float(np.mean([bool(row) for row in labels]))
        run["macro_f1"] = multilabel_metrics(y_true, predicted.astype(float), label_names, 0.5)["macro_f1"]
    for name in VARIANTS:
        runs[name]["speedup_vs_pipeline_bs1"] = (
            runs[name]["sentences_per_second"] / runs["pipeline_bs1"]["sentences_per_second"]
        )
        runs[name]["speedup_vs_pipeline_bs32"] = (
            runs[name]["sentences_per_second"] / runs["pipeline_bs32"]["sentences_per_second"]
        )
    result = {"machine": machine(), "model": model, "rows": args.rows, "runs": runs}
    write_json(Path(args.out) if args.out else RESULTS / "infer_speed_cpu.json", result)
    for name, run in runs.items():
        print(
            f"{name:<14} {run['sentences_per_second']:8.1f} sentences/s  x{run['speedup_vs_pipeline_bs1']:.2f} vs bs1  "
            f"x{run['speedup_vs_pipeline_bs32']:.2f} vs bs32  RSS {run['peak_rss_mib']:.0f} MiB  "
            f"agreement {run['label_agreement_with_pipeline_bs1']:.4f}"
        )


if __name__ == "__main__":
    main()
