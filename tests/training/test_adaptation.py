import json
import logging

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertForSequenceClassification

from goemox import GoEmoXForSequenceClassification
from goemox.errors import GoEmoXUsageError
from goemox.exporters.native import from_native_model, is_native_multilabel_classifier, to_native_model
from goemox.hub.model_card import local_name
from goemox.labels import LabelScheme, get_label_scheme
from goemox.training.adaptation import StartingPoint, adapt_to_scheme, build_model, starting_point
from goemox.training.arguments import DataArguments, ModelArguments, check_max_length, encoder_token_limit
from goemox.training.train import run_training
from goemox.training.training_args import GoEmoXTrainingArguments

TEN = get_label_scheme("ten")
EKMAN = get_label_scheme("ekman")
TEXTS = ["a very long sentence about being happy and glad and thankful for all of it", "why", "i am scared", "ok"]
SHARED = ["anger", "fear", "joy", "sadness"]  # the labels of `ten` that `ekman` also has


def trained_model(encoder_dir, pooling="cls") -> GoEmoXForSequenceClassification:
    """A `ten` model whose head is far from any initialisation and whose config holds every run-specific key."""
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(encoder_dir), TEN, pooling=pooling).eval()
    with torch.no_grad():
        for layer in (model.classifier.dense, model.classifier.out_proj):
            layer.weight.normal_(0, 0.5)
            layer.bias.normal_(0, 0.5)
    model.config.thresholds = [0.1 * (i + 1) for i in range(TEN.num_labels)]
    model.config.calibration_temperature = 1.7
    model.config.ood_cutoff = {"score": "max_probability", "cutoff": 0.3, "source": "test"}
    return model


@pytest.fixture(scope="module")
def saved_bert(tmp_path_factory, tiny_encoder_factory):
    """Folder of a saved `ten` goemox model on the tiny BERT, with its tokenizer."""
    folder = tmp_path_factory.mktemp("ten-bert")
    trained_model(tiny_encoder_factory("bert")).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_encoder_factory("bert")).save_pretrained(folder)
    return folder


