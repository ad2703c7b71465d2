"""Training throughput: goemox against the plain Hugging Face recipe, same data, batch size and step count.

Every recipe trains the same encoder on GoEmotions train for `--steps` optimizer steps at batch 32 (bf16
autocast on a GPU that supports it, fused AdamW for all). The plain recipe uses the stock Trainer's random
sampler and pads each batch to its longest row; the goemox recipes use its defaults (length-grouped batches,
cuDNN attention off on CUDA) and differ in padding and compilation:

- `goemox`: each batch padded to its longest row, eager; `goemox-compile`: the same under `torch.compile`.
- `goemox-buckets`: each batch padded to the smallest of `--buckets` that holds it (`--pad_to_buckets`), eager,
  so only a few shapes occur; `goemox-buckets-compile`: under `torch.compile` (default mode);
  `goemox-buckets-reduce-overhead`: `torch.compile(mode="reduce-overhead")`, whose CUDA graphs replay the
  model's forward and backward in a few launches (needs CUDA: without it the recipe is skipped and the reason
  recorded); `goemox-buckets-max-autotune-no-cudagraphs`: autotuned kernels without CUDA graphs.

Compiled bucket recipes compile one graph per batch shape (a few, with buckets) unless `--dynamic_buckets`.

Reported per recipe: wall time of all steps (compilation included), steady-state samples/s (the steps after the
first `--warmup`, timed together), the same over the timed steps whose batch shape had been met before (a new shape
costs a compilation or a kernel plan; with buckets that happens a few times, without them all run long), their
ratios against the plain recipe of the same call, the batch shapes met, and on a GPU the model FLOPs utilisation.
With `--validate`, each trained model (run eagerly) is also scored on the validation split at threshold 0.5:
macro-F1 and ROC-AUC, to check that padding and compilation leave quality alone (the goemox recipes see the
same rows in the same order; they differ by float rounding and by dropout masks, which are drawn per shape).

FLOPs: per token of a padded batch of length S, forward + backward cost 6 * N (N = parameters outside the
embedding tables: each one does a multiply-add forward and twice that backward) plus 12 * L * S * h for
attention scores and weighted values (L layers, width h). Padded tokens count, since the GPU computes them;
the shapes are those the data collator built for the timed steps. MFU = achieved FLOP/s over
the GPU's dense bf16 peak (H100 SXM 989 TFLOP/s, H100 PCIe 756, H200 989).

    python bench/train_speed.py --steps 400 --validate --out bench/results/train_speed_buckets_gpu.json
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from bench.common import DEFAULT_DATA, DEFAULT_ENCODER, RESULTS, machine, write_json  # noqa: E402

PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.4, "H200": 989.4}
MAX_LENGTH = 128
BUCKETS = [16, 32, 64, 128]
GOEMOX_RECIPES = {
    "goemox": {},
    "goemox-compile": {"torch_compile": True},
    "goemox-buckets": {"buckets": True},
    "goemox-buckets-compile": {"buckets": True, "torch_compile": True},
    "goemox-buckets-reduce-overhead": {"buckets": True, "torch_compile_mode": "reduce-overhead"},
    "goemox-buckets-max-autotune-no-cudagraphs": {"buckets": True, "torch_compile_mode": "max-autotune-no-cudagraphs"},
}
"""The goemox recipes: whether batches are padded to `--buckets`, and the `torch.compile` options."""
RECIPES = ["plain", *GOEMOX_RECIPES]
NEEDS_CUDA = {"reduce-overhead": "torch.compile mode reduce-overhead replays CUDA graphs, which need a CUDA GPU"}


class StepTimer(TrainerCallback):
    """Times optimizer steps after a warm-up (first steps include allocator and kernel-selection work), each one
    on its own as well."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.start = None
        self.end = None
        self.step_ends: list[float] = []

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step < self.warmup:
            return
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        now = time.perf_counter()
        if state.global_step == self.warmup:
            self.start = now
        self.step_ends.append(now)
        if state.global_step == args.max_steps:
            self.end = now

    def step_seconds(self) -> list[float]:
        """Seconds of each timed step."""
        return [b - a for a, b in zip(self.step_ends, self.step_ends[1:])]


