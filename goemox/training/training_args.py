"""Training arguments: `transformers.TrainingArguments` with goemox's loss options and defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments

from goemox.errors import GoEmoXUsageError

POS_WEIGHT_STRATEGIES = ("none", "frequency", "explicit")
LOSSES = ("bce", "asymmetric")


@dataclass
class GoEmoXTrainingArguments(TrainingArguments):
    """`TrainingArguments` for multi-label emotion classification.

    Every `TrainingArguments` option works as usual (`report_to`, `resume_from_checkpoint`, `bf16`, ...);
    only some defaults differ, picked for this task: evaluation and checkpoints every epoch, the best
    checkpoint by validation macro-F1 restored at the end, early stopping, length-grouped batches,
    a 10% linear warm-up and label smoothing 0.05.

    Label smoothing: goemox reuses `label_smoothing_factor` (`eps`) for its binary loss; each target
    becomes `y * (1 - eps) + eps / 2`. The stock Trainer's softmax label smoother is never applied,
    because [`GoEmoXTrainer`] computes the loss itself.

    Args:
        loss: `"bce"` (label-smoothed, positively weighted binary cross-entropy) or `"asymmetric"` (the asymmetric
            loss of Ridnik et al. 2021, see [`asymmetric_loss_with_logits`]; smoothing and positive weights apply to
            it too: with asymmetric focusing one usually sets `pos_weight_strategy="none"`).
        asl_gamma_neg: the asymmetric loss's focusing exponent on negatives.
        asl_gamma_pos: its focusing exponent on positives.
        asl_clip: its probability margin: a negative scored below it costs nothing.
        pos_weight_strategy: `"none"` (every weight 1), `"frequency"` (`clip((neg/pos) ** power, 1, cap)`
            per label from the training set), or `"explicit"` (`pos_weight_values`).
        pos_weight_values: one weight per label, used with `"explicit"`.
        pos_weight_power: the exponent of the frequency formula (0.5 = square root).
        pos_weight_cap: the largest frequency weight.
        early_stopping_patience: evaluations without a better `metric_for_best_model` before training stops;
            0 disables early stopping.
        auto_mixed_precision: use bf16 autocast when a GPU supports it and neither `bf16` nor `fp16` is set.
        overwrite_output_dir: allow writing into an `output_dir` that already holds files (otherwise refused).
        pad_to_buckets: increasing lengths (e.g. `[16, 32, 64, 128]`): every training and evaluation batch is padded
            to the smallest that holds its longest row, so a compiled model sees a few shapes; `None` (default) pads
            to the longest row. `goemox train` drops sizes above `--max_length` and ends the list with it.

    Example:

    ```python
    >>> args = GoEmoXTrainingArguments(output_dir="runs/x", learning_rate=1e-4, pos_weight_cap=5.0)
    >>> args.metric_for_best_model
    'macro_f1'
    ```"""

    loss: str = field(
        default="bce",
        metadata={
            "help": "bce (label-smoothed, positively weighted binary cross-entropy) | asymmetric (asymmetric focusing "
            "with a probability margin for negatives, Ridnik et al. 2021; smoothing and positive weights apply too)",
            "choices": LOSSES,
        },
    )
    asl_gamma_neg: float = field(default=4.0, metadata={"help": "Asymmetric loss: focusing exponent on negatives."})
    asl_gamma_pos: float = field(default=0.0, metadata={"help": "Asymmetric loss: focusing exponent on positives."})
    asl_clip: float = field(
        default=0.05, metadata={"help": "Asymmetric loss: probability margin; negatives scored below it cost nothing."}
    )
    pos_weight_strategy: str = field(
        default="frequency",
        metadata={"help": "none | frequency | explicit", "choices": POS_WEIGHT_STRATEGIES},
    )
    pos_weight_values: list[float] | None = field(
        default=None, metadata={"help": "One positive weight per label (with pos_weight_strategy=explicit)."}
    )
    pos_weight_power: float = field(default=0.5, metadata={"help": "Exponent in clip((neg/pos)**power, 1, cap)."})
    pos_weight_cap: float = field(default=10.0, metadata={"help": "Cap in clip((neg/pos)**power, 1, cap)."})
    early_stopping_patience: int = field(
        default=2, metadata={"help": "Evaluations without improvement before stopping; 0 disables."}
    )
    auto_mixed_precision: bool = field(
        default=True,
        metadata={"help": "Train with bf16 autocast on GPUs that support it (unless --fp16/--bf16 is given)."},
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Allow writing into an output_dir that already holds files.", "aliases": ["--overwrite"]},
    )
    pad_to_buckets: list[int] | None = field(
        default=None,
        metadata={
            "help": "Pad every training and evaluation batch to the smallest of these increasing lengths that holds "
            "its longest row (e.g. 16 32 64 128), so shapes repeat for --torch_compile / CUDA graphs; sizes above "
            "--max_length are dropped and --max_length ends the list. Default: pad to the batch's longest row."
        },
    )

    # Defaults that differ from TrainingArguments.
    output_dir: str | None = field(default="runs/goemox", metadata={"help": "Where the model and reports go."})
    learning_rate: float = field(default=5e-5, metadata={"help": "Peak AdamW learning rate."})
    num_train_epochs: float = field(default=5.0, metadata={"help": "Largest number of epochs."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Training batch size per device."})
    per_device_eval_batch_size: int = field(default=128, metadata={"help": "Evaluation batch size per device."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay."})
    warmup_steps: float = field(default=0.1, metadata={"help": "Warm-up steps, or a fraction of all steps if < 1."})
    label_smoothing_factor: float = field(
        default=0.05, metadata={"help": "Binary label smoothing eps: targets become y*(1-eps)+eps/2."}
    )
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to save a checkpoint."})
    logging_strategy: str = field(default="epoch", metadata={"help": "When to log the training loss."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Checkpoints kept (the best is kept too)."})
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Restore the best checkpoint."})
    metric_for_best_model: str | None = field(default="macro_f1", metadata={"help": "Validation metric to select on."})
    greater_is_better: bool | None = field(default=True, metadata={"help": "Whether a larger metric is better."})
    train_sampling_strategy: str = field(
        default="group_by_length",
        metadata={"help": "random | sequential | group_by_length | batch_rebalance"},
    )
    source_temperature: float = field(
        default=1.0,
        metadata={
            "help": "With several --source corpora: draw corpus i with p_i ~ n_i^(1/T). 1 (default) keeps their sizes' "
            "proportions; larger T flattens them so a small corpus is not drowned (rows drawn with replacement)."
        },
    )

    def __post_init__(self):
        self.check_goemox_options()
        if self.auto_mixed_precision and not (self.bf16 or self.fp16 or self.use_cpu) and bf16_available():
            self.bf16 = True
        super().__post_init__()
        if not torch.cuda.is_available():
            self.dataloader_pin_memory = False  # pinned memory only helps copies to a GPU

    def check_goemox_options(self) -> None:
        """One-line :class:`GoEmoXUsageError` naming the option, for values that cannot train a useful model."""
        if self.loss not in LOSSES:
            raise GoEmoXUsageError(f"--loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        for name in ("asl_gamma_neg", "asl_gamma_pos"):
            if not 0 <= getattr(self, name) < math.inf:
                raise GoEmoXUsageError(f"--{name} must be at least 0 and finite, got {getattr(self, name)}")
        if not 0.0 <= self.asl_clip < 1.0:
            raise GoEmoXUsageError(f"--asl_clip must be at least 0 and below 1, got {self.asl_clip}")
        if self.pos_weight_strategy not in POS_WEIGHT_STRATEGIES:
            raise GoEmoXUsageError(
                f"--pos_weight_strategy must be one of {', '.join(POS_WEIGHT_STRATEGIES)}, "
                f"got {self.pos_weight_strategy!r}"
            )
        if self.pos_weight_strategy == "explicit" and not self.pos_weight_values:
            raise GoEmoXUsageError("--pos_weight_strategy explicit needs --pos_weight_values (one weight per label)")
        if self.pos_weight_values and any(w <= 0 for w in self.pos_weight_values):
            raise GoEmoXUsageError(f"--pos_weight_values must all be above 0, got {self.pos_weight_values}")
        if self.pos_weight_cap < 1.0:
            raise GoEmoXUsageError(f"--pos_weight_cap must be at least 1, got {self.pos_weight_cap}")
        if not 0.0 <= self.label_smoothing_factor < 1.0:
            raise GoEmoXUsageError(
                f"--label_smoothing_factor must be at least 0 and below 1, got {self.label_smoothing_factor}"
            )
        if not self.source_temperature > 0:
            raise GoEmoXUsageError(f"--source_temperature must be above 0, got {self.source_temperature}")
        if self.early_stopping_patience < 0:
            raise GoEmoXUsageError(f"--early_stopping_patience must be at least 0, got {self.early_stopping_patience}")
        if not self.learning_rate > 0:
            raise GoEmoXUsageError(f"--learning_rate must be above 0, got {self.learning_rate}")
        if not self.num_train_epochs > 0 and self.max_steps <= 0:
            raise GoEmoXUsageError(
                f"--num_train_epochs must be above 0 (or set --max_steps), got {self.num_train_epochs}"
            )
        buckets = self.pad_to_buckets or []
        if any(size < 1 for size in buckets):
            raise GoEmoXUsageError(f"--pad_to_buckets must all be at least 1, got {buckets}")
        if any(later <= earlier for earlier, later in zip(buckets, buckets[1:])):
            raise GoEmoXUsageError(f"--pad_to_buckets must be strictly increasing, got {buckets}")
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size"):
            if getattr(self, name) < 1:
                raise GoEmoXUsageError(f"--{name} must be at least 1, got {getattr(self, name)}")


def bf16_available() -> bool:
    """Whether a CUDA GPU with bf16 support is present."""
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
