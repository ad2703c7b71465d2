"""ONNX export of tiny goemox and native classifiers: parity with PyTorch, int8, the CLI, refusals."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TORCH_FREE, blocking_prelude
from transformers import AutoConfig, AutoModel, BertConfig, BertForSequenceClassification

from goemox import GoEmoXForSequenceClassification
from goemox.cli import main
from goemox.errors import GoEmoXUsageError
from goemox.exporters import onnx as onnx_export
from goemox.exporters.onnx import export_onnx
from goemox.exporters.quantization import BLOCK_SIZE
from goemox.inference.classifier import EmotionClassifier
from goemox.inference.onnx import OnnxEmotionClassifier
from goemox.inference.predictor import LongText

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

LABELS = ["praise", "amusement", "anger", "disapproval", "confusion", "interest", "sadness", "fear", "joy", "love"]
# Varied lengths, so every batch of 3 below is padded; the last one is cut at max_length (24 tokens).
TEXTS = [
    "ok",
    "why would you do that",
    "i am so happy and grateful for all of your help today",
    "this is awful",
    "thank you",
    "i am scared of what might happen next week when they come back",
    "great great great",
    " ".join(["so glad and thankful"] * 20),
]
MAX_LENGTH = 24
EXTRA_CONFIG = {
    "thresholds": [0.3, 0.5, 0.6, 0.45, 0.5, 0.35, 0.4, 0.5, 0.55, 0.5],
    "calibration_temperature": 1.3,
    "ood_cutoff": {"score": "max_probability", "cutoff": 0.93, "source": "test"},
}


def wide_init(config) -> None:
    """Initialise weights with std 0.3 (not 0.02): a random tiny model's scores then vary between texts about as
    much as a trained model's do; with 0.02 every text gets nearly the same scores, so a parity check could not
    tell a correct attention mask from a broken one."""
    config.initializer_range = 0.3


def save_goemox(folder: Path, tiny_encoder: Path, tokenizer, pooling: str) -> Path:
    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(tiny_encoder)
    wide_init(config)
    encoder = folder.with_name(f"{folder.name}-encoder")
    AutoModel.from_config(config).save_pretrained(encoder)
    model = GoEmoXForSequenceClassification.from_encoder(str(encoder), LABELS, pooling=pooling)
    for key, value in EXTRA_CONFIG.items():
        setattr(model.config, key, value)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_native_bert(folder: Path, tokenizer, problem_type: str = "multi_label_classification") -> Path:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)},
        problem_type=problem_type,
    )
    wide_init(config)
    model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def goemox_bert(goemox_cli, tmp_path_factory, tiny_encoder_factory, tiny_tokenizer) -> tuple[Path, Path]:
    """A goemox model over BERT (cls pooling), exported with int8 through the command line."""
    root = tmp_path_factory.mktemp("onnx-goemox-bert")
    model = save_goemox(root / "model", tiny_encoder_factory("bert"), tiny_tokenizer, "cls")
    result = goemox_cli("export", "onnx", str(model), str(root / "onnx"), "--quantize", "int8")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "int8: max |probability difference|" in result.stdout
    return model, root / "onnx"


@pytest.fixture(scope="module")
def goemox_distilbert(tmp_path_factory, tiny_encoder_factory, tiny_tokenizer) -> tuple[Path, Path]:
    """A goemox model over DistilBERT (mean pooling), exported through the Python API."""
    root = tmp_path_factory.mktemp("onnx-goemox-distilbert")
    model = save_goemox(root / "model", tiny_encoder_factory("distilbert"), tiny_tokenizer, "mean")
    export_onnx(model, root / "onnx")
    return model, root / "onnx"


@pytest.fixture(scope="module")
def native_bert(tmp_path_factory, tiny_tokenizer) -> tuple[Path, Path]:
    """A plain `BertForSequenceClassification` (multi-label), exported through the Python API."""
    root = tmp_path_factory.mktemp("onnx-native-bert")
    model = save_native_bert(root / "model", tiny_tokenizer)
    export_onnx(model, root / "onnx")
    return model, root / "onnx"


@pytest.mark.parametrize("exported", ["goemox_bert", "goemox_distilbert", "native_bert"])
def test_fp32_matches_pytorch_on_padded_batches(exported, request):
    model_dir, onnx_dir = request.getfixturevalue(exported)
    torch_clf = EmotionClassifier.from_pretrained(str(model_dir), device="cpu", max_length=MAX_LENGTH, batch_size=3)
    onnx_clf = OnnxEmotionClassifier.from_pretrained(onnx_dir, max_length=MAX_LENGTH, batch_size=3)
    expected, got = torch_clf.predict_proba(TEXTS), onnx_clf.predict_proba(TEXTS)
    assert got.shape == (len(TEXTS), len(LABELS))
    assert np.abs(expected - got).max() <= 1e-4
    assert len(set(np.round(expected[:, 0], 4))) > 3  # the texts really get different scores
    assert [p.labels for p in onnx_clf.predict(TEXTS)] == [p.labels for p in torch_clf.predict(TEXTS)]
    record = json.loads((onnx_dir / "onnx_export.json").read_text())
    assert record["parity"]["fp32"]["max_abs_probability_difference"] <= 1e-4
    assert record["parity"]["fp32"]["label_agreement"] == 1.0
    assert record["parity"]["texts"] == 403


def test_graph_inputs_follow_what_the_network_takes(goemox_bert, goemox_distilbert, native_bert):
    def inputs(exported):
        return OnnxEmotionClassifier.from_pretrained(exported[1]).input_names

    assert inputs(goemox_bert) == ["input_ids", "attention_mask", "token_type_ids"]
    assert inputs(native_bert) == ["input_ids", "attention_mask", "token_type_ids"]
    assert inputs(goemox_distilbert) == ["input_ids", "attention_mask"]  # DistilBERT has no segment embeddings


def test_export_folder_has_the_hub_layout_and_a_config_other_clients_know(goemox_bert):
    model_dir, onnx_dir = goemox_bert
    files = sorted(p.relative_to(onnx_dir).as_posix() for p in onnx_dir.rglob("*") if p.is_file())
    assert files == sorted(
        [
            "config.json",
            "onnx/model.onnx",
            "onnx/model_quantized.onnx",
            "onnx_export.json",
            "tokenizer.json",
            "tokenizer_config.json",
        ]
    )
    saved = json.loads((onnx_dir / "config.json").read_text())
    source = json.loads((model_dir / "config.json").read_text())
    assert (saved["model_type"], saved["architectures"]) == ("bert", ["BertForSequenceClassification"])
    assert saved["problem_type"] == "multi_label_classification" and saved["pooling"] == "cls"
    assert saved["hidden_size"] == source["encoder"]["hidden_size"]
    for key in ("id2label", "label2id", *EXTRA_CONFIG):
        assert saved[key] == source[key], key
    clf = OnnxEmotionClassifier.from_pretrained(onnx_dir)
    assert clf.label_names == LABELS
    assert clf.thresholds == EXTRA_CONFIG["thresholds"]
    assert clf.ood_cutoff == EXTRA_CONFIG["ood_cutoff"]["cutoff"]
    torch_clf = EmotionClassifier.from_pretrained(str(model_dir), device="cpu")
    unfamiliar = [p.unfamiliar for p in clf.predict(TEXTS)]
    assert unfamiliar == [p.unfamiliar for p in torch_clf.predict(TEXTS)]
    assert set(unfamiliar) == {True, False}
    record = json.loads((onnx_dir / "onnx_export.json").read_text())
    assert record["files"] == {"fp32": "onnx/model.onnx", "int8": "onnx/model_quantized.onnx"}
    assert record["exporter"] == "torch.onnx.export(dynamo=True)"
    assert record["source_model"] == "model (local folder)"  # as named, without the machine's directories


def test_a_mean_pooled_distilbert_model_is_named_as_its_encoder_family(goemox_distilbert):
    saved = json.loads((goemox_distilbert[1] / "config.json").read_text())
    assert (saved["model_type"], saved["architectures"]) == ("bert", ["BertForSequenceClassification"])
    assert saved["pooling"] == "mean"  # the graph pools; the clients read labels and the problem type


def test_a_model_and_its_native_hub_folder_export_the_same_folder(goemox_bert, tmp_path):
    from transformers import AutoTokenizer

    from goemox.exporters.native import to_native_model

    model_dir, onnx_dir = goemox_bert
    hub = tmp_path / "hub"  # the weights, config and tokenizer of `goemox export hub`'s native folder
    to_native_model(GoEmoXForSequenceClassification.from_pretrained(model_dir)).save_pretrained(hub)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(hub)
    record = export_onnx(hub, tmp_path / "onnx")
    config = json.loads((tmp_path / "onnx" / "config.json").read_text())
    expected = json.loads((onnx_dir / "config.json").read_text())
    assert {k: v for k, v in config.items() if k != "transformers_version"} == {
        k: v for k, v in expected.items() if k != "transformers_version"
    }
    assert record["inputs"] == json.loads((onnx_dir / "onnx_export.json").read_text())["inputs"]
    from_hub = OnnxEmotionClassifier.from_pretrained(tmp_path / "onnx", max_length=MAX_LENGTH)
    from_run = OnnxEmotionClassifier.from_pretrained(onnx_dir, max_length=MAX_LENGTH)
    assert np.abs(from_hub.predict_proba(TEXTS) - from_run.predict_proba(TEXTS)).max() <= 1e-5


def test_int8_is_block_wise_and_a_text_scores_the_same_in_any_batch(goemox_bert):
    _, onnx_dir = goemox_bert
    int8_ops = [node.op_type for node in onnx.load(onnx_dir / "onnx/model_quantized.onnx").graph.node]
    assert "MatMulNBits" in int8_ops and "DynamicQuantizeLinear" not in int8_ops
    texts = [TEXTS[i % len(TEXTS)] + " " * (i % 3) + ("!" * (i % 5)) for i in range(64)]
    batched = OnnxEmotionClassifier.from_pretrained(onnx_dir, precision="int8", max_length=MAX_LENGTH, batch_size=64)
    alone = OnnxEmotionClassifier.from_pretrained(onnx_dir, precision="int8", max_length=MAX_LENGTH, batch_size=1)
    in_batch = batched.predict_proba(texts)
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = np.empty_like(in_batch)
    shuffled[order] = batched.predict_proba([texts[i] for i in order])
    assert np.abs(alone.predict_proba(texts) - in_batch).max() <= 1e-5
    assert np.abs(shuffled - in_batch).max() <= 1e-5
    # A text beside much longer ones (more padding) scores as it does alone.
    padded = batched.predict_proba(["ok", " ".join(TEXTS)])[0]
    assert np.abs(padded - alone.predict_proba(["ok"])[0]).max() <= 1e-5


def test_int8_agreement_is_reported_and_sane(goemox_bert):
    model_dir, onnx_dir = goemox_bert
    fp32 = OnnxEmotionClassifier.from_pretrained(onnx_dir, max_length=MAX_LENGTH)
    int8 = OnnxEmotionClassifier.from_pretrained(onnx_dir, precision="int8", max_length=MAX_LENGTH)
    p32, p8 = fp32.predict_proba(TEXTS), int8.predict_proba(TEXTS)
    # Quantized weights move the scores (not at all would mean nothing was quantized) but keep their order: a broken
    # quantization (wrong scales, mismatched inputs) scrambles them, and the correlation falls towards 0. This tiny
    # randomly initialised BERT (weights drawn wide on purpose) is a worst case for int8; trained models keep far
    # more of their label sets (BENCHMARKS.md).
    assert np.abs(p32 - p8).mean() > 0.0
    assert np.corrcoef(p32.ravel(), p8.ravel())[0, 1] > 0.8
    # The record's figures are those of the demo sentences against PyTorch, reproduced here exactly: int8 scores do
    # not depend on the batch, so another batch size gives the same agreement.
    reported = json.loads((onnx_dir / "onnx_export.json").read_text())["parity"]["int8"]
    assert 0.0 < reported["max_abs_probability_difference"] < 1.0
    texts = onnx_export.parity_texts()
    torch_probs = EmotionClassifier.from_pretrained(str(model_dir), device="cpu").predict_proba(texts)
    int8_probs = OnnxEmotionClassifier.from_pretrained(onnx_dir, precision="int8", batch_size=7).predict_proba(texts)
    assert onnx_export.compare(torch_probs, int8_probs, int8.thresholds) == pytest.approx(reported, abs=1e-5)


def test_the_python_api_runs_where_neither_torch_nor_transformers_is_installed(goemox_bert):
    model_dir, onnx_dir = goemox_bert
    script = blocking_prelude("torch", "transformers") + (
        "from goemox.inference.onnx import OnnxEmotionClassifier\n"
        "for mode in ('truncate', 'window'):\n"
        "    clf = OnnxEmotionClassifier.from_pretrained(sys.argv[1], max_length=int(sys.argv[3]), long_text=mode)\n"
        "    print(json.dumps([p.labels for p in clf.predict(json.loads(sys.argv[2]))]))\n"
    )
    command = [sys.executable, "-c", script, str(onnx_dir), json.dumps(TEXTS), str(MAX_LENGTH)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for line, mode in zip(result.stdout.splitlines(), ("truncate", "window"), strict=True):
        torch_clf = EmotionClassifier.from_pretrained(str(model_dir), max_length=MAX_LENGTH, long_text=mode)
        assert json.loads(line) == [p.labels for p in torch_clf.predict(TEXTS)], mode


def test_onnx_windows_and_their_aggregation_match_pytorch(goemox_distilbert):
    model_dir, onnx_dir = goemox_distilbert
    texts = [*TEXTS, " ".join(TEXTS), " ".join(reversed(TEXTS)) * 2]
    for long_text in (LongText("window", 6, "max"), LongText("window", 0, "mean")):
        options = {"max_length": MAX_LENGTH, "batch_size": 3, "long_text": long_text}
        torch_clf = EmotionClassifier.from_pretrained(str(model_dir), device="cpu", **options)
        onnx_clf = OnnxEmotionClassifier.from_pretrained(onnx_dir, **options)
        expected, got = torch_clf.predict_proba(texts), onnx_clf.predict_proba(texts)
        assert got.shape == (len(texts), len(LABELS))
        assert np.abs(expected - got).max() <= 1e-4
        assert onnx_clf.long_text_report == torch_clf.long_text_report
        assert onnx_clf.long_text_report.windows > len(texts) + 3


def test_the_onnx_classifier_says_it_cannot_explain(goemox_distilbert):
    classifier = OnnxEmotionClassifier.from_pretrained(goemox_distilbert[1])
    with pytest.raises(GoEmoXUsageError, match="OnnxEmotionClassifier cannot explain predictions: integrated"):
        classifier.explain(["so furious"])
    with pytest.raises(GoEmoXUsageError, match="cannot explain"):
        classifier.add_explanations(["so furious"], classifier.predict(["so furious"]))


def test_graph_fusions_and_the_int8_setting_are_recorded(goemox_bert):
    _, onnx_dir = goemox_bert
    record = json.loads((onnx_dir / "onnx_export.json").read_text())
    fusion = record["graph_optimization"]
    assert fusion["applied"] and fusion["max_abs_probability_difference"] <= 1e-4
    ops = {node.op_type for node in onnx.load(onnx_dir / "onnx/model.onnx").graph.node}
    assert set(fusion["fused_operators"]) <= ops and "SkipLayerNormalization" in ops
    quantization = record["quantization"]
    assert (quantization["bits"], quantization["block_size"], quantization["accuracy_level"]) == (8, BLOCK_SIZE, 4)
    assert sorted(path.name for path in onnx_dir.rglob("*.onnx")) == ["model.onnx", "model_quantized.onnx"]


def test_the_check_texts_are_the_ones_given(goemox_distilbert, tmp_path, capsys):
    model_dir, _ = goemox_distilbert
    (tmp_path / "dev.csv").write_text("text\n" + "\n".join(TEXTS[5:7]) + "\n", encoding="utf-8")
    (tmp_path / "empty.csv").write_text("text\n", encoding="utf-8")
    out = tmp_path / "onnx"
    args = ["export", "onnx", "--model", str(model_dir), "--output_dir", str(out)]
    assert main([*args, "--check_file", str(tmp_path / "empty.csv")]) == 2
    assert "--check_file" in capsys.readouterr().err and not out.exists()
    assert main([*args, "--check_file", str(tmp_path / "dev.csv")]) == 0
    record = json.loads((out / "onnx_export.json").read_text())
    assert (record["parity"]["source"], record["parity"]["texts"]) == ("dev.csv (local folder)", 2)


def test_a_graph_the_optimizer_cannot_fuse_is_kept_as_exported(tiny_tokenizer, tmp_path, monkeypatch):
    def fail(*args):
        raise RuntimeError("pattern not supported\nmore detail")

    monkeypatch.setattr(onnx_export, "fuse_graph", fail)
    model = save_native_bert(tmp_path / "model", tiny_tokenizer)
    record = export_onnx(model, tmp_path / "onnx")
    assert record["graph_optimization"]["applied"] is False
    assert record["graph_optimization"]["reason"] == "pattern not supported"
    assert record["parity"]["fp32"]["max_abs_probability_difference"] <= 1e-4
    assert sorted(path.name for path in (tmp_path / "onnx").rglob("*.onnx")) == ["model.onnx"]


def test_cli_predict_onnx_gives_the_torch_labels(goemox_cli, goemox_bert, tmp_path):
    model_dir, onnx_dir = goemox_bert
    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    runs = {
        "torch": ["--model", str(model_dir)],
        "onnx": ["--model", str(onnx_dir), "--backend", "onnx"],
        "int8": ["--model", str(onnx_dir), "--backend", "onnx", "--precision", "int8"],
    }
    outputs = {}
    for name, extra in runs.items():
        out = tmp_path / f"{name}.jsonl"
        args = ["predict", *extra, "--max_length", str(MAX_LENGTH), "--input", str(tmp_path / "in.txt")]
        if name == "onnx":  # as a user runs it, where torch cannot be imported; the others here, to keep it fast
            result = goemox_cli(*args, "--output", str(out), without=TORCH_FREE)
            assert result.returncode == 0, result.stderr[-3000:]
        else:
            assert main([*args, "--output", str(out)]) == 0
        outputs[name] = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["labels"] for r in outputs["onnx"]] == [r["labels"] for r in outputs["torch"]]
    assert len({tuple(r["labels"]) for r in outputs["torch"]}) > 1  # the texts do not all get one answer
    assert [r["text"] for r in outputs["int8"]] == TEXTS
    for onnx_row, torch_row in zip(outputs["onnx"], outputs["torch"]):
        assert onnx_row["scores"] == pytest.approx(torch_row["scores"], abs=1e-4)


def test_refuses_a_non_empty_folder_and_a_failed_check_leaves_it_alone(tiny_encoder_factory, tiny_tokenizer, tmp_path):
    model = save_goemox(tmp_path / "model", tiny_encoder_factory("bert"), tiny_tokenizer, "mean")
    out = tmp_path / "onnx"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    (out / "model_int8.onnx").write_bytes(b"an int8 model of another export")
    with pytest.raises(GoEmoXUsageError, match="already holds files.*pass --overwrite"):
        export_onnx(model, out)
    # A parity check that fails stops the export before anything is written.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(onnx_export, "FP32_TOLERANCE", -1.0)
        with pytest.raises(GoEmoXUsageError, match="differs from PyTorch.*nothing was written"):
            export_onnx(model, out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["model_int8.onnx", "notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "model-encoder", "onnx"]  # no staging left
    record = export_onnx(model, out, overwrite=True)
    assert record["files"] == {"fp32": "onnx/model.onnx"}
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "model_int8.onnx").exists()  # the earlier export's int8 model would not match this one


def test_bad_inputs_are_one_line_errors(goemox_cli, goemox_distilbert, tiny_tokenizer, tmp_path, capsys):
    model_dir, onnx_dir = goemox_distilbert
    (tmp_path / "empty").mkdir()
    with pytest.raises(GoEmoXUsageError, match="no config.json"):
        export_onnx(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(GoEmoXUsageError, match="is the input"):
        export_onnx(model_dir, model_dir, overwrite=True)
    with pytest.raises(GoEmoXUsageError, match="holds the input"):
        export_onnx(model_dir, model_dir.parent, overwrite=True)
    with pytest.raises(GoEmoXUsageError, match="quantize must be 'int8'"):
        export_onnx(model_dir, tmp_path / "out", quantize="int4")
    single = save_native_bert(tmp_path / "single", tiny_tokenizer, problem_type="single_label_classification")
    with pytest.raises(GoEmoXUsageError, match="problem_type is 'single_label_classification'"):
        export_onnx(single, tmp_path / "out")
    assert not (tmp_path / "out").exists()

    (tmp_path / "in.txt").write_text("hello\n", encoding="utf-8")
    cases = [
        (["export", "onnx", "--model", str(model_dir), "--output_dir", str(onnx_dir)], "already holds files"),
        (
            ["predict", "--backend", "onnx", "--model", str(model_dir), "--input", str(tmp_path / "in.txt")],
            "no onnx_export.json",
        ),
        (
            [
                "predict",
                "--backend",
                "onnx",
                "--precision",
                "int8",
                "--model",
                str(onnx_dir),
                "--input",
                str(tmp_path / "in.txt"),
            ],
            "no int8 model (export it with `--quantize int8`)",
        ),
        (
            ["predict", "--precision", "int8", "--model", str(model_dir), "--input", str(tmp_path / "in.txt")],
            "needs --backend onnx",
        ),
    ]
    result = goemox_cli(*cases[0][0])  # as a user runs it; the others in this process, to keep the test fast
    assert result.returncode == 2 and cases[0][1] in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    capsys.readouterr()
    for args, message in cases[1:]:
        assert main(args) == 2
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1, error


def test_missing_onnxruntime_is_a_clear_error(goemox_distilbert, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(GoEmoXUsageError, match=r"needs onnxruntime; install it with `pip install 'goemox\[onnx\]'`"):
        OnnxEmotionClassifier.from_pretrained(goemox_distilbert[1])


def test_cli_evaluate_onnx_gives_the_torch_metrics(goemox_bert, tmp_path):
    model_dir, onnx_dir = goemox_bert
    rows = [f"{text},{LABELS[i % len(LABELS)]}" for i, text in enumerate(TEXTS[:-1]) if "," not in text]
    (tmp_path / "test.csv").write_text("text,labels\n" + "\n".join(rows) + "\n", encoding="utf-8")
    metrics = {}
    for backend, folder in (("torch", model_dir), ("onnx", onnx_dir)):
        out = tmp_path / f"{backend}.json"
        args = ["--model", str(folder), "--backend", backend, "--test_file", str(tmp_path / "test.csv")]
        assert main(["evaluate", *args, "--max_length", str(MAX_LENGTH), "--output", str(out)]) == 0
        metrics[backend] = json.loads(out.read_text())["stored_thresholds"]
    assert metrics["onnx"]["macro_f1"] == pytest.approx(metrics["torch"]["macro_f1"], abs=1e-9)
    assert metrics["onnx"]["roc_auc_macro"] == pytest.approx(metrics["torch"]["roc_auc_macro"], abs=1e-3)


def test_a_damaged_export_folder_is_a_clear_error(goemox_distilbert, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(goemox_distilbert[1], broken)
    (broken / "onnx/model.onnx").write_bytes(b"not a protobuf")
    with pytest.raises(GoEmoXUsageError, match="model.onnx: onnxruntime cannot load it"):
        OnnxEmotionClassifier.from_pretrained(broken)
    shutil.copy(goemox_distilbert[1] / "onnx/model.onnx", broken / "onnx/model.onnx")
    (broken / "config.json").unlink()
    with pytest.raises(GoEmoXUsageError, match="config.json: missing"):
        OnnxEmotionClassifier.from_pretrained(broken)
    shutil.copy(goemox_distilbert[1] / "config.json", broken / "config.json")
    (broken / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(GoEmoXUsageError, match="tokenizer.json: the tokenizers library cannot read it"):
        OnnxEmotionClassifier.from_pretrained(broken)


def test_quantizing_leaves_the_root_logger_as_it_was(goemox_distilbert, tmp_path, monkeypatch):
    import logging

    from goemox.exporters.quantization import quantize_int8

    # As in a user's program that set up no logging: onnxruntime's quantizer module calls `logging.basicConfig` when
    # it is first imported, which would then print every library's INFO records.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    monkeypatch.delitem(sys.modules, "onnxruntime.quantization.matmul_nbits_quantizer", raising=False)
    quantize_int8(goemox_distilbert[1] / "onnx/model.onnx", tmp_path / "int8.onnx")
    assert (root.handlers, root.level) == ([], logging.WARNING)
