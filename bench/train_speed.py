"""Training throughput: goemox against the plain Hugging Face recipe, same data, batch size and step count.

Both train the same encoder on GoEmotions train for `--steps` optimizer steps at batch 32 (bf16 autocast on
a GPU that supports it, fused AdamW for both). The plain recipe uses the stock Trainer's random sampler;
goemox uses its defaults (length-grouped batches, cuDNN attention off on CUDA). Reported per recipe:
wall time of all steps, steady-state samples/s (steps after the first `--warmup` are timed alone), and on
a GPU the model FLOPs utilisation.

FLOPs: per token of a padded batch of length S, forward + backward cost 6 * N (N = parameters outside the
embedding tables: each one does a multiply-add forward and twice that backward) plus 12 * L * S * h for
attention scores and weighted values (L layers, width h). Padded tokens count, since the GPU computes them;
the token count comes from iterating the same sampler order without the model. MFU = achieved FLOP/s over
the GPU's dense bf16 peak (H100 SXM 989 TFLOP/s, H100 PCIe 756, H200 989).

    python bench/train_speed.py --steps 400 --out bench/results/train_speed_gpu.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from bench.common import DEFAULT_DATA, DEFAULT_ENCODER, RESULTS, machine, write_json  # noqa: E402

PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.4, "H200": 989.4}


class StepTimer(TrainerCallback):
    """Times optimizer steps after a warm-up (first steps include allocator and kernel-selection work)."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.start = None
        self.end = None

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.start = time.perf_counter()
        if state.global_step == args.max_steps:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.end = time.perf_counter()


def padded_batches(trainer, steps: int) -> list[tuple[int, int]]:
    """(batch size, padded length) of the first `steps` training batches in the sampler's order."""
    shapes = []
    for batch in trainer.get_train_dataloader():
        shapes.append(tuple(batch["input_ids"].shape))
        if len(shapes) == steps:
            break
    return shapes


def model_flops(model, shapes: list[tuple[int, int]]) -> float:
    """Training FLOPs of the batches: sum of B * S * (6 N + 12 L S h)."""
    config = model.config.encoder if hasattr(model.config, "encoder") else model.config
    embeddings = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    params = sum(p.numel() for p in model.parameters()) - embeddings
    layers, width = config.num_hidden_layers, config.hidden_size
    return float(sum(b * s * (6 * params + 12 * layers * s * width) for b, s in shapes))


def build(recipe: str, args, out_dir: Path):
    """A trainer for `recipe` on the tokenized training split."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, set_seed

    from goemox import GoEmoXForSequenceClassification
    from goemox.data import tokenize_dataset
    from goemox.labels import GOEMOTIONS_LABELS, get_label_scheme
    from goemox.training.arguments import DataArguments
    from goemox.training.train import load_data
    from goemox.training.trainer import GoEmoXTrainer
    from goemox.training.training_args import GoEmoXTrainingArguments

    labels = list(GOEMOTIONS_LABELS)
    tokenizer = AutoTokenizer.from_pretrained(args.encoder)
    data_args = DataArguments(dataset=args.data, max_length=128, max_train_samples=args.train_rows)
    raw, _ = load_data(data_args, get_label_scheme("goemotions"))
    train = tokenize_dataset(raw, tokenizer, 128)["train"]
    set_seed(0)
    on_cpu = not torch.cuda.is_available()
    common = {
        "output_dir": str(out_dir / recipe),
        "max_steps": args.steps,
        "per_device_train_batch_size": 32,
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
    model = GoEmoXForSequenceClassification.from_encoder(args.encoder, labels)
    trainer_args = GoEmoXTrainingArguments(
        **common,
        overwrite_output_dir=True,
        load_best_model_at_end=False,
        early_stopping_patience=0,
        torch_compile=recipe == "goemox-compile",
    )
    return GoEmoXTrainer(model=model, args=trainer_args, train_dataset=train, processing_class=tokenizer)


def measure(recipe: str, args, out_dir: Path) -> dict:
    trainer = build(recipe, args, out_dir)
    shapes = padded_batches(trainer, args.steps)
    timer = StepTimer(args.warmup)
    trainer.add_callback(timer)
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    timed_steps = args.steps - args.warmup
    steady = timed_steps * 32 / (timer.end - timer.start)
    flops = model_flops(trainer.model, shapes[args.warmup :])
    result = {
        "recipe": recipe,
        "steps": args.steps,
        "batch_size": 32,
        "wall_s": wall,
        "steady_samples_per_second": steady,
        "steady_ms_per_step": 1000 * (timer.end - timer.start) / timed_steps,
        "mean_padded_length": sum(s for _, s in shapes) / len(shapes),
    }
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
        achieved = flops / (timer.end - timer.start)
        result["achieved_tflops"] = achieved / 1e12
        result["mfu"] = achieved / (peak * 1e12) if peak else None
        result["peak_bf16_tflops"] = peak
        result["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    print(result, flush=True)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--encoder", default=str(DEFAULT_ENCODER))
    parser.add_argument("--steps", type=int, default=400 if torch.cuda.is_available() else 60)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--train_rows", type=int, default=None, help="Seeded subset of train (default: all).")
    parser.add_argument(
        "--recipes", nargs="+", default=["plain", "goemox"], choices=["plain", "goemox", "goemox-compile"]
    )
    parser.add_argument("--work", default="runs/bench_train_speed")
    parser.add_argument("--profile", default=None, help="Also profile 30 goemox steps; write the table here.")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.profile:
        profile(args, Path(args.work), Path(args.profile))
    runs = {recipe: measure(recipe, args, Path(args.work)) for recipe in args.recipes}
    base = runs.get("plain")
    if base:
        for run in runs.values():
            run["speedup_vs_plain"] = run["steady_samples_per_second"] / base["steady_samples_per_second"]
    device = "gpu" if torch.cuda.is_available() else "cpu"
    write_json(
        Path(args.out) if args.out else RESULTS / f"train_speed_{device}.json",
        {"machine": machine(), "data": args.data, "encoder": args.encoder, "runs": runs},
    )


if __name__ == "__main__":
    main()
