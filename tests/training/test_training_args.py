import math

import pytest
from transformers import HfArgumentParser

from goemox.errors import GoEmoXUsageError
from goemox.training.training_args import GoEmoXTrainingArguments


def test_defaults_for_multilabel_training(tmp_path):
    args = GoEmoXTrainingArguments(output_dir=str(tmp_path))
    assert args.metric_for_best_model == "macro_f1"
    assert args.greater_is_better is True
    assert args.load_best_model_at_end is True
    assert str(args.eval_strategy.value if hasattr(args.eval_strategy, "value") else args.eval_strategy) == "epoch"
    assert args.label_smoothing_factor == 0.05
    assert args.pos_weight_strategy == "frequency"
    assert args.train_sampling_strategy == "group_by_length"
    assert args.warmup_steps == pytest.approx(0.1)
    assert args.pad_to_buckets is None


def test_parsed_from_command_line_flags(tmp_path):
    (args,) = HfArgumentParser(GoEmoXTrainingArguments).parse_args_into_dataclasses(
        [
            "--output_dir",
            str(tmp_path),
            "--pos_weight_strategy",
            "explicit",
            "--pos_weight_values",
            "1",
            "2.5",
            "--pad_to_buckets",
            "16",
            "32",
            "64",
            "--report_to",
            "none",
        ]
    )
    assert args.pos_weight_values == [1.0, 2.5]
    assert args.pad_to_buckets == [16, 32, 64]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pos_weight_strategy": "inverse"}, "--pos_weight_strategy must be one of"),
        ({"pos_weight_strategy": "explicit"}, "--pos_weight_strategy explicit needs --pos_weight_values"),
        ({"pos_weight_strategy": "explicit", "pos_weight_values": [1.0, -1.0]}, "--pos_weight_values must all be"),
        ({"pos_weight_cap": 0.5}, "--pos_weight_cap must be at least 1"),
        ({"label_smoothing_factor": 1.5}, "--label_smoothing_factor must be at least 0 and below 1"),
        ({"label_smoothing_factor": 1.0}, "--label_smoothing_factor must be at least 0 and below 1"),
        ({"early_stopping_patience": -1}, "--early_stopping_patience must be at least 0"),
        ({"learning_rate": 0.0}, "--learning_rate must be above 0"),
        ({"learning_rate": -1e-4}, "--learning_rate must be above 0"),
        ({"num_train_epochs": 0}, "--num_train_epochs must be above 0"),
        ({"per_device_train_batch_size": 0}, "--per_device_train_batch_size must be at least 1"),
        ({"per_device_eval_batch_size": 0}, "--per_device_eval_batch_size must be at least 1"),
        ({"pad_to_buckets": [0, 16]}, r"--pad_to_buckets must all be at least 1, got \[0, 16\]"),
        ({"pad_to_buckets": [32, 16]}, r"--pad_to_buckets must be strictly increasing, got \[32, 16\]"),
        ({"pad_to_buckets": [16, 16]}, "--pad_to_buckets must be strictly increasing"),
        ({"loss": "focal"}, "--loss must be one of bce, asymmetric, got 'focal'"),
        ({"asl_gamma_neg": -1.0}, "--asl_gamma_neg must be at least 0 and finite, got -1.0"),
        ({"asl_gamma_neg": math.nan}, "--asl_gamma_neg must be at least 0 and finite, got nan"),
        ({"asl_gamma_pos": -0.5}, "--asl_gamma_pos must be at least 0 and finite, got -0.5"),
        ({"asl_clip": 1.0}, "--asl_clip must be at least 0 and below 1, got 1.0"),
    ],
)
def test_invalid_options_are_one_line_usage_errors_naming_the_option(tmp_path, kwargs, message):
    with pytest.raises(GoEmoXUsageError, match=f"^{message}") as caught:
        GoEmoXTrainingArguments(output_dir=str(tmp_path), **kwargs)
    assert "\n" not in str(caught.value)


def test_zero_epochs_are_fine_with_max_steps(tmp_path):
    args = GoEmoXTrainingArguments(output_dir=str(tmp_path), num_train_epochs=0, max_steps=3, report_to="none")
    assert args.max_steps == 3
