"""`goemox distill`: a student learns from one or several teachers' soft targets mixed with the gold labels.

The job is `goemox train`'s (:func:`goemox.training.train.run_training`: the same data options, checkpoint selection,
thresholds, calibration, out-of-domain cutoff and outputs) with a :class:`Distillation` extension that

- scores the training texts, and optionally unlabelled texts of the domain to serve (`--unlabelled_file`), with every
  teacher once before training (logits cached on disk by content, see :mod:`goemox.training.teachers`);
- adds the unlabelled texts to the training rows with a label mask of zeros, so that only the soft part of the loss
  sees them;
- trains with :class:`DistillationTrainer`, whose loss is
  `alpha * T^2 * BCE(sigmoid(student / T), soft) + (1 - alpha) * gold loss`, the soft targets being the mean of the
  teachers' `sigmoid(logits / T)` and the gold loss `goemox train`'s (`--loss`, smoothing, positive weights) over the
  annotated (row, label) pairs;
- records the teachers and the data in `metrics.json` (`distillation`), `run_config.json` and the model card.

Example:

```python
>>> from goemox.training.distillation import DistillArguments, run_distillation
>>> metrics = run_distillation(ModelArguments("../shared/models/all-MiniLM-L6-v2", pooling="mean"),
...                            DataArguments(dataset="../shared/data/goemotions", max_length=64),
...                            GoEmoXTrainingArguments("runs/student"),
...                            DistillArguments(teachers=["runs/teacher-a", "runs/teacher-b"]))  # doctest: +SKIP
```"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import torch
from datasets import Dataset, DatasetDict, concatenate_datasets

from goemox.data import tokenize_dataset
from goemox.data.corpora import MASK_COLUMN, SOURCE_COLUMN
from goemox.data.domains import TextLoader, parse_text_source, sample_texts
from goemox.errors import GoEmoXError, GoEmoXUsageError
from goemox.labels import LabelScheme, get_label_scheme
from goemox.training.arguments import DataArguments, ModelArguments, run_inputs
from goemox.training.loss import distillation_bce_with_logits
from goemox.training.teachers import Teacher, check_teacher_labels, default_cache_dir, resolve_teacher, soft_targets
from goemox.training.train import RunData, check_output_dir, run_training
from goemox.training.trainer import GoEmoXTrainer
from goemox.training.training_args import GoEmoXTrainingArguments

logger = logging.getLogger(__name__)

SOFT_TARGETS_COLUMN = "soft_targets"
"""The training rows' column of the teachers' soft targets (one value per label)."""

TEACHERS_HELP = """The teachers (one or more, space-separated): goemox run folders, native exports of them
(`goemox export hub`), or Hub ids (OWNER/NAME[@REVISION]); every one must predict the run's labels."""


