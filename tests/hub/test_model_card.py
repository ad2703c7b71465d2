"""Model cards rendered from real tiny runs, parsed back with huggingface_hub."""

import json
import re

import pytest
from conftest import shared_dir
from huggingface_hub import ModelCard
from transformers import AutoConfig

from goemox import GoEmoXConfig, GoEmoXForSequenceClassification
from goemox.errors import GoEmoXUsageError
from goemox.exporters.native import published_architecture
from goemox.hub.model_card import ModelCardOptions, render_model_card


def table_rows(text: str, header_start: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header line starts with `header_start`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_card_metadata_and_numbers_come_from_the_run(tmp_path, trained_run_factory):
    run_dir = trained_run_factory("distilbert")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    options = ModelCardOptions(repo_id="me/goemox-tiny", base_model="distilbert/distilbert-base-uncased")
    render_model_card(run_dir, options=options).save(tmp_path / "README.md")
    card = ModelCard.load(tmp_path / "README.md")

    data = card.data
    assert data.pipeline_tag == "text-classification"
    assert data.library_name == "transformers"
    assert data.license == "apache-2.0" and data.language == "en"
    assert data.base_model == "distilbert/distilbert-base-uncased"
    assert "goemox" in data.tags
    results = {r.metric_name: r for r in data.eval_results}
    tuned = metrics["test"]["tuned"]
    assert results["macro-F1 (tuned thresholds)"].metric_value == tuned["macro_f1"]
    assert results["micro-F1 (tuned thresholds)"].metric_value == tuned["micro_f1"]
    assert results["ROC-AUC (macro)"].metric_value == tuned["roc_auc_macro"]
    assert all(r.dataset_split == "test" for r in data.eval_results)

    text = card.text
    label_rows = table_rows(text, "| label | threshold |")
    assert [row[0] for row in label_rows] == metrics["label_names"]
    for row, threshold in zip(label_rows, metrics["thresholds"]):
        values = tuned["per_class"][row[0]]
        assert row[1:] == [
            f"{threshold:.2f}",
            f"{values['f1']:.3f}",
            f"{values['precision']:.3f}",
            f"{values['recall']:.3f}",
            str(values["support"]),
        ]
    summary = table_rows(text, "| thresholds | macro-F1 |")
    assert summary[0][1:3] == [f"{tuned['macro_f1']:.4f}", f"{tuned['micro_f1']:.4f}"]
    assert summary[1][1] == f"{metrics['test']['fixed_0.5']['macro_f1']:.4f}"
    epochs = table_rows(text, "| epoch |")
    assert [row[0] for row in epochs] == [f"{e['epoch']:.2f}" for e in metrics["epochs"]] == ["1.00", "2.00"]
    assert [row[3] for row in epochs] == [f"{e['eval_macro_f1']:.4f}" for e in metrics["epochs"]]
    assert "`BertForSequenceClassification` on a `distilbert` encoder" in text  # DistilBERT + cls is native
    assert "trust_remote_code" not in text
    assert "GoEmotions: A Dataset of Fine-Grained Emotions" in text
    assert "Reddit" in text
    assert str(run_dir) not in text  # no local paths of the training machine


def test_remote_code_card_says_which_encoders_give_a_native_repository(tmp_path, trained_run_factory):
    text = render_model_card(trained_run_factory("distilbert", "mean")).text
    assert "`GoEmoXForSequenceClassification`" in text and "trust_remote_code=True" in text
    rows = table_rows(text, "| encoder | `model_type` |")
    assert [row[1] for row in rows] == ["`distilbert`", "`bert`", "`roberta`", "`xlm-roberta`", "other"]
    for _, model_type, cls_cell, mean_cell in rows:
        encoder = AutoConfig.for_model("electra" if model_type == "other" else model_type.strip("`"))
        for pooling, cell in (("cls", cls_cell), ("mean", mean_cell)):
            architecture, _ = published_architecture(GoEmoXConfig(encoder=encoder, pooling=pooling))
            assert cell == ("remote code" if architecture == "GoEmoXForSequenceClassification" else f"`{architecture}`")


def test_card_shows_search_summary_and_measured_out_of_domain_behaviour(tmp_path, trained_run_factory):
    run_dir = tmp_path / "run"
    source = trained_run_factory("distilbert")
    run_dir.mkdir()
    for file in source.iterdir():
        if file.is_file():
            (run_dir / file.name).write_bytes(file.read_bytes())
    run_config = json.loads((run_dir / "run_config.json").read_text())
    run_config["search"] = {
        "params": {"learning_rate": 7.37e-05, "num_train_epochs": 4},
        "value": 0.2468,
        "trial": 11,
        "space": "pos-weight",
        "trials": {"COMPLETE": 6, "PRUNED": 14},
    }
    (run_dir / "run_config.json").write_text(json.dumps(run_config))
    analysis = tmp_path / "analysis"
    analysis.mkdir()
    (analysis / "analysis.json").write_text(
        json.dumps(
            {
                "in_domain": "goemotions",
                "domains": {
                    "hackernews": {
                        "n_texts": 500,
                        "neutral_share": 0.8123,
                        "collapse_rate": 0.8123,
                        "mean_max_probability": 0.61,
                        "ood_auroc_max_probability": 0.7412,
                        "ood_auroc_energy": 0.7031,
                    }
                },
                "bias_probe": {
                    "placeholders": {
                        "[NAME]": {
                            "n_templates": 40,
                            "terms": ["Emily", "Jamal", "Priya"],
                            "label_set_flip_rate": 0.125,
                            "labels": {
                                "joy": {"mean_abs_change": 0.004},
                                "anger": {"mean_abs_change": 0.031},
                            },
                        }
                    }
                },
            }
        )
    )
    card = render_model_card(run_dir, options=ModelCardOptions(analysis_dir=str(analysis)))
    assert "6 complete, 14 pruned" in card.text and "learning_rate=7.37e-05" in card.text
    assert (
        "swapping `[NAME]` across 3 terms in 40 sentences changed the predicted label set of 12.5% of them "
        "(largest mean score change: `anger`, 0.031)"
    ) in card.text
    assert table_rows(card.text, "| domain | texts |") == [
        ["hackernews", "500", "0.812", "0.812", "0.610", "0.741", "0.703"]
    ]


def test_card_lists_the_asymmetric_loss_settings_only_for_that_loss(tmp_path, trained_run_factory):
    source = trained_run_factory("distilbert")
    text = render_model_card(source).text
    rows = dict(table_rows(text, "| hyperparameter |"))
    assert rows["loss"] == "bce" and not any(name.startswith("asymmetric loss") for name in rows)
    assert "trained with label-smoothed binary cross-entropy and" in text
    run_dir = copy_run(source, tmp_path / "run")
    run_config = json.loads((run_dir / "run_config.json").read_text())
    run_config["training"].update(loss="asymmetric", asl_gamma_neg=3.0, asl_clip=0.02, label_smoothing_factor=0.0)
    (run_dir / "run_config.json").write_text(json.dumps(run_config))
    text = render_model_card(run_dir).text
    rows = dict(table_rows(text, "| hyperparameter |"))
    assert "trained with an asymmetric loss (asymmetric focusing" in text and "cross-entropy" not in text
    assert rows["loss"] == "asymmetric"
    assert rows["asymmetric loss: negatives' focusing exponent"] == "3.0"
    assert rows["asymmetric loss: probability margin"] == "0.02"


def test_card_needs_the_run_files(tmp_path, trained_run_factory):
    with pytest.raises(GoEmoXUsageError, match=re.escape("metrics.json: missing")):
        render_model_card(tmp_path)


def copy_run(source, target):
    """The files of a run folder (not its checkpoints), to edit without touching the shared run."""
    target.mkdir()
    for file in source.iterdir():
        if file.is_file():
            (target / file.name).write_bytes(file.read_bytes())
    return target


def test_card_source_names_the_split_files_that_win_over_dataset(tmp_path, trained_run_factory):
    run_dir = copy_run(trained_run_factory("distilbert"), tmp_path / "run")
    run_config = json.loads((run_dir / "run_config.json").read_text())
    train_file = tmp_path / "data" / "my_train.csv"
    run_config["data"].update(dataset="demo", train_file=str(train_file), test_file=str(tmp_path / "my_test.jsonl"))
    (run_dir / "run_config.json").write_text(json.dumps(run_config))
    card = render_model_card(run_dir)
    source = next(line for line in card.text.splitlines() if line.startswith("Source:"))
    assert source.startswith("Source: train file `my_train.csv`, test file `my_test.jsonl`, label scheme `ten`.")
    assert "demo" not in source and str(tmp_path) not in card.text
    assert card.data.datasets is None

    run_config["data"].update(dataset="someone/emotions", train_file=None, test_file=None)
    (run_dir / "run_config.json").write_text(json.dumps(run_config))
    card = render_model_card(run_dir)
    assert "Source: `someone/emotions`, label scheme" in card.text and card.data.datasets == ["someone/emotions"]


def card_python_snippet(card: str, folder) -> str:
    """The card's `pipeline()` snippet, pointed at a local folder instead of the Hub repository."""
    section = card[card.index("### transformers `pipeline()`") :]
    start = section.index("```python\n") + len("```python\n")
    code = section[start : section.index("\n```", start)]
    repo_id = re.search(r'model="([^"]+)"', code).group(1)
    return code.replace(f'"{repo_id}"', repr(str(folder)))


@pytest.mark.parametrize("kind", ["native", "remote code"])
def test_card_pipeline_snippet_gives_goemox_labels(kind, tmp_path, trained_run_factory, minilm_goemotions_run):
    from goemox.hub.folder import build_hub_folder
    from goemox.inference import EmotionClassifier
    from goemox.resources import demo_texts

    if kind == "native":  # tiny BERT (128 positions) trained at 128 tokens: an uncut long text would not fit
        run_dir, texts = trained_run_factory("bert", max_length=128), list(demo_texts())[:40]
    else:
        run_dir = minilm_goemotions_run
        rows = (shared_dir() / "data" / "goemotions" / "test.tsv").read_text(encoding="utf-8").splitlines()[:60]
        texts = [row.split("\t")[0] for row in rows]
    texts += [" ".join(texts[i : i + 15]) for i in range(0, 30, 5)]  # longer than 128 tokens
    folder = build_hub_folder(run_dir, tmp_path / "repo").path
    assert folder.joinpath("modeling_goemox.py").is_file() == (kind == "remote code")

    namespace = {}
    exec(card_python_snippet((folder / "README.md").read_text(encoding="utf-8"), folder), namespace)
    labels = namespace["emotions"](texts)

    classifier = EmotionClassifier.from_pretrained(str(run_dir), device="cpu")
    assert sum(len(classifier.tokenizer(text)["input_ids"]) > 128 for text in texts) >= 6
    expected = [prediction.labels for prediction in classifier.predict(texts)]
    assert [sorted(row) for row in labels] == [sorted(row) for row in expected]
    assert sum(map(bool, expected)) >= 5  # not a comparison of empty label sets
    # The snippet lists a text's labels by falling score; labels whose scores differ by float rounding alone (the
    # pipeline pads no batch, the classifier does) may come in either order.
    for row, probabilities in zip(labels, classifier.predict_proba(texts)):
        scores = [probabilities[classifier.label_names.index(label)] for label in row]
        assert all(first >= second - 1e-5 for first, second in zip(scores, scores[1:])), row


def test_card_names_the_clients_that_load_the_folder(trained_run_factory):
    native = render_model_card(trained_run_factory("bert"), options=ModelCardOptions(repo_id="me/tiny")).text
    with_onnx = render_model_card(
        trained_run_factory("bert"), options=ModelCardOptions(repo_id="me/tiny"), onnx=True
    ).text
    remote = render_model_card(trained_run_factory("bert", "mean"), options=ModelCardOptions(repo_id="me/tiny")).text

    onnx_lines = (
        "ORTModelForSequenceClassification",
        'file_name="model_quantized.onnx"',
        '{ dtype: "fp32" }',
        "top_k: null",
    )
    for line in onnx_lines:
        assert line in with_onnx and line not in native and line not in remote
    assert "transformers.js" not in native and "optimum" not in native
    tei_request = '"raw_scores": true'
    assert tei_request in native and "curl 127.0.0.1:8080/predict" in native and "sigmoid" in native
    assert tei_request not in remote and "text-embeddings-inference) do not serve it" in remote
    assert "trust_remote_code=True" in remote and "trust_remote_code" not in native
    for text in (native, remote):
        assert "texts of up to\n48 tokens" in text or "texts of up to 48 tokens" in text
        assert "model_max_length` is 48" in text


def test_card_sets_the_model_beside_published_results_of_its_scheme(tmp_path, trained_run_factory):
    run_dir = trained_run_factory("distilbert")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    scheme = metrics["label_scheme"]
    published = tmp_path / "published.yaml"
    published.write_text(
        f"scheme: {scheme}\nresults:\n"
        "  - {model: Big, parameters: 355M, test_macro_f1: 0.999, how: one seed, source: a paper}\n"
        "  - {model: Small, test_macro_f1: 0.001, how: 'thresholds: 0.5'}\n",
        encoding="utf-8",
    )
    text = render_model_card(run_dir, options=ModelCardOptions(comparison_file=str(published))).text
    rows = table_rows(text, "| model | parameters | test macro-F1 |")
    count = GoEmoXForSequenceClassification.from_pretrained(run_dir).num_parameters()
    assert rows == [
        ["Big", "355M", "0.999", "one seed", "a paper"],
        [
            f"**{run_dir.name} (this model)**",
            f"{count / 1e6:.1f}M",
            f"{metrics['test']['tuned']['macro_f1']:.3f}",
            "per-label thresholds tuned on validation; one run, seed 3",
            "this card",
        ],
        ["Small", "n/a", "0.001", "thresholds: 0.5", "n/a"],
    ]
    assert "(gathered in `published.yaml`)" in text and str(tmp_path) not in text
    assert "| model | parameters |" not in render_model_card(run_dir).text

    published.write_text(published.read_text().replace(f"scheme: {scheme}", "scheme: sentiment"), encoding="utf-8")
    with pytest.raises(GoEmoXUsageError, match=re.escape(f"scheme is 'sentiment'; expected {scheme!r}")):
        render_model_card(run_dir, options=ModelCardOptions(comparison_file=str(published)))
