"""Fine-tuning: the options (`ModelArguments`, `DataArguments`, `GoEmoXTrainingArguments`), the loss, the
Trainer and its batching, the model a run starts from, the data set-up that training and search share, the teachers of a
distillation, and the three jobs: `run_training` (`goemox train`), `run_distillation` (`goemox distill`) and
`run_search` (`goemox search`).

Example:

```python
>>> from goemox.training import DataArguments, GoEmoXTrainingArguments, ModelArguments, run_training
>>> metrics = run_training(ModelArguments(), DataArguments(dataset="demo"),
...                        GoEmoXTrainingArguments(output_dir="runs/demo"))  # doctest: +SKIP
```"""

from goemox.lazy_names import lazy_names

__all__ = [
    "BucketPaddingCollator",
    "DataArguments",
    "DistillArguments",
    "DistillationTrainer",
    "GoEmoXTrainer",
    "GoEmoXTrainingArguments",
    "ModelArguments",
    "PRUNERS",
    "SearchArguments",
    "SourceTemperatureSampler",
    "Teacher",
    "asymmetric_loss_with_logits",
    "bucket_lengths",
    "buckets_within_max_length",
    "build_model",
    "frequency_pos_weight",
    "load_data",
    "merge_for_final_training",
    "resolve_teacher",
    "run_distillation",
    "run_search",
    "run_training",
    "several_corpora_setup",
    "smoothed_bce_with_logits",
    "soft_targets",
    "starting_point",
]

_LAZY = {
    "ModelArguments": "goemox.training.arguments",
    "DataArguments": "goemox.training.arguments",
    "GoEmoXTrainingArguments": "goemox.training.training_args",
    "GoEmoXTrainer": "goemox.training.trainer",
    "smoothed_bce_with_logits": "goemox.training.loss",
    "asymmetric_loss_with_logits": "goemox.training.loss",
    "DistillArguments": "goemox.training.distillation",
    "DistillationTrainer": "goemox.training.distillation",
    "run_distillation": "goemox.training.distillation",
    "Teacher": "goemox.training.teachers",
    "resolve_teacher": "goemox.training.teachers",
    "soft_targets": "goemox.training.teachers",
    "frequency_pos_weight": "goemox.training.loss",
    "BucketPaddingCollator": "goemox.training.collator",
    "bucket_lengths": "goemox.training.collator",
    "SourceTemperatureSampler": "goemox.training.sampling",
    "build_model": "goemox.training.adaptation",
    "starting_point": "goemox.training.adaptation",
    "load_data": "goemox.training.data_setup",
    "several_corpora_setup": "goemox.training.data_setup",
    "buckets_within_max_length": "goemox.training.data_setup",
    "merge_for_final_training": "goemox.training.data_setup",
    "run_training": "goemox.training.train",
    "SearchArguments": "goemox.training.search",
    "PRUNERS": "goemox.training.search",
    "run_search": "goemox.training.search",
}


__getattr__ = lazy_names(__name__, _LAZY)
