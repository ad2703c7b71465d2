"""Helpers shared by the benchmark scripts: machine facts, data subsets, the plain recipe, bootstrap intervals
(paths, peak memory and JSON output come from `bench.lightweight`, which imports no torch)."""

from __future__ import annotations

import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from bench.lightweight import DEFAULT_DATA, DEFAULT_ENCODER, REPO, RESULTS, SHARED, peak_rss_mib, write_json
from goemox.evaluation import multilabel_metrics
from goemox.run_folder import library_versions

__all__ = [
    "DEFAULT_DATA",
    "DEFAULT_ENCODER",
    "REPO",
    "RESULTS",
    "SHARED",
    "WallClock",
    "bootstrap_macro_f1",
    "cpu_flags",
    "machine",
    "peak_rss_mib",
    "plain_trainer",
    "relative_paths",
    "summarise",
    "test_report",
    "write_json",
]


SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")
"""CPU features that decide which int8 and bf16 kernels onnxruntime and torch can use."""


def relative_paths(value):
    """`value` (any JSON value) with every absolute path written relative to the repository (`../shared/...`), so
    that the committed results name no folder of the machine that ran them."""
    if isinstance(value, dict):
        return {key: relative_paths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [relative_paths(item) for item in value]
    if isinstance(value, str) and os.path.isabs(value):
        return os.path.relpath(value, REPO)
    return value


def cpu_flags() -> dict[str, bool]:
    """Which of :data:`SPEED_FLAGS` the CPU has (Linux `/proc/cpuinfo`; empty elsewhere)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return {}
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    return {flag: flag in flags for flag in SPEED_FLAGS}


def machine() -> dict:
    """Where a benchmark ran: CPU (with its int8 / bf16 features) / GPU, core count, library versions, date."""
    info = {
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_flags": cpu_flags(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "versions": library_versions(),
    }
    return info


def bootstrap_macro_f1(
    y_true: np.ndarray, y_pred: np.ndarray, n_resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile bootstrap interval of macro-F1 over resampled test rows (fixed predictions).

    Each resample draws rows with replacement; per-class true/false positive counts are weighted sums, so
    all resamples are computed with two matrix products.
    """
    rng = np.random.default_rng(seed)
    n = len(y_true)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(np.float64)
    y_true = y_true.astype(np.float64)
    y_pred = y_pred.astype(np.float64)
    tp = weights @ (y_true * y_pred)
    fp = weights @ ((1 - y_true) * y_pred)
    fn = weights @ (y_true * (1 - y_pred))
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    scores = f1.mean(axis=1)
    return float(np.percentile(scores, 2.5)), float(np.percentile(scores, 97.5))


def summarise(runs: list[dict], keys: tuple[str, ...]) -> dict:
    """Mean and sample standard deviation of each key over runs."""
    out = {}
    for key in keys:
        values = np.array([run[key] for run in runs], dtype=np.float64)
        out[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return out


def test_report(y_true: np.ndarray, probs: np.ndarray, labels: list[str], thresholds) -> dict:
    """Test metrics at the given thresholds plus the bootstrap interval of macro-F1."""
    metrics = multilabel_metrics(y_true, probs, labels, thresholds)
    preds = (probs >= np.asarray(thresholds)).astype(int)
    low, high = bootstrap_macro_f1(y_true, preds)
    metrics["macro_f1_bootstrap_95"] = [low, high]
    return metrics


class WallClock(TrainerCallback):
    """Records seconds since training began at every evaluation, to find the wall time to the best checkpoint."""

    def __init__(self):
        self.start = None
        self.at_evaluation: dict[int, float] = {}

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_evaluate(self, args, state, control, **kwargs):
        self.at_evaluation[state.global_step] = time.perf_counter() - self.start


def plain_trainer(encoder: str, labels: list[str], problem_type: str, train, out: Path, epochs: float, lr: float, seed):
    """The plain recipe as a user writes it, ready to train: the stock `Trainer` on
    `AutoModelForSequenceClassification` (`problem_type` multi- or single-label), batch 32, no evaluation or
    checkpoints, bf16 on GPUs that support it."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, set_seed

    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    model = AutoModelForSequenceClassification.from_pretrained(
        encoder,
        num_labels=len(labels),
        problem_type=problem_type,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        dtype=torch.float32,
    )
    arguments = TrainingArguments(
        output_dir=str(out),
        learning_rate=lr,
        num_train_epochs=epochs,
        per_device_train_batch_size=32,
        per_device_eval_batch_size=128,
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
        seed=seed,
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
    )
    return Trainer(model=model, args=arguments, train_dataset=train, processing_class=tokenizer)