@dataclass
class DistillArguments:
    """The options `goemox distill` adds to `goemox train`'s.

    Args:
        teachers: the teacher models (folders or Hub ids, each with the run's labels).
        unlabelled_file: texts without labels to distil on as well (TXT, CSV/TSV/JSONL with a `text` column or
            `FILE:COLUMN`, or `DATASET:SPLIT`); texts also found in a labelled split, and repeats, are left out.
        max_unlabelled_samples: a seeded random subset of the unlabelled texts (`--split_seed`).
        distill_alpha: the weight of the soft part of the loss; `1 - alpha` weighs the gold labels.
        distill_temperature: `T`: soft targets are `sigmoid(teacher logits / T)` and the student is compared at `T`
            too (1: the teachers' probabilities).
        teacher_cache_dir: where teachers' logits are cached (default: `$GOEMOX_CACHE/teacher_logits`, else
            `~/.cache/goemox/teacher_logits`).
    """

    teachers: list[str] | None = field(default=None, metadata={"help": TEACHERS_HELP})
    unlabelled_file: str | None = field(
        default=None,
        metadata={
            "help": "Texts without labels to distil on too, e.g. texts of the domain you will serve: TXT (one per "
            "line), CSV/TSV/JSONL with a text column (FILE:COLUMN names another), or DATASET:SPLIT. Texts found in "
            "a labelled split, and repeats, are left out."
        },
    )
    max_unlabelled_samples: int | None = field(
        default=None, metadata={"help": "Use a seeded random subset of the unlabelled texts (--split_seed)."}
    )
    distill_alpha: float = field(
        default=0.5,
        metadata={"help": "Weight of the teachers' soft targets in the loss; 1 - alpha weighs the gold labels."},
    )
    distill_temperature: float = field(
        default=1.0,
        metadata={"help": "T: soft targets are sigmoid(teacher logits / T), the student compared at T too; 1 uses "
                  "the teachers' probabilities."},
    )  # fmt: skip
    teacher_cache_dir: str | None = field(
        default=None,
        metadata={"help": "Where teachers' logits are cached (default $GOEMOX_CACHE/teacher_logits, else "
                  "~/.cache/goemox/teacher_logits); a teacher scores the same texts once."},
    )  # fmt: skip

    def __post_init__(self) -> None:
        if not self.teachers:
            raise GoEmoXUsageError(
                "--teachers: expected at least one teacher (a goemox run folder, a native export or a Hub id)"
            )
        if not 0.0 <= self.distill_alpha <= 1.0:
            raise GoEmoXUsageError(f"--distill_alpha must be between 0 and 1, got {self.distill_alpha}")
        if not 0 < self.distill_temperature < math.inf:
            raise GoEmoXUsageError(f"--distill_temperature must be above 0 and finite, got {self.distill_temperature}")
        if self.max_unlabelled_samples is not None and self.max_unlabelled_samples < 1:
            raise GoEmoXUsageError(f"--max_unlabelled_samples must be at least 1, got {self.max_unlabelled_samples}")
        if self.max_unlabelled_samples is not None and not self.unlabelled_file:
            raise GoEmoXUsageError("--max_unlabelled_samples needs --unlabelled_file")

    def cache_dir(self) -> Path:
        """The folder of the teachers' cached logits."""
        return Path(self.teacher_cache_dir).expanduser() if self.teacher_cache_dir else default_cache_dir()


def read_unlabelled_texts(spec: str) -> list[str]:
    """The texts of `--unlabelled_file`, in file order.

    Args:
        spec: a TXT / CSV / TSV / JSONL file (`FILE:COLUMN` for a column other than `text`) or `DATASET:SPLIT`.

    Raises:
        GoEmoXUsageError: in one line, for a missing or unreadable file and for a file without texts.

    Example:

    ```python
    >>> read_unlabelled_texts("../shared/data/carer/train.tsv")[:1]  # doctest: +SKIP
    ['i didnt feel humiliated']
    ```"""
    try:
        texts = TextLoader().texts(parse_text_source(spec))
    except GoEmoXError as err:
        raise GoEmoXUsageError(f"--unlabelled_file {err}") from None
    if not texts:
        raise GoEmoXUsageError(
            f"--unlabelled_file {spec}: no texts (an empty file, or a header only); expected at least one text"
        )
    return texts


