"""CPU inference speed: the plain `pipeline("text-classification", top_k=None)` against goemox's prediction paths.

All variants score the same GoEmotions test sentences (the first `--rows` rows of test.tsv, or all with
`--rows 0`) with the same trained model and its tuned thresholds; the pipeline's scores are turned into labels
with those thresholds, so the label sets are comparable. Each variant runs in its own process (peak RSS is per
process); the model is loaded and warmed up on 32 sentences before the clock starts. Every run records the
machine's load average (`os.getloadavg()`) before and after, since the machine may be shared.

- `pipeline_bs1`, `pipeline_bs32`: `pipeline(..., top_k=None, batch_size=B)` in input order.
- `goemox`: `EmotionClassifier.predict` (`--batch_size`, default 64, length-sorted texts, inference mode): the PyTorch
  baseline the ONNX rows are compared with (`speedup_vs_goemox`, `label_agreement_with_goemox`).
- `goemox_bf16`: the same under `torch.autocast("cpu", dtype=torch.bfloat16)`.
- `onnx_fp32`, `onnx_int8`: `OnnxEmotionClassifier.predict` (the same batching) on the model exported with
  `goemox export onnx --quantize int8` (done once by this script, its time recorded). Their worker process imports
  neither torch nor transformers (recorded as `torch_imported`), as `goemox predict --backend onnx` does.

Every variant uses `--threads` intra-op threads (torch and onnxruntime alike). `startup_seconds` is the time from
launching the worker process to its first prediction (one sentence): interpreter start, imports, model load.

Without `--model`, a model is first trained on CPU (mean pooling, a seeded 3,000-row subset of train,
1 epoch, thresholds tuned on the full validation split): its quality is modest, which does not matter for
speed, and agreement is measured on its own labels.

    python bench/infer_speed.py --out bench/results/infer_speed_cpu.json
    python bench/infer_speed.py --model runs/reference --rows 0 --out bench/results/infer_speed_onnx_cpu.json
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

import numpy as np  # noqa: E402

from bench.lightweight import DEFAULT_DATA, DEFAULT_ENCODER, RESULTS, peak_rss_mib, write_json  # noqa: E402

VARIANTS = ("pipeline_bs1", "pipeline_bs32", "goemox", "goemox_bf16", "onnx_fp32", "onnx_int8")
REFERENCES = ("pipeline_bs1", "pipeline_bs32", "goemox")


def read_test(data: Path, rows: int) -> tuple[list[str], np.ndarray]:
    """The first `rows` rows of the test split (all of it when `rows` is 0)."""
    from goemox.data import label_matrix, load_emotion_dataset

    test = load_emotion_dataset(str(data))["test"]
    if rows:
        test = test.select(range(min(rows, len(test))))
    return list(test["text"]), label_matrix(test).astype(int)


def export_model(model: str, out: Path) -> dict:
    """Export the model to ONNX with an int8 copy, timed; returns the export's record and seconds."""
    from goemox.exporters import export_onnx

    start = time.perf_counter()
    record = export_onnx(model, out, quantize="int8", overwrite=True)
    return {"seconds": time.perf_counter() - start, "folder": str(out), "parity": record["parity"]}


def train_model(args, out: Path) -> Path:
    from goemox.training import DataArguments, GoEmoXTrainingArguments, ModelArguments, run_training

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


def load_variant(variant: str, model: str, onnx_dir: Path, threads: int, batch_size: int):
    """The variant's predictor: a callable from texts to label sets (PyTorch ones set torch's thread count)."""
    if variant.startswith("onnx_"):
        from goemox.inference import OnnxEmotionClassifier

        precision = variant.removeprefix("onnx_")
        classifier = OnnxEmotionClassifier.from_pretrained(
            onnx_dir, precision=precision, num_threads=threads, batch_size=batch_size
        )
        return lambda texts: [p.labels for p in classifier.predict(texts)]
    import contextlib

    import torch

    torch.set_num_threads(threads)
    if variant in ("goemox", "goemox_bf16"):
        from goemox.inference import EmotionClassifier

        classifier = EmotionClassifier.from_pretrained(model, device="cpu", batch_size=batch_size)

        def predict(texts):
            bf16 = torch.autocast("cpu", dtype=torch.bfloat16) if variant == "goemox_bf16" else contextlib.nullcontext()
            with bf16:
                return [p.labels for p in classifier.predict(texts)]

        return predict
    from transformers import pipeline

    import goemox  # noqa: F401  (registers the architecture for pipeline())

    batch = 1 if variant == "pipeline_bs1" else 32
    pipe = pipeline("text-classification", model=model, top_k=None, batch_size=batch, device="cpu")
    config = pipe.model.config
    thresholds = dict(zip([config.id2label[i] for i in range(config.num_labels)], config.thresholds))
    return lambda texts: [[s["label"] for s in row if s["score"] >= thresholds[s["label"]]] for row in pipe(texts)]


