"""`goemox export hub` folders in other clients without goemox: in transformers 4.57, the native BERT class of a
first-token model and the remote-code pair of a mean-pooled one score texts as goemox does; the native folder, built
with `--onnx`, serves optimum and transformers.js from the same files."""

import pytest

from goemox.inference.classifier import EmotionClassifier
from goemox.inference.onnx import OnnxEmotionClassifier


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory, client_run, goemox_cli):
    """`make(pooling)` -> the `goemox export hub` folder of the client test run with that pooling (the native one with
    its ONNX export), and the run."""

    def make(pooling: str):
        run = client_run(pooling)
        out = tmp_path_factory.mktemp(f"hub-{pooling}") / "repo"
        onnx = ("--onnx",) if pooling == "cls" else ()
        exported = goemox_cli("export", "hub", "--model", str(run), "--output_dir", str(out), *onnx)
        assert exported.returncode == 0, exported.stderr[-3000:]
        return out, run

    return make


@pytest.mark.parametrize(
    ("pooling", "options", "architecture"),
    [
        ("cls", (), "BertForSequenceClassification"),
        ("mean", ("--trust_remote_code",), "GoEmoXForSequenceClassification"),
    ],
    ids=["native", "remote-code"],
)
def test_hub_export_scores_as_goemox_in_transformers_4_57_pipeline(
    pooling, options, architecture, hub_folder, python_client, client_texts, agrees_with_goemox
):
    folder, run = hub_folder(pooling)
    result = python_client(folder, client_texts, *options)
    assert result["client"].startswith("transformers 4.57.") and result["class"] == architecture
    assert not result["goemox"], "goemox was importable in the client environment"
    goemox = EmotionClassifier.from_pretrained(str(run), device="cpu")
    agrees_with_goemox(result, goemox, goemox.predict_proba(client_texts), "fp32")


@pytest.mark.parametrize(
    ("client", "precision", "option"),
    [("optimum", "fp32", "model.onnx"), ("optimum", "int8", "model_quantized.onnx"), ("transformers.js", "int8", "q8")],
)
def test_the_native_hub_folder_serves_optimum_and_transformers_js(
    client, precision, option, hub_folder, python_client, node_client, client_texts, agrees_with_goemox
):
    folder, run = hub_folder("cls")
    if client == "optimum":
        result = python_client(folder, client_texts, "--onnx_file", option)
    else:
        result = node_client(folder, client_texts, option)
    if precision == "fp32":
        goemox = EmotionClassifier.from_pretrained(str(run), device="cpu")
    else:
        goemox = OnnxEmotionClassifier.from_pretrained(folder, precision="int8")
    agrees_with_goemox(result, goemox, goemox.predict_proba(client_texts), precision)