class DistillationTrainer(GoEmoXTrainer):
    """`GoEmoXTrainer` whose training rows carry the teachers' soft targets (`soft_targets` column).

    A training batch's loss is `alpha * distillation_bce_with_logits(logits, soft, T) + (1 - alpha) * gold`, with
    `gold` the loss of `goemox train` ([`GoEmoXTrainer.label_loss`]: `--loss`, smoothing, positive weights) over the
    annotated pairs of the batch (`label_mask`; unlabelled rows have none). Batches without soft targets (evaluation)
    get the gold loss alone.

    Args:
        distill_alpha: the weight of the soft part, in [0, 1].
        distill_temperature: `T`, above 0.
        *args: as for [`GoEmoXTrainer`].
        **kwargs: as for [`GoEmoXTrainer`].

    Example:

    ```python
    >>> trainer = DistillationTrainer(model=model, args=args, train_dataset=train,  # doctest: +SKIP
    ...                               processing_class=tokenizer, distill_alpha=0.5, distill_temperature=2.0)
    ```"""

    def __init__(self, *args, distill_alpha: float = 0.5, distill_temperature: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.distill_alpha = distill_alpha
        self.distill_temperature = distill_temperature

    def _set_signature_columns_if_needed(self) -> None:
        """Keep the soft targets and the label mask, which the model's forward does not take, in the batches."""
        super()._set_signature_columns_if_needed()
        for column in (SOFT_TARGETS_COLUMN, MASK_COLUMN):
            if column not in self._signature_columns:
                self._signature_columns.append(column)

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ):
        """The mixed loss of a batch with soft targets; `GoEmoXTrainer`'s loss of one without."""
        soft = inputs.pop(SOFT_TARGETS_COLUMN, None)
        if soft is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.pop("labels")
        mask = inputs.pop(MASK_COLUMN, None)
        inputs.pop(SOURCE_COLUMN, None)
        outputs = model(**inputs)
        alpha = self.distill_alpha
        loss = alpha * distillation_bce_with_logits(outputs.logits, soft, self.distill_temperature)
        if alpha < 1.0:
            loss = loss + (1.0 - alpha) * self.label_loss(outputs.logits, labels, mask)
        return (loss, outputs) if return_outputs else loss


@dataclass
class Distillation:
    """What `goemox distill` adds to the training job (a `RunExtension` of :func:`run_training`).

    Attributes:
        options: the distillation options.
        teachers: the teachers, checked.
        max_length: the tokens the student and the teachers read of a text (`--max_length`).
        split_seed: the seed of the unlabelled subset (`--split_seed`).
        unlabelled: the texts of `--unlabelled_file` (`None` without one).
        summary: what `record` returns, filled in by `prepare`.
    """

    options: DistillArguments
    teachers: list[Teacher]
    max_length: int
    split_seed: int = 0
    unlabelled: list[str] | None = None
    summary: dict = field(default_factory=dict)
    name: ClassVar[str] = "distillation"

    def prepare(self, data: RunData, scheme: LabelScheme) -> RunData:
        """Add the unlabelled rows and every training row's soft targets to the tokenized train split.

        The teachers run in the main process of each machine first (the others then read the cache). Unlabelled rows
        get all-zero labels and label mask (and, with several corpora, a `source_id` of their own).
        """
        args = data.training_args
        raw_train, train = data.raw["train"], data.tokenized["train"]
        labels = list(scheme.labels)
        if MASK_COLUMN not in train.column_names:
            train = train.add_column(MASK_COLUMN, [[1.0] * len(labels)] * len(train), feature=train.features["labels"])
        extra, unlabelled_record = self.unlabelled_rows(data)
        texts = list(raw_train["text"]) + extra
        with args.main_process_first(local=True, desc="teacher scores"):
            targets, teachers = soft_targets(
                self.teachers,
                texts,
                labels,
                self.max_length,
                self.options.distill_temperature,
                self.options.cache_dir(),
                args.per_device_eval_batch_size,
                str(args.device),
            )
        if extra:
            unlabelled = DatasetDict({"unlabelled": Dataset.from_dict({"text": extra})})
            rows = tokenize_dataset(unlabelled, data.tokenizer, self.max_length)["unlabelled"]
            zeros = [[0.0] * len(labels)] * len(rows)
            rows = rows.add_column("labels", zeros).add_column(MASK_COLUMN, zeros)
            if SOURCE_COLUMN in train.column_names:
                rows = rows.add_column(SOURCE_COLUMN, [len(data.sources or [])] * len(rows))
            train = concatenate_datasets([train, rows.cast(train.features)])
        train = train.add_column(SOFT_TARGETS_COLUMN, targets.tolist(), feature=train.features["labels"])
        self.summary = {
            "teachers": teachers,
            "soft_targets": f"mean over {len(teachers)} teacher(s) of sigmoid(logits / T)",
            "alpha": self.options.distill_alpha,
            "temperature": self.options.distill_temperature,
            "loss": f"alpha * T^2 * BCE(sigmoid(student / T), soft targets) + (1 - alpha) * {args.loss} loss on the "
            "annotated (row, label) pairs",
            "max_length": self.max_length,
            "rows": {"labelled": len(raw_train), "unlabelled": len(extra)},
            "unlabelled": unlabelled_record,
        }
        logger.info(
            "Distilling from %d teacher(s) on %d labelled and %d unlabelled texts",
            len(teachers),
            len(raw_train),
            len(extra),
        )
        return replace(data, tokenized=DatasetDict({**data.tokenized, "train": train}))

    def unlabelled_rows(self, data: RunData) -> tuple[list[str], dict | None]:
        """The unlabelled texts to train on: each once, none that a labelled split holds, a seeded subset when
        `--max_unlabelled_samples` asks; and what was left out."""
        if self.unlabelled is None:
            return [], None
        labelled = {text for split in data.raw.values() for text in split["text"]}
        unique = list(dict.fromkeys(self.unlabelled))
        kept = [text for text in unique if text not in labelled]
        chosen = sample_texts(kept, self.options.max_unlabelled_samples, self.split_seed)
        if not chosen:
            logger.warning("--unlabelled_file %s: every text is also in a labelled split", self.options.unlabelled_file)
        record = {
            "source": self.options.unlabelled_file,
            "texts": len(self.unlabelled),
            "repeats_left_out": len(self.unlabelled) - len(unique),
            "in_labelled_splits_left_out": len(unique) - len(kept),
            "used": len(chosen),
        }
        return chosen, record

    def make_trainer(self, **kwargs) -> DistillationTrainer:
        """The run's Trainer, with the distillation loss."""
        return DistillationTrainer(
            distill_alpha=self.options.distill_alpha, distill_temperature=self.options.distill_temperature, **kwargs
        )

    def record(self) -> dict:
        """`metrics.json`'s `distillation`: the teachers (content fingerprint, Hub revision, whether their logits came
        from the cache), the loss's settings and the data the student learnt from."""
        return self.summary

    def recorded_options(self) -> dict:
        """`run_config.json`'s `distillation`: the options as given."""
        return asdict(self.options)