class ShapeLog:
    """Wraps a data collator and records the (batch size, padded length) of every batch it builds, in order."""

    def __init__(self, collate):
        self.collate = collate
        self.shapes: list[tuple[int, int]] = []

    def __call__(self, features: list[dict]) -> dict:
        batch = self.collate(features)
        self.shapes.append(tuple(batch["input_ids"].shape))
        return batch


def model_flops(model, shapes: list[tuple[int, int]]) -> float:
    """Training FLOPs of the batches: sum of B * S * (6 N + 12 L S h)."""
    config = model.config.encoder if hasattr(model.config, "encoder") else model.config
    embeddings = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    params = sum(p.numel() for p in model.parameters()) - embeddings
    layers, width = config.num_hidden_layers, config.hidden_size
    return float(sum(b * s * (6 * params + 12 * layers * s * width) for b, s in shapes))


@lru_cache(maxsize=1)
def tokenized_splits(data: str, encoder: str, train_rows: int | None):
    """The tokenizer, the tokenized training split and the length-sorted validation split (read once per run)."""
    from datasets import DatasetDict
    from transformers import AutoTokenizer

    from goemox.data import tokenize_dataset
    from goemox.labels import get_label_scheme
    from goemox.training import DataArguments, load_data

    tokenizer = AutoTokenizer.from_pretrained(encoder)
    data_args = DataArguments(dataset=data, max_length=MAX_LENGTH, max_train_samples=train_rows)
    raw, _ = load_data(data_args, get_label_scheme("goemotions"))
    tokenized = tokenize_dataset(DatasetDict(train=raw["train"], validation=raw["validation"]), tokenizer, MAX_LENGTH)
    return tokenizer, tokenized["train"], tokenized["validation"].sort("length")


def build(recipe: str, args, out_dir: Path):
    """A trainer for `recipe` on the tokenized training split."""
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments, set_seed

    from goemox import GoEmoXForSequenceClassification
    from goemox.labels import GOEMOTIONS_LABELS
    from goemox.training import GoEmoXTrainer, GoEmoXTrainingArguments, bucket_lengths

    labels = list(GOEMOTIONS_LABELS)
    tokenizer, train, _ = tokenized_splits(args.data, args.encoder, args.train_rows)
    set_seed(0)
    on_cpu = not torch.cuda.is_available()
    common = {
        "output_dir": str(out_dir / recipe),
        "max_steps": args.steps,
        "per_device_train_batch_size": 32,
        "per_device_eval_batch_size": 128,
        "learning_rate": 1e-4,
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "logging_strategy": "no",
        "use_cpu": on_cpu,
        "seed": 0,
    }
    if recipe == "plain":
        model = AutoModelForSequenceClassification.from_pretrained(
            args.encoder, num_labels=len(labels), problem_type="multi_label_classification", dtype=torch.float32
        )
        bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        trainer_args = TrainingArguments(**common, bf16=bf16)
        return Trainer(model=model, args=trainer_args, train_dataset=train, processing_class=tokenizer)
    options = dict(GOEMOX_RECIPES[recipe])
    buckets = bucket_lengths(args.buckets, MAX_LENGTH) if options.pop("buckets", False) else None
    model = GoEmoXForSequenceClassification.from_encoder(args.encoder, labels)
    trainer_args = GoEmoXTrainingArguments(
        **common,
        **options,
        overwrite_output_dir=True,
        load_best_model_at_end=False,
        early_stopping_patience=0,
        pad_to_buckets=buckets,
    )
    return GoEmoXTrainer(model=model, args=trainer_args, train_dataset=train, processing_class=tokenizer)