def logits(model, encoder_dir) -> torch.Tensor:
    batch = AutoTokenizer.from_pretrained(encoder_dir)(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        return model.eval()(**batch).logits


def assert_state_equal(got: torch.nn.Module, expected: torch.nn.Module) -> None:
    got_state, expected_state = got.state_dict(), expected.state_dict()
    assert got_state.keys() == expected_state.keys()
    for name, tensor in expected_state.items():
        assert torch.equal(got_state[name], tensor), name


def assert_no_run_specific_keys(config, scheme: LabelScheme) -> None:
    assert config.thresholds is None
    assert getattr(config, "calibration_temperature", None) is None
    assert getattr(config, "ood_cutoff", None) is None
    assert config.label_scheme == scheme.to_dict()
    assert [config.id2label[i] for i in range(config.num_labels)] == list(scheme.labels)


def test_carried_rows_are_the_old_rows_and_new_labels_start_fresh(saved_bert):
    trained = GoEmoXForSequenceClassification.from_pretrained(saved_bert)
    start = starting_point(str(saved_bert), EKMAN)
    assert start == StartingPoint(
        "goemox",
        str(saved_bert),
        carried=SHARED,
        new=["disgust", "surprise", "neutral"],
        dropped=["praise", "amusement", "disapproval", "confusion", "interest", "love"],
    )

    torch.manual_seed(11)
    adapted = build_model(ModelArguments(model_name_or_path=str(saved_bert)), EKMAN)
    assert_no_run_specific_keys(adapted.config, EKMAN)
    assert adapted.config.pooling == trained.config.pooling
    assert_state_equal(adapted.encoder, trained.encoder)
    assert_state_equal(adapted.classifier.dense, trained.classifier.dense)
    old, new = trained.classifier.out_proj, adapted.classifier.out_proj
    for name in SHARED:
        assert torch.equal(new.weight[EKMAN.label2id[name]], old.weight[TEN.label2id[name]])
        assert torch.equal(new.bias[EKMAN.label2id[name]], old.bias[TEN.label2id[name]])

    torch.manual_seed(11)
    fresh = GoEmoXForSequenceClassification(adapted.config).classifier.out_proj
    for name in start.new:
        row = EKMAN.label2id[name]
        assert torch.equal(new.weight[row], fresh.weight[row])
        assert new.bias[row].item() == 0.0
        assert not any(torch.allclose(new.weight[row], old_row) for old_row in old.weight)
    assert 0.005 < new.weight[EKMAN.label2id["neutral"]].std().item() < 0.05  # normal(0, initializer_range 0.02)


def test_same_labels_in_another_order_give_the_same_scores_in_that_order(tiny_encoder_factory):
    encoder_dir = tiny_encoder_factory("distilbert")
    trained = trained_model(encoder_dir, pooling="mean")
    reversed_ten = LabelScheme(name="ten-reversed", labels=tuple(reversed(TEN.labels)))
    adapted = adapt_to_scheme(trained, reversed_ten)
    assert adapted.config.pooling == "mean"
    assert_no_run_specific_keys(adapted.config, reversed_ten)
    expected = logits(trained, encoder_dir)
    got = logits(adapted, encoder_dir)
    assert torch.allclose(got.flip(-1), expected, atol=1e-6)
    assert expected.std() > 0.1


@pytest.mark.parametrize(("kind", "native_type"), [("bert", "bert"), ("roberta", "roberta"), ("distilbert", "bert")])
def test_native_export_turns_back_into_the_same_goemox_model(kind, native_type, tmp_path, tiny_encoder_factory):
    """A DistilBERT model's export is a BERT classifier, so it comes back with the equivalent BERT encoder."""
    encoder_dir = tiny_encoder_factory(kind)
    trained = trained_model(encoder_dir)
    to_native_model(trained).save_pretrained(tmp_path)
    native = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert is_native_multilabel_classifier(native.config)

    back = from_native_model(native)
    assert back.config.pooling == "cls"
    assert back.config.classifier_dropout == trained.config.classifier_dropout
    assert back.config.thresholds == trained.config.thresholds
    assert back.config.calibration_temperature == 1.7
    assert back.config.encoder.model_type == native_type
    expected = logits(trained, encoder_dir)
    assert (logits(back, encoder_dir) - expected).abs().max().item() <= 1e-5

    assert starting_point(str(tmp_path), TEN).kind == "native"
    continued = build_model(ModelArguments(model_name_or_path=str(tmp_path)), TEN)
    assert_no_run_specific_keys(continued.config, TEN)
    assert (logits(continued, encoder_dir) - expected).abs().max().item() <= 1e-5
    limit = encoder_token_limit(str(encoder_dir))
    assert encoder_token_limit(str(tmp_path)) == limit == {"bert": 128, "roberta": 129, "distilbert": 128}[kind]
    with pytest.raises(GoEmoXUsageError, match=f"--max_length {limit + 1} is above the {limit} tokens"):
        check_max_length(ModelArguments(model_name_or_path=str(tmp_path)), DataArguments(max_length=limit + 1))


def test_a_single_label_classifier_counts_as_an_encoder(tmp_path, tiny_encoder_factory):
    config = AutoModelForSequenceClassification.from_pretrained(tiny_encoder_factory("bert"), num_labels=3).config
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    assert not is_native_multilabel_classifier(config)
    assert starting_point(str(tmp_path), TEN) == StartingPoint(
        "encoder", str(tmp_path), carried=[], new=list(TEN.labels), dropped=[]
    )


def test_no_shared_label_keeps_encoder_and_tanh_layer_and_says_so(saved_bert, caplog):
    sentiment = get_label_scheme("sentiment")
    with caplog.at_level(logging.INFO, logger="goemox.training.adaptation"):
        adapted = build_model(ModelArguments(model_name_or_path=str(saved_bert), pooling="mean"), sentiment)
    trained = GoEmoXForSequenceClassification.from_pretrained(saved_bert)
    assert_state_equal(adapted.classifier.dense, trained.classifier.dense)
    assert_state_equal(adapted.encoder, trained.encoder)
    assert adapted.config.pooling == "cls"
    messages = [record.getMessage() for record in caplog.records]
    assert any("shares no label with the scheme 'sentiment'" in message for message in messages)
    assert any("keeps its own pooling (cls)" in message for message in messages)


def test_encoder_dropout_options_apply_to_a_trained_model(saved_bert):
    args = ModelArguments(model_name_or_path=str(saved_bert), encoder_hidden_dropout=0.0, classifier_dropout=0.3)
    adapted = build_model(args, TEN)
    assert adapted.config.encoder.hidden_dropout_prob == 0.0
    assert adapted.config.classifier_dropout == 0.1  # the trained model's own


def test_a_folder_that_is_no_model_is_refused_in_one_line(tmp_path, saved_bert):
    with pytest.raises(GoEmoXUsageError, match="cannot read its config.json") as raised:
        build_model(ModelArguments(model_name_or_path=str(tmp_path)), TEN)
    assert "\n" not in str(raised.value)

    weightless = tmp_path / "weightless"  # e.g. an ONNX export: a goemox config.json, no PyTorch weights
    weightless.mkdir()
    (weightless / "config.json").write_text((saved_bert / "config.json").read_text(encoding="utf-8"))
    with pytest.raises(GoEmoXUsageError, match=f"{weightless}: cannot load it as a saved goemox model") as raised:
        build_model(ModelArguments(model_name_or_path=str(weightless)), TEN)
    assert "\n" not in str(raised.value)


def test_training_from_a_trained_run_onto_another_scheme(tmp_path, trained_run_factory):
    run = trained_run_factory("bert")  # trained on the demo set's `ten` labels
    mapping = {"praise": ["upbeat"], "amusement": ["upbeat"], "love": ["upbeat"]}
    mapping |= {name: ["other"] for name in ("disapproval", "confusion", "interest", "sadness")}
    scheme = {"name": "mine", "labels": ["upbeat", "joy", "anger", "fear", "other"], "mapping": mapping}
    scheme_file = tmp_path / "mine.json"
    scheme_file.write_text(json.dumps({**scheme, "source_labels": list(TEN.labels)}), encoding="utf-8")
    out = tmp_path / "mine"
    metrics = run_training(
        ModelArguments(model_name_or_path=str(run)),
        DataArguments(dataset="demo", scheme=str(scheme_file), max_length=48, max_train_samples=64),
        GoEmoXTrainingArguments(
            output_dir=str(out), num_train_epochs=1, report_to="none", use_cpu=True, disable_tqdm=True, seed=3
        ),
    )
    expected = {
        "kind": "goemox",
        "source": str(run),
        "carried": ["joy", "anger", "fear"],
        "new": ["upbeat", "other"],
        "dropped": ["praise", "amusement", "disapproval", "confusion", "interest", "sadness", "love"],
    }
    assert metrics["initialised_from"] == expected
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["initialised_from"] == expected
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert list(config["id2label"].values()) == scheme["labels"]
    assert len(config["thresholds"]) == len(scheme["labels"])
    assert config["label_scheme"]["name"] == "mine"
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"goemox model `{local_name(str(run))}`, output rows: carried 3 (joy, anger, fear), new 2" in card
