"""What train, search and the benchmarks set up alike: the splits, padding buckets and the final-training merge."""

import re

import pytest
from datasets import Dataset, DatasetDict

from goemox.errors import DataError, GoEmoXUsageError
from goemox.labels import get_label_scheme
from goemox.training import DataArguments, GoEmoXTrainingArguments
from goemox.training.data_setup import (
    buckets_within_max_length,
    load_data,
    merge_for_final_training,
    several_corpora_setup,
    sources_compute_metrics,
)

TEN = get_label_scheme("ten")


def rows(name: str, count: int) -> Dataset:
    return Dataset.from_dict({"text": [f"{name} {i}" for i in range(count)], "labels": [[0.0] * 10] * count})


def test_the_demo_splits_are_loaded_with_seeded_subsets_and_no_corpora_setup(tmp_path):
    data_args = DataArguments(dataset="demo", max_train_samples=20, max_eval_samples=7, split_seed=3)
    splits, report = load_data(data_args, TEN)
    assert {name: len(split) for name, split in splits.items()} == {"train": 20, "validation": 7, "test": 7}
    assert load_data(data_args, TEN)[0]["train"]["text"] == splits["train"]["text"]  # the same seeded subset
    assert report.num_rows["train"] > 20  # what was read, before the subset
    args = GoEmoXTrainingArguments(output_dir=str(tmp_path))
    assert several_corpora_setup(data_args, args, splits, TEN) == (None, args)
    assert sources_compute_metrics(None, TEN) is None


def test_a_split_without_rows_is_refused_before_any_training(tmp_path):
    (tmp_path / "train.tsv").write_text("text\tlabels\nso happy\tjoy\n", encoding="utf-8")
    (tmp_path / "validation.tsv").write_text("text\tlabels\n", encoding="utf-8")
    data_args = DataArguments(
        train_file=str(tmp_path / "train.tsv"), validation_file=str(tmp_path / "validation.tsv"), test_size=0
    )
    with pytest.raises(DataError, match="the validation split has 0 labelled rows"):
        load_data(data_args, TEN)


def test_buckets_are_fitted_to_the_longest_input(tmp_path):
    args = GoEmoXTrainingArguments(output_dir=str(tmp_path), pad_to_buckets=[16, 32, 64, 128])
    assert buckets_within_max_length(args, DataArguments(max_length=48)).pad_to_buckets == [16, 32, 48]
    plain = GoEmoXTrainingArguments(output_dir=str(tmp_path))
    assert buckets_within_max_length(plain, DataArguments(max_length=48)) is plain


def test_a_final_training_run_merges_the_named_splits_and_trains_a_fixed_number_of_epochs(tmp_path):
    raw = DatasetDict({"train": rows("t", 4), "validation": rows("v", 2), "test": rows("x", 3)})
    args = GoEmoXTrainingArguments(output_dir=str(tmp_path), eval_strategy="epoch", save_strategy="epoch")
    merged, fixed = merge_for_final_training(raw, "train+validation", args)
    assert {name: len(split) for name, split in merged.items()} == {"train": 6, "test": 3}
    assert fixed.eval_strategy == "no" and not fixed.load_best_model_at_end and fixed.metric_for_best_model is None
    merged, _ = merge_for_final_training(raw, "train+validation+test", args)
    assert list(merged) == ["train"] and len(merged["train"]) == 9
    for wrong in ("validation", "train+dev"):
        with pytest.raises(GoEmoXUsageError, match=re.escape(f"--train_on {wrong}: expected train, train+validation")):
            merge_for_final_training(raw, wrong, args)
