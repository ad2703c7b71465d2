"""Scores texts with the transformers `pipeline` of another environment (transformers 4.57, optimum), as a user
without goemox runs a goemox export. Run by the side venv's Python that `scripts/install_clients.sh` builds.

Usage:
    python python_client.py MODEL_DIR TEXTS_JSON [--onnx_file NAME] [--trust_remote_code]

With `--onnx_file` the model is optimum's `ORTModelForSequenceClassification` over that ONNX file of the folder
(`model.onnx`, `model_quantized.onnx`), else the PyTorch model transformers' Auto classes load. Prints one JSON
object: `{"client": "...", "class": "...", "goemox": false, "scores": [{label: score, ...} per text]}`, where
`goemox` says whether goemox could have been imported (a test of loading without it expects false).

Example:
    .clients/python/bin/python tests/clients/python_client.py OUT texts.json --onnx_file model_quantized.onnx
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from importlib.metadata import version
from pathlib import Path

import transformers
from transformers import AutoTokenizer, pipeline


def load_onnx_classifier(folder: str, file_name: str):
    """optimum's ONNX Runtime classifier over `file_name` (found anywhere under `folder`, e.g. in onnx/)."""
    from optimum.onnxruntime import ORTModelForSequenceClassification

    model = ORTModelForSequenceClassification.from_pretrained(folder, file_name=file_name)
    versions = ", ".join(f"{name} {version(name)}" for name in ("optimum-onnx", "onnxruntime", "transformers"))
    return model, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("texts_json")
    parser.add_argument("--onnx_file", help="run this ONNX file of the folder with optimum")
    parser.add_argument("--trust_remote_code", action="store_true", help="allow the folder's own model code")
    args = parser.parse_args()
    texts = json.loads(Path(args.texts_json).read_text(encoding="utf-8"))
    if args.onnx_file:
        model, client = load_onnx_classifier(args.model_dir, args.onnx_file)
        tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
        classify = pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None)
    else:
        client = f"transformers {transformers.__version__}"
        classify = pipeline(
            "text-classification", model=args.model_dir, top_k=None, trust_remote_code=args.trust_remote_code
        )
    rows = classify(texts)
    scores = [{entry["label"]: entry["score"] for entry in row} for row in rows]
    goemox = importlib.util.find_spec("goemox") is not None
    print(json.dumps({"client": client, "class": type(classify.model).__name__, "goemox": goemox, "scores": scores}))


if __name__ == "__main__":
    main()
