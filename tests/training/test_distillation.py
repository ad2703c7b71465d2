"""Distillation with tiny models: a student learns its teacher's labels, the teachers' logits are computed once and
cached, the teachers' label orders are aligned, runs resume, and bad input stops in one line."""

import json
import math
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from conftest import KEYWORDS, keyword_sentence, tiny_encoder_config
from transformers import BertConfig, BertForSequenceClassification

import goemox.training.trainer
from goemox import GoEmoXForSequenceClassification
from goemox.errors import GoEmoXUsageError
from goemox.inference.classifier import EmotionClassifier
from goemox.scores import sigmoid
from goemox.training.arguments import DataArguments, ModelArguments
from goemox.training.distillation import (
    SOFT_TARGETS_COLUMN,
    DistillArguments,
    DistillationTrainer,
    read_unlabelled_texts,
    run_distillation,
)
from goemox.training.teachers import (
    check_teacher_labels,
    fingerprint_files,
    resolve_teacher,
    soft_targets,
    teacher_logits,
)
from goemox.training.training_args import GoEmoXTrainingArguments

LABELS = list(KEYWORDS)  # anger, joy: the labels of the `keyword_model` teacher
TRAIN_ROWS, UNLABELLED_ROWS, REPEATS, FROM_VALIDATION = 60, 200, 5, 3