def run_variant(variant: str, model: str, onnx_dir: Path, texts: list[str], args) -> dict:
    """Time one variant in this process; returns start-up time, speed, peak RSS and the predicted label sets."""
    load_before = os.getloadavg()
    predict = load_variant(variant, model, onnx_dir, args.threads, args.batch_size)
    predict(texts[:1])
    startup = time.time() - args.launched
    predict(texts[:32])
    start = time.perf_counter()
    labels = predict(texts)
    seconds = time.perf_counter() - start
    return {
        "variant": variant,
        "sentences": len(texts),
        "startup_seconds": startup,
        "seconds": seconds,
        "sentences_per_second": len(texts) / seconds,
        "peak_rss_mib": peak_rss_mib(),
        "torch_imported": "torch" in sys.modules,
        "labels": labels,
        "threads": args.threads,
        "batch_size": args.batch_size,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--encoder", default=str(DEFAULT_ENCODER))
    parser.add_argument("--model", default=None, help="A trained goemox model folder (else one is trained).")
    parser.add_argument("--rows", type=int, default=2000, help="First N test rows; 0 for the whole split.")
    parser.add_argument("--work", default="runs/bench_infer_speed")
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=VARIANTS,
        default=list(VARIANTS),
        help="Variants to run (default: all); ratios and agreement are given against those of the references run.",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="Intra-op threads of every variant.")
    parser.add_argument("--batch_size", type=int, default=64, help="Texts per batch of the goemox and ONNX variants.")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--launched", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    texts_file = work / "texts.json"
    onnx_dir = work / "onnx"
    if args.worker:  # reads plain text, so its peak RSS is the model's and the variant's, not the data loader's
        texts = json.loads(texts_file.read_text(encoding="utf-8"))
        result = run_variant(args.worker, args.model, onnx_dir, texts, args)
        write_json(work / f"{args.worker}.json", result)
        return
    texts, y_true = read_test(Path(args.data), args.rows)
    work.mkdir(parents=True, exist_ok=True)
    texts_file.write_text(json.dumps(texts), encoding="utf-8")

    model = args.model or str(train_model(args, work / "model"))
    export = export_model(model, onnx_dir) if any(v.startswith("onnx_") for v in args.variants) else None
    runs = {}
    for variant in args.variants:
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
            "--threads",
            str(args.threads),
            "--batch_size",
            str(args.batch_size),
            "--launched",
        ]
        command.append(repr(time.time()))
        subprocess.run(command, check=True)
        runs[variant] = json.loads((work / f"{variant}.json").read_text())

    from bench.common import machine
    from goemox.evaluation import multilabel_metrics
    from goemox.run_folder import CONFIG_FILE, read_run_file

    id2label = read_run_file(model, CONFIG_FILE)["id2label"]
    label_names = [id2label[str(i)] for i in range(len(id2label))]  # the JSON keys are strings, sorted as text
    labels = {name: run.pop("labels") for name, run in runs.items()}
    for name, run in runs.items():
        predicted = np.array([[label in row for label in label_names] for row in labels[name]], dtype=int)
        for reference in REFERENCES:
            if reference in runs:
                same = [set(a) == set(b) for a, b in zip(labels[name], labels[reference])]
                run[f"label_agreement_with_{reference}"] = float(np.mean(same))
                run[f"speedup_vs_{reference}"] = run["sentences_per_second"] / runs[reference]["sentences_per_second"]
        if "goemox" in runs:
            run["startup_vs_goemox"] = run["startup_seconds"] / runs["goemox"]["startup_seconds"]
        run["share_with_a_label"] = float(np.mean([bool(row) for row in labels[name]]))
        run["macro_f1"] = multilabel_metrics(y_true, predicted.astype(float), label_names, 0.5)["macro_f1"]
    result = {
        "machine": machine(),
        "load_average_at_end": os.getloadavg(),
        "model": model,
        "rows": len(texts),
        "onnx_export": export,
        "runs": runs,
    }
    write_json(Path(args.out) if args.out else RESULTS / "infer_speed_cpu.json", result)
    for name, run in runs.items():
        ratios = "  ".join(f"x{run[f'speedup_vs_{r}']:.2f} vs {r}" for r in REFERENCES if r in runs)
        agreement = "  ".join(
            f"same labels as {r} {run[f'label_agreement_with_{r}']:.4f}" for r in REFERENCES if r in runs
        )
        print(
            f"{name:<14} start-up {run['startup_seconds']:5.1f} s  {run['sentences_per_second']:8.1f} sentences/s  "
            f"{ratios}  RSS {run['peak_rss_mib']:.0f} MiB  "
            f"{agreement}  macro-F1 {run['macro_f1']:.4f}"
        )


if __name__ == "__main__":
    main()
