import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import EarlyStoppingCallback
from transformers.trainer_pt_utils import LengthGroupedSampler

from goemox import GoEmoXForSequenceClassification
from goemox.training.loss import asymmetric_loss_with_logits, frequency_pos_weight, smoothed_bce_with_logits
from goemox.training.trainer import GoEmoXTrainer
from goemox.training.training_args import GoEmoXTrainingArguments

LABELS = ["joy", "anger", "fear"]
TEXTS = ["i am so happy", "this makes me furious", "i am scared of the dark", "happy and scared", "meh"] * 8
TARGETS = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 0, 0]] * 8


def make_dataset(tokenizer) -> Dataset:
    encoded = tokenizer(TEXTS, truncation=True)
    return Dataset.from_dict(
        {
            "input_ids": encoded["input_ids"],
            "attention_mask": encoded["attention_mask"],
            "labels": [[float(v) for v in row] for row in TARGETS],
            "length": [len(ids) for ids in encoded["input_ids"]],
        }
    )


def make_trainer(tmp_path, tiny_encoder_factory, tiny_tokenizer, **kwargs) -> GoEmoXTrainer:
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("distilbert")), LABELS)
    dataset = make_dataset(tiny_tokenizer)
    defaults = {"output_dir": str(tmp_path), "per_device_train_batch_size": 8, "report_to": "none", "use_cpu": True}
    args = GoEmoXTrainingArguments(**{**defaults, **kwargs})
    return GoEmoXTrainer(
        model=model, args=args, train_dataset=dataset, eval_dataset=dataset, processing_class=tiny_tokenizer
    )


def test_loss_is_smoothed_weighted_bce(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    trainer = make_trainer(tmp_path, tiny_encoder_factory, tiny_tokenizer, label_smoothing_factor=0.1)
    expected_weight = frequency_pos_weight(np.array(TARGETS, dtype=float))
    assert trainer.positive_weights().numpy() == pytest.approx(expected_weight)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(5)])
    trainer.model.eval()
    loss, outputs = trainer.compute_loss(trainer.model, dict(batch), return_outputs=True)
    reference = smoothed_bce_with_logits(
        outputs.logits, batch["labels"], 0.1, torch.tensor(expected_weight, dtype=torch.float32)
    )
    assert loss.item() == pytest.approx(reference.item(), rel=1e-6)


def test_asymmetric_loss_option_uses_its_settings_and_the_positive_weights(
    tmp_path, tiny_encoder_factory, tiny_tokenizer
):
    trainer = make_trainer(
        tmp_path, tiny_encoder_factory, tiny_tokenizer, loss="asymmetric", asl_gamma_neg=3.0, asl_clip=0.1
    )
    weight = torch.tensor(frequency_pos_weight(np.array(TARGETS, dtype=float)), dtype=torch.float32)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(5)])
    trainer.model.eval()
    loss, outputs = trainer.compute_loss(trainer.model, dict(batch), return_outputs=True)
    reference = asymmetric_loss_with_logits(outputs.logits, batch["labels"], 3.0, 0.0, 0.1, 0.05, weight)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-6)
    trainer.args.loss = "bce"  # a search trial switches the loss on the same trainer
    bce = smoothed_bce_with_logits(outputs.logits, batch["labels"], 0.05, weight)
    assert trainer.label_loss(outputs.logits, batch["labels"], None).item() == pytest.approx(bce.item(), rel=1e-6)


def test_positive_weight_strategies_follow_argument_changes(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    trainer = make_trainer(tmp_path, tiny_encoder_factory, tiny_tokenizer, pos_weight_strategy="none")
    assert trainer.positive_weights() is None
    trainer.args.pos_weight_strategy = "explicit"
    trainer.args.pos_weight_values = [1.0, 2.0, 3.0]
    assert trainer.positive_weights().tolist() == [1.0, 2.0, 3.0]
    trainer.args.pos_weight_strategy = "frequency"
    trainer.args.pos_weight_power = 1.0
    assert trainer.positive_weights().numpy() == pytest.approx(
        frequency_pos_weight(np.array(TARGETS, dtype=float), power=1.0)
    )


def test_explicit_weights_of_the_wrong_length_are_reported(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    trainer = make_trainer(
        tmp_path, tiny_encoder_factory, tiny_tokenizer, pos_weight_strategy="explicit", pos_weight_values=[1.0, 2.0]
    )
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    with pytest.raises(ValueError, match="2 positive weights for 3 labels"):
        trainer.compute_loss(trainer.model, dict(batch))


def test_early_stopping_sampler_and_metrics_are_wired(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    trainer = make_trainer(tmp_path, tiny_encoder_factory, tiny_tokenizer)
    assert any(isinstance(cb, EarlyStoppingCallback) for cb in trainer.callback_handler.callbacks)
    sampler = trainer._get_train_sampler()
    assert isinstance(sampler, LengthGroupedSampler)
    assert sampler.lengths == trainer.train_dataset["length"]
    without = make_trainer(tmp_path, tiny_encoder_factory, tiny_tokenizer, early_stopping_patience=0)
    assert not any(isinstance(cb, EarlyStoppingCallback) for cb in without.callback_handler.callbacks)


def test_training_learns_and_reports_macro_f1(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    trainer = make_trainer(
        tmp_path,
        tiny_encoder_factory,
        tiny_tokenizer,
        learning_rate=3e-3,
        num_train_epochs=30,
        save_strategy="no",
        load_best_model_at_end=False,
        early_stopping_patience=0,
    )
    before = trainer.evaluate()
    trainer.train()
    after = trainer.evaluate()
    for key in ("eval_macro_f1", "eval_micro_f1", "eval_roc_auc_macro", "eval_hamming_score", "eval_macro_f1_tuned"):
        assert key in after
    assert after["eval_loss"] < before["eval_loss"]
    assert after["eval_macro_f1"] > 0.75