def validation_scores(trainer, validation) -> dict:
    """Macro-F1 and ROC-AUC at threshold 0.5 on `validation`, with the trained model run eagerly (a compiled one
    would compile again for the evaluation shapes) under the autocast it trained with."""
    import numpy as np

    from goemox.evaluation import multilabel_metrics
    from goemox.labels import GOEMOTIONS_LABELS
    from goemox.scores import sigmoid

    model = trainer.accelerator.unwrap_model(trainer.model, keep_torch_compile=False).eval()
    device = next(model.parameters()).device
    logits, labels = [], []
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(trainer.args.bf16))
    with torch.no_grad(), autocast:
        for batch in trainer.get_eval_dataloader(validation):
            labels.append(batch.pop("labels").float().cpu().numpy())  # the loader may have moved it
            batch = {key: value.to(device) for key, value in batch.items()}
            logits.append(model(**batch).logits.float().cpu().numpy())
    probs = sigmoid(np.concatenate(logits).astype(np.float64))
    metrics = multilabel_metrics((np.concatenate(labels) >= 0.5).astype(int), probs, list(GOEMOTIONS_LABELS), 0.5)
    return {"macro_f1": metrics["macro_f1"], "roc_auc_macro": metrics["roc_auc_macro"], "rows": len(probs)}


def skip_reason(recipe: str) -> str | None:
    """Why `recipe` cannot run on this machine (`None` when it can)."""
    mode = GOEMOX_RECIPES.get(recipe, {}).get("torch_compile_mode")
    return None if torch.cuda.is_available() else NEEDS_CUDA.get(mode)