def run_distillation(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: GoEmoXTrainingArguments,
    distill_args: DistillArguments,
    callbacks: list | None = None,
    search_summary: dict | None = None,
) -> dict:
    """Distil the teachers into a student and save it as `goemox train` saves a model; returns `metrics.json`.

    The teachers and the unlabelled file are checked before any data is loaded or model built.

    Args:
        model_args: the student (any encoder `goemox train` takes, or a trained model to continue from).
        data_args: the labelled data, as for `goemox train`.
        training_args: as for `goemox train`.
        distill_args: the teachers, the unlabelled texts and the loss's settings.
        callbacks: extra `TrainerCallback`s.
        search_summary: the `best_params.json` the options came from, for the model card.

    Raises:
        GoEmoXUsageError: in one line, for a teacher that is missing or not a multi-label classifier, teachers whose
            labels are not the run's, and an unlabelled file without texts.

    Example:

    ```python
    >>> run_distillation(ModelArguments("../shared/models/all-MiniLM-L6-v2"),  # doctest: +SKIP
    ...                  DataArguments(dataset="demo"), GoEmoXTrainingArguments("runs/student"),
    ...                  DistillArguments(teachers=["runs/demo"]))
    ```"""
    inputs = [*run_inputs(model_args, data_args), *distill_args.teachers, distill_args.unlabelled_file]
    check_output_dir(training_args, inputs)  # before a teacher is fetched or scored
    scheme = get_label_scheme(data_args.resolved_scheme())
    teachers = [resolve_teacher(source) for source in distill_args.teachers]
    check_teacher_labels(teachers, scheme.labels)
    unlabelled = read_unlabelled_texts(distill_args.unlabelled_file) if distill_args.unlabelled_file else None
    extension = Distillation(distill_args, teachers, data_args.max_length, data_args.split_seed, unlabelled)
    return run_training(model_args, data_args, training_args, callbacks, search_summary, extension=extension)
