import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import DataCollatorForTokenClassification

from goemox import GoEmoXForSequenceClassification
from goemox.errors import GoEmoXUsageError
from goemox.training.collator import BucketPaddingCollator, bucket_lengths, padded_length
from goemox.training.trainer import GoEmoXTrainer
from goemox.training.training_args import GoEmoXTrainingArguments

LABELS = ["joy", "anger", "fear"]
TEXTS = [
    "happy",
    "i am so happy",
    "this makes me furious and i am angry at everything that happened today",
    "i am scared of the dark",
    "happy and scared at once, which is strange",
    "meh",
    "furious",
    "so happy so happy so happy so happy so happy so happy so happy",
] * 5
TARGETS = [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 0, 0], [0, 1, 0], [1, 0, 0]] * 5
BUCKETS = [8, 16, 24]


def make_dataset(tokenizer) -> Dataset:
    encoded = tokenizer(TEXTS, truncation=True, max_length=24)
    return Dataset.from_dict(
        {
            "input_ids": encoded["input_ids"],
            "attention_mask": encoded["attention_mask"],
            "labels": [[float(v) for v in row] for row in TARGETS],
            "length": [len(ids) for ids in encoded["input_ids"]],
        }
    )


def short_run(tmp_path, **kwargs) -> GoEmoXTrainingArguments:
    """Three epochs on CPU, no evaluation or checkpoints during training."""
    return GoEmoXTrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=8,
        per_device_eval_batch_size=8,
        learning_rate=3e-3,
        num_train_epochs=3,
        save_strategy="no",
        eval_strategy="no",
        load_best_model_at_end=False,
        early_stopping_patience=0,
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        **kwargs,
    )


def make_trainer(tmp_path, encoder, tokenizer, **kwargs) -> GoEmoXTrainer:
    """A trainer of a dropout-free tiny model, so that runs differ only by how far batches are padded."""
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(
        str(encoder),
        LABELS,
        pooling="mean",
        classifier_dropout=0.0,
        encoder_hidden_dropout=0.0,
        encoder_attention_dropout=0.0,
    )
    dataset = make_dataset(tokenizer)
    return GoEmoXTrainer(
        model=model,
        args=short_run(tmp_path, **kwargs),
        train_dataset=dataset,
        eval_dataset=dataset,
        processing_class=tokenizer,
    )


def test_bucket_lengths_end_with_max_length_and_padded_length_picks_the_smallest_bucket():
    assert bucket_lengths([16, 32, 64, 128], 128) == [16, 32, 64, 128]
    assert bucket_lengths([16, 32, 64, 128], 48) == [16, 32, 48]
    assert bucket_lengths([16, 32], 128) == [16, 32, 128]
    assert [padded_length(n, BUCKETS) for n in (1, 8, 9, 24, 30)] == [8, 8, 16, 24, 30]


def test_collator_pads_each_batch_to_the_smallest_bucket_holding_it(tiny_tokenizer):
    collate = BucketPaddingCollator(tiny_tokenizer, BUCKETS)
    dataset = make_dataset(tiny_tokenizer).remove_columns("length")
    lengths = dataset["input_ids"]
    for start in range(0, 8, 2):
        rows = [dataset[i] for i in range(start, start + 2)]
        batch = collate(rows)
        longest = max(len(lengths[i]) for i in range(start, start + 2))
        width = batch["input_ids"].shape[1]
        assert width in BUCKETS and width >= longest and not any(longest <= b < width for b in BUCKETS)
        assert batch["attention_mask"].sum(dim=1).tolist() == [len(row["input_ids"]) for row in rows]
        assert batch["labels"].dtype == torch.float32 and batch["labels"].shape == (2, 3)
    longer = BucketPaddingCollator(tiny_tokenizer, [4])([dataset[2]])
    assert longer["input_ids"].shape[1] == len(lengths[2])  # no bucket holds it: the longest row


def test_trainer_pads_training_and_evaluation_batches_to_buckets(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    trainer = make_trainer(tmp_path, tiny_encoder_factory("bert"), tiny_tokenizer, pad_to_buckets=BUCKETS)
    assert trainer.args.train_sampling_strategy == "group_by_length"
    widths = {batch["input_ids"].shape[1] for batch in trainer.get_train_dataloader()}
    widths |= {batch["input_ids"].shape[1] for batch in trainer.get_eval_dataloader()}
    assert widths <= set(BUCKETS) and len(widths) > 1


def test_buckets_need_the_default_padding_collator(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    args = short_run(tmp_path, pad_to_buckets=BUCKETS)
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), LABELS)
    with pytest.raises(GoEmoXUsageError, match="^pad_to_buckets replaces the Trainer's DataCollatorWithPadding"):
        GoEmoXTrainer(model=model, args=args, data_collator=DataCollatorForTokenClassification(tiny_tokenizer))


def test_training_with_buckets_matches_training_without(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    """Padding is masked: the same steps give the same model, logits and metrics, up to float rounding."""
    runs = {}
    for name, buckets in (("dynamic", None), ("buckets", BUCKETS)):
        trainer = make_trainer(tmp_path / name, tiny_encoder_factory("bert"), tiny_tokenizer, pad_to_buckets=buckets)
        train_loss = trainer.train().training_loss
        runs[name] = (train_loss, trainer.predict(trainer.eval_dataset))
    (loss, dynamic), (bucketed_loss, bucketed) = runs["dynamic"], runs["buckets"]
    assert bucketed_loss == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(bucketed.predictions, dynamic.predictions, atol=1e-5)
    assert np.abs(dynamic.predictions).max() > 0.1  # the model did move away from zero logits
    for key, value in dynamic.metrics.items():
        if key.endswith(("_runtime", "_per_second")):
            continue
        assert bucketed.metrics[key] == pytest.approx(value, abs=1e-5), key
