"""`GoEmoXTrainer`: the Hugging Face `Trainer` with goemox's multi-label losses, metrics and early stopping."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer
from transformers.trainer_pt_utils import LengthGroupedSampler

from goemox.data.corpora import MASK_COLUMN, SOURCE_COLUMN
from goemox.errors import GoEmoXUsageError
from goemox.evaluation.metrics import make_compute_metrics
from goemox.training.collator import BucketPaddingCollator
from goemox.training.loss import asymmetric_loss_with_logits, frequency_pos_weight, smoothed_bce_with_logits
from goemox.training.sampling import SourceTemperatureSampler
from goemox.training.training_args import GoEmoXTrainingArguments


class GoEmoXTrainer(Trainer):
    """`Trainer` whose loss is label-smoothed, positively weighted BCE-with-logits, or the asymmetric loss.

    On top of the stock `Trainer` it
    - computes the loss with [`smoothed_bce_with_logits`] (`args.loss="bce"`) or [`asymmetric_loss_with_logits`]
      (`args.loss="asymmetric"`, with `args.asl_gamma_neg`, `asl_gamma_pos` and `asl_clip`), both with
      `args.label_smoothing_factor` as `eps` and the positive weights chosen by `args.pos_weight_strategy` from the
      training set's label frequencies,
    - reports multi-label metrics (macro-F1 and friends) at every evaluation unless `compute_metrics` is given,
    - adds `EarlyStoppingCallback(args.early_stopping_patience)` when patience > 0,
    - groups training batches by the precomputed `length` column (no pass over the data to measure lengths), and
      evaluates splits in their own (length-sorted) order,
    - with `args.pad_to_buckets`, pads every training and evaluation batch to one of those lengths
      ([`BucketPaddingCollator`]) instead of its longest row,
    - for several corpora (a `label_mask` column, see :mod:`goemox.data.corpora`), masks the loss of the labels a
      row's corpus does not annotate, counts positive weights over the annotating rows only, and with
      `args.source_temperature` != 1 draws rows by temperature sampling over the `source_id` column,
    - on CUDA, turns off cuDNN's attention kernel, whose per-shape planning costs more than it saves here.

    Positive weights are recomputed whenever the arguments that define them change, so they follow the
    trial parameters of `hyperparameter_search`.

    Example:

    ```python
    >>> trainer = GoEmoXTrainer(model=model, args=GoEmoXTrainingArguments("runs/x"),  # doctest: +SKIP
    ...                         train_dataset=tokenized["train"], eval_dataset=tokenized["validation"],
    ...                         processing_class=tokenizer)
    >>> trainer.train()  # doctest: +SKIP
    ```"""

    args: GoEmoXTrainingArguments

    def __init__(self, *args, **kwargs):
        with warnings.catch_warnings():
            # The stock Trainer warns that its softmax label smoother cannot do multi-label; goemox applies
            # `label_smoothing_factor` in its own binary loss instead.
            warnings.filterwarnings("ignore", message="Label smoothing is not compatible with multi-label")
            super().__init__(*args, **kwargs)
        if not isinstance(self.args, GoEmoXTrainingArguments):
            raise TypeError(f"GoEmoXTrainer needs GoEmoXTrainingArguments, got {type(self.args).__name__}")
        if self.compute_metrics is None:
            label_names = self._label_names()
            if label_names is not None:
                self.compute_metrics = make_compute_metrics(label_names)
        if self.args.pad_to_buckets:
            if type(self.data_collator) is not DataCollatorWithPadding:
                raise GoEmoXUsageError(
                    "pad_to_buckets replaces the Trainer's DataCollatorWithPadding: pass processing_class=tokenizer "
                    "and no data_collator of your own"
                )
            self.data_collator = BucketPaddingCollator(self.data_collator.tokenizer, tuple(self.args.pad_to_buckets))
        if self.args.early_stopping_patience > 0 and self.args.eval_strategy != "no":
            self.add_callback(EarlyStoppingCallback(early_stopping_patience=self.args.early_stopping_patience))
        if torch.cuda.is_available():
            # With a padding mask, cuDNN attention plans every new (batch, length) shape anew (~0.2 s each),
            # which dynamic padding makes frequent; the flash / memory-efficient kernels need no planning.
            torch.backends.cuda.enable_cudnn_sdp(False)
        self._pos_weight_key: tuple | None = None
        self._pos_weight: torch.Tensor | None = None

    def _label_names(self) -> list[str] | None:
        if self.model is None or getattr(self.model.config, "id2label", None) is None:
            return None
        id2label = self.model.config.id2label
        return [id2label[i] for i in range(len(id2label))]

    def positive_weights(self) -> torch.Tensor | None:
        """The per-label positive weights in use (`None` when the strategy is `"none"`)."""
        args = self.args
        values = tuple(args.pos_weight_values or ())
        key = (args.pos_weight_strategy, values, args.pos_weight_power, args.pos_weight_cap)
        if key == self._pos_weight_key:
            return self._pos_weight
        if args.pos_weight_strategy == "none":
            weight = None
        elif args.pos_weight_strategy == "explicit":
            weight = torch.tensor(values, dtype=torch.float32)
        else:
            if self.train_dataset is None or "labels" not in self.train_dataset.column_names:
                raise GoEmoXUsageError("pos_weight_strategy='frequency' needs a train_dataset with a 'labels' column")
            columns = self.train_dataset.with_format("numpy")
            labels = np.asarray(columns["labels"], dtype=np.float32)
            mask = (
                np.asarray(columns[MASK_COLUMN], dtype=np.float32)
                if MASK_COLUMN in self.train_dataset.column_names
                else None
            )
            weight = torch.tensor(
                frequency_pos_weight(labels, args.pos_weight_power, args.pos_weight_cap, mask), dtype=torch.float32
            )
        self._pos_weight_key, self._pos_weight = key, weight
        return weight

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ):
        """The loss of `args.loss` on the model's logits (masked to the annotated labels when the batch has a
        `label_mask`), see :meth:`label_loss`.

        The loss is a mean over (example, label) pairs, so `num_items_in_batch` (a token count meant for
        language-model losses) is not used.
        """
        labels = inputs.pop("labels")
        mask = inputs.pop(MASK_COLUMN, None)
        inputs.pop(SOURCE_COLUMN, None)
        outputs = model(**inputs)
        loss = self.label_loss(outputs.logits, labels, mask)
        return (loss, outputs) if return_outputs else loss

    def label_loss(self, logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """The loss `args.loss` names against the gold labels, with the run's smoothing and positive weights.

        Args:
            logits: the model's raw scores, shape (batch, num_labels).
            labels: 0/1 labels, same shape.
            mask: 0/1 matrix of the annotated pairs (`None`: every pair).

        Raises:
            GoEmoXUsageError: explicit positive weights whose count is not the number of labels.
        """
        args = self.args
        weight = self.positive_weights()
        if weight is not None and weight.numel() != labels.shape[-1]:
            raise GoEmoXUsageError(f"{weight.numel()} positive weights for {labels.shape[-1]} labels")
        if args.loss == "asymmetric":
            return asymmetric_loss_with_logits(
                logits,
                labels,
                args.asl_gamma_neg,
                args.asl_gamma_pos,
                args.asl_clip,
                args.label_smoothing_factor,
                weight,
                mask,
            )
        return smoothed_bce_with_logits(logits, labels, args.label_smoothing_factor, weight, mask)

    def _report_to_hp_search(self, trial, step: int, metrics: dict[str, float]) -> None:
        """Report to Optuna per epoch (not per step, which depends on the batch size) the best value so far.

        Trials with different batch sizes then compare at the same epoch in the pruner, and a trial's objective
        is its best epoch, not its last one (early stopping ends a trial after `patience` worse epochs).
        """
        if self.hp_search_backend is None or trial is None or not hasattr(trial, "report"):
            return super()._report_to_hp_search(trial, step, metrics)
        import optuna

        value = self.compute_objective(metrics.copy())
        self.objective = value if self.objective is None else max(self.objective, value)
        trial.report(self.objective, int(round(self.state.epoch or 0)))
        if trial.should_prune():
            self.callback_handler.on_train_end(self.args, self.state, self.control)
            raise optuna.TrialPruned()

    def _get_eval_sampler(self, eval_dataset) -> torch.utils.data.Sampler | None:
        """Evaluation in the split's own order (goemox sorts evaluation splits by length, so batches carry little
        padding); the stock Trainer would regroup them at random under `group_by_length`, and per-row columns such
        as `source_id` would no longer line up with the predictions."""
        if eval_dataset is None or self.args.world_size > 1:
            return super()._get_eval_sampler(eval_dataset) if eval_dataset is not None else None
        return torch.utils.data.SequentialSampler(eval_dataset)

    def _get_train_sampler(self, train_dataset=None) -> torch.utils.data.Sampler | None:
        dataset = self.train_dataset
        columns = getattr(dataset, "column_names", ())
        if self.args.source_temperature != 1.0 and SOURCE_COLUMN in columns:
            grouped = self.args.train_sampling_strategy == "group_by_length" and "length" in columns
            return SourceTemperatureSampler(
                dataset[SOURCE_COLUMN],
                self.args.source_temperature,
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                lengths=dataset["length"] if grouped else None,
                seed=self.args.seed,
            )
        if (
            self.args.train_sampling_strategy == "group_by_length"
            and dataset is not None
            and "length" in getattr(dataset, "column_names", ())
            and (train_dataset is None or len(train_dataset) == len(dataset))
        ):
            return LengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                dataset=train_dataset if train_dataset is not None else dataset,
                lengths=dataset["length"],
            )
        return super()._get_train_sampler(train_dataset)
