"""Exporters: a trained goemox model in other forms (native transformers classes, ONNX)."""