def keyword_rows(words: list[str], count: int, seed: int) -> list[tuple[str, str]]:
    """`count` short sentences with their labels: `furious` marks anger, `delighted` joy (each in half the rows)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        chosen = {label for label in LABELS if rng.random() < 0.5}
        rows.append((keyword_sentence(rng, words, chosen, int(rng.integers(2, 6))), ",".join(sorted(chosen))))
    return rows


@pytest.fixture(scope="module")
def keyword_data(tmp_path_factory, tiny_tokenizer) -> dict[str, str]:
    """Splits of keyword sentences whose training rows carry no label at all (the gold says nothing, so whatever a
    student learns comes from its teacher), validation and test rows with their true labels, and an unlabelled file
    with repeats and validation texts among its texts."""
    folder = tmp_path_factory.mktemp("keyword-data")
    vocab = tiny_tokenizer.get_vocab()
    words = sorted(w for w in vocab if w.isalpha() and w not in KEYWORDS.values() and len(w) > 2)
    (folder / "scheme.json").write_text(json.dumps({"name": "keywords", "labels": LABELS}), encoding="utf-8")
    splits = {"train": keyword_rows(words, TRAIN_ROWS, 1), "validation": keyword_rows(words, 40, 2)}
    splits["test"] = keyword_rows(words, 60, 3)
    files = {"scheme": str(folder / "scheme.json")}
    for name, rows in splits.items():
        cells = [(text, "" if name == "train" else labels) for text, labels in rows]
        files[name] = str(folder / f"{name}.tsv")
        (folder / f"{name}.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in cells))
    unlabelled = [text for text, _ in keyword_rows(words, UNLABELLED_ROWS, 4)]
    extra = unlabelled[:REPEATS] + [text for text, _ in splits["validation"][:FROM_VALIDATION]]
    files["unlabelled"] = str(folder / "unlabelled.txt")
    (folder / "unlabelled.txt").write_text("\n".join(unlabelled + extra) + "\n", encoding="utf-8")
    return files


@pytest.fixture
def teacher_forwards(monkeypatch) -> list[int]:
    """The rows of every teacher forward pass (`EmotionClassifier` scores the teachers; nothing else uses it here)."""
    calls: list[int] = []
    original = EmotionClassifier._forward

    def counted(self, batch):
        calls.append(len(batch["input_ids"]))
        return original(self, batch)

    monkeypatch.setattr(EmotionClassifier, "_forward", counted)
    return calls


def distil(student, out, data, teachers, cache, training=None, **options) -> dict:
    return run_distillation(
        ModelArguments(model_name_or_path=str(student), pooling="mean"),
        DataArguments(
            train_file=data["train"],
            validation_file=data["validation"],
            test_file=data["test"],
            label_column="label",
            scheme=data["scheme"],
            max_length=32,
        ),
        GoEmoXTrainingArguments(
            **{
                "output_dir": str(out),
                "learning_rate": 5e-3,
                "num_train_epochs": 5,
                "per_device_train_batch_size": 16,
                "early_stopping_patience": 0,
                "report_to": "none",
                "use_cpu": True,
                "disable_tqdm": True,
                "seed": 0,
                **(training or {}),
            }
        ),
        DistillArguments(
            teachers=[str(teacher) for teacher in teachers],
            unlabelled_file=data["unlabelled"],
            teacher_cache_dir=str(cache),
            **options,
        ),
    )


def test_a_student_learns_its_teachers_labels_and_the_teacher_scores_once(
    tmp_path, keyword_data, keyword_model, tiny_encoder_factory, teacher_forwards
):
    student = tiny_encoder_factory("bert", 0.3)
    out = tmp_path / "student"
    metrics = distil(student, out, keyword_data, [keyword_model], tmp_path / "cache", distill_alpha=1.0)
    assert sum(teacher_forwards) == TRAIN_ROWS + UNLABELLED_ROWS  # every training text scored once
    # The training rows carry no label: the test split's anger and joy can only have been learnt from the teacher.
    assert metrics["test"]["tuned"]["roc_auc_macro"] > 0.75
    record = metrics["distillation"]
    assert record["rows"] == {"labelled": TRAIN_ROWS, "unlabelled": UNLABELLED_ROWS}
    assert record["unlabelled"] == {
        "source": keyword_data["unlabelled"],
        "texts": UNLABELLED_ROWS + REPEATS + FROM_VALIDATION,
        "repeats_left_out": REPEATS,
        "in_labelled_splits_left_out": FROM_VALIDATION,
        "used": UNLABELLED_ROWS,
    }
    assert (record["alpha"], record["temperature"], record["max_length"]) == (1.0, 1.0, 32)
    assert record["teachers"] == [
        {
            "source": str(keyword_model),
            "kind": "goemox",
            "revision": None,
            "fingerprint": fingerprint_files(keyword_model),
            "labels": LABELS,
            "logits_from_cache": False,
        }
    ]
    assert json.loads((out / "metrics.json").read_text())["distillation"] == record
    options = json.loads((out / "run_config.json").read_text())["distillation"]
    assert options["teachers"] == [str(keyword_model)] and options["distill_alpha"] == 1.0
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "Distilled (`goemox distill`) from 1 teacher(s)" in card and "unlabelled texts of `unlabelled.txt`" in card
    assert metrics["thresholds"] and metrics["calibration"]["method"] == "platt" and metrics["ood_cutoff"]

    teacher_forwards.clear()
    again = distil(student, tmp_path / "again", keyword_data, [keyword_model], tmp_path / "cache",
                   training={"num_train_epochs": 1})  # fmt: skip
    assert teacher_forwards == []  # the same texts at the same length: read from the cache
    assert again["distillation"]["teachers"][0]["logits_from_cache"] is True


def test_an_interrupted_distillation_resumes_like_an_uninterrupted_one(
    tmp_path, keyword_data, keyword_model, tiny_encoder_factory, teacher_forwards, monkeypatch
):
    student, cache = tiny_encoder_factory("bert", 0.3), tmp_path / "cache"
    reference = distil(student, tmp_path / "reference", keyword_data, [keyword_model], cache,
                       training={"num_train_epochs": 2})  # fmt: skip
    steps_per_epoch = math.ceil((TRAIN_ROWS + UNLABELLED_ROWS) / 16)
    original_step = goemox.training.trainer.GoEmoXTrainer.training_step

    def interrupted_step(self, *args, **kwargs):
        if self.state.global_step == steps_per_epoch + 2:
            raise KeyboardInterrupt
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(goemox.training.trainer.GoEmoXTrainer, "training_step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        distil(student, tmp_path / "resumed", keyword_data, [keyword_model], cache, training={"num_train_epochs": 2})
    monkeypatch.setattr(goemox.training.trainer.GoEmoXTrainer, "training_step", original_step)
    teacher_forwards.clear()
    resumed = distil(student, tmp_path / "resumed", keyword_data, [keyword_model], cache,
                     training={"num_train_epochs": 2, "resume_from_checkpoint": "last"})  # fmt: skip
    assert teacher_forwards == []
    assert resumed["validation"] == reference["validation"]
    assert resumed["test"]["tuned"]["macro_f1"] == pytest.approx(reference["test"]["tuned"]["macro_f1"], abs=1e-9)


def save_permuted(model_dir, folder, tokenizer):
    """The same model with its two labels (output rows) in the other order."""
    model = GoEmoXForSequenceClassification.from_pretrained(model_dir)
    with torch.no_grad():
        model.classifier.out_proj.weight.copy_(model.classifier.out_proj.weight.flip(0))
        model.classifier.out_proj.bias.copy_(model.classifier.out_proj.bias.flip(0))
    names = [model.config.id2label[i] for i in (1, 0)]
    model.config.id2label = dict(enumerate(names))
    model.config.label2id = {name: i for i, name in enumerate(names)}
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_soft_targets_follow_the_run_labels_and_the_cache_key(
    tmp_path, keyword_model, tiny_tokenizer, teacher_forwards
):
    permuted = resolve_teacher(str(save_permuted(keyword_model, tmp_path / "permuted", tiny_tokenizer)))
    teacher, cache = resolve_teacher(str(keyword_model)), tmp_path / "cache"
    assert permuted.labels == ("joy", "anger") and permuted.fingerprint != teacher.fingerprint
    texts = ["i am so furious", "delighted and furious", "the cat sat", "delighted"]
    alone, records = soft_targets([teacher], texts, LABELS, 32, 1.0, cache)
    logits, cached = teacher_logits(teacher, texts, 32, cache)
    assert cached and records[0]["logits_from_cache"] is False
    np.testing.assert_allclose(alone, sigmoid(logits), atol=1e-6)
    assert alone[0, 0] > 0.5 > alone[0, 1] and alone[3, 1] > 0.5 > alone[3, 0]  # the teacher knows its keywords
    both, records = soft_targets([teacher, permuted], texts, LABELS, 32, 1.0, cache)
    np.testing.assert_allclose(both, alone, atol=1e-5)  # the permuted teacher, realigned, says the same
    assert [record["logits_from_cache"] for record in records] == [True, False]
    assert len(teacher_forwards) == 2
    tempered, _ = soft_targets([teacher], texts, LABELS, 32, 2.0, cache)
    np.testing.assert_allclose(tempered, sigmoid(logits / 2.0), atol=1e-6)
    assert len(teacher_forwards) == 2  # a temperature is applied to cached logits
    teacher_logits(teacher, texts, 16, cache)
    teacher_logits(teacher, texts[:3], 32, cache)
    assert len(teacher_forwards) == 4  # another length or other texts: scored anew
    for path in cache.glob("*.npy"):
        path.write_bytes(b"damaged")
    again, cached = teacher_logits(teacher, texts, 32, cache)
    assert not cached and len(teacher_forwards) == 5
    np.testing.assert_allclose(again, logits, atol=1e-6)


def test_runs_that_need_the_same_logits_at_once_score_them_once(tmp_path, keyword_model, teacher_forwards):
    teacher, texts = resolve_teacher(str(keyword_model)), ["so furious", "delighted", "the cat"] * 10
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: teacher_logits(teacher, texts, 32, tmp_path / "cache"), range(3)))
    assert sorted(cached for _, cached in results) == [False, True, True]
    assert sum(teacher_forwards) == len(texts)
    for logits, _ in results:
        np.testing.assert_array_equal(logits, results[0][0])


def test_a_native_classifier_is_a_teacher(tmp_path, tiny_tokenizer):
    config = BertConfig(**tiny_encoder_config("bert", len(tiny_tokenizer)).to_dict())
    config.update({"problem_type": "multi_label_classification", "architectures": ["BertForSequenceClassification"]})
    config.id2label, config.label2id = dict(enumerate(LABELS)), {name: i for i, name in enumerate(LABELS)}
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(tmp_path / "native")
    tiny_tokenizer.save_pretrained(tmp_path / "native")
    teacher = resolve_teacher(str(tmp_path / "native"))
    assert (teacher.kind, teacher.labels) == ("native", tuple(LABELS))
    logits, cached = teacher_logits(teacher, ["so furious"], 32, tmp_path / "cache")
    assert logits.shape == (1, 2) and not cached
    config.problem_type = "single_label_classification"  # softmax outputs: no probability per label to learn from
    config.save_pretrained(tmp_path / "native")
    with pytest.raises(
        GoEmoXUsageError, match=r"native: not a multi-label classifier \(BertForSequenceClassification\)"
    ):
        resolve_teacher(str(tmp_path / "native"))


def test_the_training_rows_carry_soft_targets_and_unlabelled_rows_no_gold(
    tmp_path, keyword_data, keyword_model, tiny_encoder_factory, monkeypatch
):
    seen = {}

    def keep_trainer(self, *args, **kwargs):
        seen["trainer"] = self
        raise KeyboardInterrupt  # the data is what this test reads

    monkeypatch.setattr(DistillationTrainer, "train", keep_trainer)
    with pytest.raises(KeyboardInterrupt):
        distil(tiny_encoder_factory("bert", 0.3), tmp_path / "run", keyword_data, [keyword_model], tmp_path / "cache",
               distill_alpha=0.25, distill_temperature=2.0, max_unlabelled_samples=50)  # fmt: skip
    trainer = seen["trainer"]
    assert (trainer.distill_alpha, trainer.distill_temperature) == (0.25, 2.0)
    train = trainer.train_dataset.with_format("numpy")
    assert len(train) == TRAIN_ROWS + 50
    mask, soft = np.asarray(train["label_mask"]), np.asarray(train[SOFT_TARGETS_COLUMN])
    assert (mask[:TRAIN_ROWS] == 1).all() and (mask[TRAIN_ROWS:] == 0).all()
    assert soft.shape == (TRAIN_ROWS + 50, 2) and ((soft > 0) & (soft < 1)).all()
    batch = trainer.data_collator([trainer.train_dataset[i] for i in (0, TRAIN_ROWS)])
    trainer.model.eval()
    loss = trainer.compute_loss(trainer.model, dict(batch))
    logits = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    from goemox.training.loss import distillation_bce_with_logits, smoothed_bce_with_logits

    gold = smoothed_bce_with_logits(logits[:1], batch["labels"][:1], 0.05, trainer.positive_weights())
    expected = 0.25 * distillation_bce_with_logits(logits, batch[SOFT_TARGETS_COLUMN], 2.0) + 0.75 * gold
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)  # the unlabelled row adds to the soft part only


def test_bad_teachers_and_unlabelled_files_are_one_line(tmp_path, keyword_model, tiny_encoder_factory):
    with pytest.raises(
        GoEmoXUsageError, match=r"^--teachers .*tiny-bert: not a multi-label classifier \(BertModel\); expected"
    ):
        resolve_teacher(str(tiny_encoder_factory("bert")))
    with pytest.raises(GoEmoXUsageError, match=r"^--teachers \./missing: no such folder$"):
        resolve_teacher("./missing")
    teacher = resolve_teacher(str(keyword_model))
    with pytest.raises(GoEmoXUsageError, match=r"its 2 labels differ from the run's 3 \(lacks \['fear'\]\)"):
        check_teacher_labels([teacher], ["anger", "joy", "fear"])
    with pytest.raises(GoEmoXUsageError, match=r"lacks \['fear'\], also predicts \['joy'\]"):
        check_teacher_labels([teacher], ["anger", "fear"])
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(GoEmoXUsageError, match=r"^--unlabelled_file .*empty.txt: no texts \(an empty file"):
        read_unlabelled_texts(str(tmp_path / "empty.txt"))
    (tmp_path / "header.tsv").write_text("text\tlabel\n")
    with pytest.raises(GoEmoXUsageError, match=r"header.tsv: no texts"):
        read_unlabelled_texts(str(tmp_path / "header.tsv"))
    with pytest.raises(GoEmoXUsageError, match=r"^--unlabelled_file .*nowhere.txt"):
        read_unlabelled_texts(str(tmp_path / "nowhere.txt"))
    for options, message in (
        ({}, "--teachers: expected at least one teacher"),
        ({"teachers": ["t"], "distill_alpha": 1.5}, "--distill_alpha must be between 0 and 1, got 1.5"),
        ({"teachers": ["t"], "distill_temperature": 0.0}, "--distill_temperature must be above 0 and finite, got 0.0"),
        (
            {"teachers": ["t"], "distill_temperature": math.inf},
            "--distill_temperature must be above 0 and finite, got inf",
        ),
        ({"teachers": ["t"], "max_unlabelled_samples": 5}, "--max_unlabelled_samples needs --unlabelled_file"),
    ):
        with pytest.raises(GoEmoXUsageError, match=f"^{message}"):
            DistillArguments(**options)


def test_an_output_dir_in_a_teacher_or_over_the_unlabelled_file_is_refused_before_scoring(
    tmp_path, keyword_data, keyword_model, tiny_encoder_factory, teacher_forwards
):
    teacher = tmp_path / "teacher"
    shutil.copytree(keyword_model, teacher)
    before = sorted(path.name for path in teacher.iterdir())
    student = tiny_encoder_factory("bert")
    overwrite = {"overwrite_output_dir": True}
    with pytest.raises(GoEmoXUsageError, match=f"^--output_dir {teacher} is the input {teacher}; "):
        distil(student, teacher, keyword_data, [teacher], tmp_path / "cache", overwrite)
    with pytest.raises(GoEmoXUsageError, match=r"^--output_dir (\S+)unlabelled.txt is the input \1unlabelled.txt; "):
        distil(student, keyword_data["unlabelled"], keyword_data, [teacher], tmp_path / "cache", overwrite)
    assert sorted(path.name for path in teacher.iterdir()) == before
    assert teacher_forwards == []