def measure(recipe: str, args, out_dir: Path) -> dict:
    """Train `recipe` for `--steps` steps; its timings, batch shapes and (with `--validate`) validation scores."""
    torch._dynamo.reset()  # compiled recipes share the model class's code: start each from an empty cache
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer = build(recipe, args, out_dir)
    log = ShapeLog(trainer.data_collator)
    trainer.data_collator = log
    timer = StepTimer(args.warmup)
    trainer.add_callback(timer)
    buckets = getattr(trainer.args, "pad_to_buckets", None)
    static = bool(trainer.args.torch_compile and buckets and not args.dynamic_buckets)
    start = time.perf_counter()
    with torch._dynamo.config.patch(automatic_dynamic_shapes=not static):
        trainer.train()
    wall = time.perf_counter() - start
    shapes = log.shapes[: args.steps]  # the loader may build a batch beyond the last step
    timed_steps = args.steps - args.warmup
    steady = timed_steps * 32 / (timer.end - timer.start)
    # Timed step k trains batch k - 1; a step on a shape met before compiles and plans nothing anew.
    repeated = [t for t, i in zip(timer.step_seconds(), range(args.warmup, args.steps)) if shapes[i] in shapes[:i]]
    flops = model_flops(trainer.model, shapes[args.warmup :])
    result = {
        "recipe": recipe,
        "steps": args.steps,
        "batch_size": 32,
        "pad_to_buckets": buckets,
        "torch_compile_mode": (trainer.args.torch_compile_mode or "default") if trainer.args.torch_compile else None,
        "compiled_shapes": None if not trainer.args.torch_compile else "one graph per shape" if static else "dynamic",
        "wall_s": wall,
        "steady_samples_per_second": steady,
        "steady_ms_per_step": 1000 * (timer.end - timer.start) / timed_steps,
        "repeat_shape_samples_per_second": 32 * len(repeated) / sum(repeated) if repeated else None,
        "repeat_shape_ms_per_step": 1000 * sum(repeated) / len(repeated) if repeated else None,
        "timed_steps_on_new_shapes": timed_steps - len(repeated),
        "slowest_timed_step_ms": 1000 * max(timer.step_seconds()),
        "mean_padded_length": sum(s for _, s in shapes) / len(shapes),
        "distinct_padded_lengths": len({s for _, s in shapes}),
        "distinct_batch_shapes": len(set(shapes)),
    }
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
        achieved = flops / (timer.end - timer.start)
        result["achieved_tflops"] = achieved / 1e12
        result["mfu"] = achieved / (peak * 1e12) if peak else None
        result["peak_bf16_tflops"] = peak
        result["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    if args.validate:
        result["validation"] = validation_scores(trainer, tokenized_splits(args.data, args.encoder, args.train_rows)[2])
    print(result, flush=True)
    del trainer
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return result


def profile(args, out_dir: Path, table_path: Path) -> None:
    """Where a goemox training step spends its time: torch.profiler over 30 steps after 20 warm-up steps."""
    from torch.profiler import ProfilerActivity, schedule

    trainer = build("goemox", args, out_dir)
    trainer.args.max_steps = 50
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])

    class Step(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            profiler.step()

    with torch.profiler.profile(activities=activities, schedule=schedule(wait=20, warmup=0, active=30)) as profiler:
        trainer.add_callback(Step())
        trainer.train()
    sort = "self_cuda_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
    table = profiler.key_averages().table(sort_by=sort, row_limit=25)
    table_path.write_text(table)
    print(table)


def run_recipe(recipe: str, args, out_dir: Path) -> dict:
    """`measure(recipe)`, or why it was skipped or failed (so one failing recipe leaves the others' numbers)."""
    reason = skip_reason(recipe)
    if reason:
        print(f"{recipe}: skipped, {reason}", flush=True)
        return {"recipe": recipe, "skipped": reason}
    try:
        return measure(recipe, args, out_dir)
    except Exception as err:  # recorded in the results; the exit status says so
        message = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
        print(f"{recipe}: failed, {message}", flush=True)
        return {"recipe": recipe, "error": message}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--encoder", default=str(DEFAULT_ENCODER))
    parser.add_argument("--steps", type=int, default=400 if torch.cuda.is_available() else 60)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--train_rows", type=int, default=None, help="Seeded subset of train (default: all).")
    default_recipes = [r for r in RECIPES if r != "goemox-compile"] if torch.cuda.is_available() else RECIPES[:2]
    parser.add_argument(
        "--recipes",
        nargs="+",
        default=default_recipes,
        choices=RECIPES,
        help="Default on a GPU: all but goemox-compile; on CPU: plain goemox.",
    )
    parser.add_argument(
        "--buckets", type=int, nargs="+", default=BUCKETS, help="Padded lengths of the goemox-buckets* recipes."
    )
    parser.add_argument("--validate", action="store_true", help="Score each trained model on validation at 0.5.")
    parser.add_argument(
        "--dynamic_buckets",
        action="store_true",
        help="Compiled bucket recipes: let torch.compile generalise over the bucket lengths (automatic dynamic "
        "shapes) instead of compiling one graph per shape.",
    )
    parser.add_argument("--work", default="runs/bench_train_speed")
    parser.add_argument("--profile", default=None, help="Also profile 30 goemox steps; write the table here.")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.profile:
        profile(args, Path(args.work), Path(args.profile))
    runs = {recipe: run_recipe(recipe, args, Path(args.work)) for recipe in args.recipes}
    base = runs.get("plain")
    if base and "steady_samples_per_second" in base:
        for run in runs.values():
            if "steady_samples_per_second" in run:
                run["speedup_vs_plain"] = run["steady_samples_per_second"] / base["steady_samples_per_second"]
                if run["repeat_shape_samples_per_second"] and base["repeat_shape_samples_per_second"]:
                    run["repeat_shape_speedup_vs_plain"] = (
                        run["repeat_shape_samples_per_second"] / base["repeat_shape_samples_per_second"]
                    )
    device = "gpu" if torch.cuda.is_available() else "cpu"
    write_json(
        Path(args.out) if args.out else RESULTS / f"train_speed_{device}.json",
        {"machine": machine(), "data": args.data, "encoder": args.encoder, "runs": runs},
    )
    failed = [recipe for recipe, run in runs.items() if "error" in run]
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)} (the others' numbers are written)")


if __name__ == "__main__":
    main()
