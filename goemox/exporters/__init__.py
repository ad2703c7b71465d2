"""A trained goemox model in other forms: the encoder family's native transformers classifier (and back), ONNX
graphs for onnxruntime (fp32 and int8), and folders that hold on any machine (no local paths, the training length).

Example:

```python
>>> from goemox.exporters import export_onnx
>>> record = export_onnx("runs/demo", "runs/demo-onnx", quantize="int8")  # doctest: +SKIP
```"""

from goemox.lazy_names import lazy_names

__all__ = [
    "export_onnx",
    "export_tokenizer",
    "from_native_model",
    "is_native_multilabel_classifier",
    "published_architecture",
    "quantize_int8",
    "scrub_local_paths",
    "to_native_model",
]

_LAZY = {
    "published_architecture": "goemox.exporters.native",
    "to_native_model": "goemox.exporters.native",
    "from_native_model": "goemox.exporters.native",
    "is_native_multilabel_classifier": "goemox.exporters.native",
    "export_onnx": "goemox.exporters.onnx",
    "quantize_int8": "goemox.exporters.quantization",
    "export_tokenizer": "goemox.exporters.portable",
    "scrub_local_paths": "goemox.exporters.portable",
}


__getattr__ = lazy_names(__name__, _LAZY)
