"""A `goemox export onnx --quantize int8` folder in the clients that read the Hub's ONNX layout: optimum's
`ORTModelForSequenceClassification` (transformers 4.57) and transformers.js under Node. fp32 scores are goemox's
PyTorch model's; the int8 file's label sets are those of goemox's own int8 run."""

import pytest

from goemox.inference.classifier import EmotionClassifier
from goemox.inference.onnx import OnnxEmotionClassifier


@pytest.fixture(scope="module")
def onnx_export(tmp_path_factory, client_run, goemox_cli):
    """The export folder of the first-token client test run (fp32 and int8) and the run it came from."""
    run = client_run("cls")
    out = tmp_path_factory.mktemp("onnx") / "export"
    exported = goemox_cli("export", "onnx", "--model", str(run), "--output_dir", str(out), "--quantize", "int8")
    assert exported.returncode == 0, exported.stderr[-3000:]
    return out, run


@pytest.fixture(scope="module")
def goemox_scores(onnx_export, client_texts):
    """precision -> (predictor, probabilities): fp32 from the PyTorch run, int8 from goemox's ONNX classifier."""
    folder, run = onnx_export
    torch_model = EmotionClassifier.from_pretrained(str(run), device="cpu")
    int8 = OnnxEmotionClassifier.from_pretrained(folder, precision="int8")
    return {
        "fp32": (torch_model, torch_model.predict_proba(client_texts)),
        "int8": (int8, int8.predict_proba(client_texts)),
    }


@pytest.mark.parametrize(("precision", "file_name"), [("fp32", "model.onnx"), ("int8", "model_quantized.onnx")])
def test_optimum_scores_the_export_as_goemox(
    precision, file_name, onnx_export, goemox_scores, python_client, client_texts, agrees_with_goemox
):
    result = python_client(onnx_export[0], client_texts, "--onnx_file", file_name)
    assert result["class"] == "ORTModelForSequenceClassification" and not result["goemox"]
    agrees_with_goemox(result, *goemox_scores[precision], precision)


@pytest.mark.parametrize(("precision", "dtype"), [("fp32", "fp32"), ("int8", "q8")])
def test_transformers_js_scores_the_export_as_goemox(
    precision, dtype, onnx_export, goemox_scores, node_client, client_texts, agrees_with_goemox
):
    result = node_client(onnx_export[0], client_texts, dtype)
    assert result["client"].startswith("transformers.js ")
    agrees_with_goemox(result, *goemox_scores[precision], precision)
