"""int8 against fp32 where users run it: goemox's block-wise int8, static QDQ and the previous release's dynamic int8.

The model is exported once (`export_onnx --quantize int8`: `MatMulNBits`, weights and activations in blocks of 32,
activations per row). Two other int8 graphs are made from the same fp32 graph for comparison: static QDQ (onnxruntime
`quantize_static`, the weighted `MatMul`s, int8 weights per channel, uint8 activations with MinMax ranges from 512
sampled GoEmotions training texts fed one at a time) and the previous release's dynamic int8 (`quantize_dynamic`,
int8 weights per channel, activations scaled per batch at run time). Each is compared with the fp32 graph at the
model's stored thresholds on:

- GoEmotions validation (all rows): label-set agreement, macro-F1 of both (the labels' own ground truth), and the
  largest and mean probability difference;
- the out-of-domain texts of `shared/data/ood` (every line of every file): agreement and differences;
- batch dependence: the first `--alone_rows` validation texts scored one at a time against the same texts scored in
  length-sorted batches of 64 (the largest probability difference);
- speed: sentences/s of each graph (fp32 included) on the whole GoEmotions test split, batches of 64, `--threads`
  onnxruntime threads, the best of two passes, all in this one run (speed only: no test label is read).

Thresholds and the recipe are the model's; nothing here is chosen on test.

    python bench/int8_agreement.py --model runs/reference --out bench/results/int8_agreement_cpu.json
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.lightweight import DEFAULT_DATA, RESULTS, SHARED, write_json  # noqa: E402

INT8_GRAPHS = ("goemox_int8", "static_int8", "dynamic_int8")


def ood_texts(folder: Path) -> dict[str, list[str]]:
    """Every non-blank line of each text file of the out-of-domain folder, by file name."""
    return {
        path.stem: [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for path in sorted(folder.glob("*.txt"))
    }


def calibration_texts(texts: list[str], count: int = 512, seed: int = 0) -> list[str]:
    """`count` training texts sampled with a fixed seed: the static graph's calibration set."""
    return random.Random(seed).sample(texts, min(count, len(texts)))


def static_int8(fp32_path: Path, out: Path, folder: Path, texts: list[str]) -> None:
    """Static QDQ int8 of the weighted `MatMul`s with MinMax activation ranges from `texts` (one text per run)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from goemox.inference import TokenizerFile, onnx_session

    tokenizer = TokenizerFile.from_folder(folder)
    names = [node.name for node in onnx_session(fp32_path).get_inputs()]
    feeds = iter(
        {name: np.asarray(tokenizer.encode([text], 128)[name][:1], dtype=np.int64) for name in names} for text in texts
    )

    class Feeds:
        def get_next(self):
            return next(feeds, None)

    graph = onnx.load(str(fp32_path), load_external_data=False).graph
    weights = {tensor.name for tensor in graph.initializer}
    linear = [n.name for n in graph.node if n.op_type == "MatMul" and any(i in weights for i in n.input)]
    quantize_static(
        fp32_path,
        out,
        Feeds(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul"],
        nodes_to_quantize=linear,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
    )


def dynamic_int8(fp32_path: Path, out: Path) -> None:
    """The previous release's int8 graph: dynamic quantization of the `MatMul`s, weights per output channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(fp32_path, out, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])


def agreement(reference: np.ndarray, probs: np.ndarray, thresholds: list[float]) -> dict:
    """Label-set agreement at the thresholds and probability differences of `probs` against `reference`."""
    from goemox.scores import apply_thresholds

    same = (apply_thresholds(reference, thresholds) == apply_thresholds(probs, thresholds)).all(axis=1)
    difference = np.abs(reference - probs)
    return {
        "label_agreement": float(same.mean()),
        "texts": len(same),
        "max_abs_probability_difference": float(difference.max()),
        "mean_abs_probability_difference": float(difference.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="A trained goemox model folder.")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--ood", default=str(SHARED / "data" / "ood"))
    parser.add_argument("--work", default="runs/bench_int8")
    parser.add_argument("--alone_rows", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads for the speed figures.")
    parser.add_argument("--out", default=str(RESULTS / "int8_agreement_cpu.json"))
    args = parser.parse_args()

    from bench.common import machine
    from goemox.data import label_matrix, load_emotion_dataset
    from goemox.evaluation import multilabel_metrics
    from goemox.exporters import export_onnx
    from goemox.inference import OnnxEmotionClassifier, StoredConfig, TokenizerFile, onnx_session
    from goemox.scores import apply_thresholds

    data = load_emotion_dataset(args.data)
    validation = data["validation"]
    texts, y_true = list(validation["text"]), label_matrix(validation).astype(int)
    folder = Path(args.work) / "onnx"
    start = time.perf_counter()
    record = export_onnx(args.model, folder, quantize="int8", overwrite=True)
    export_seconds = time.perf_counter() - start
    dynamic_path, static_path = Path(args.work) / "model_dynamic_int8.onnx", Path(args.work) / "model_static_int8.onnx"
    dynamic_int8(folder / "onnx" / "model.onnx", dynamic_path)
    static_int8(folder / "onnx" / "model.onnx", static_path, folder, calibration_texts(list(data["train"]["text"])))

    config, tokenizer = StoredConfig.from_folder(folder), TokenizerFile.from_folder(folder)

    def classifier(path: Path, batch_size: int = 64) -> OnnxEmotionClassifier:
        return OnnxEmotionClassifier(onnx_session(path), config, tokenizer, batch_size=batch_size)

    graphs = {
        "fp32": folder / "onnx" / "model.onnx",
        "goemox_int8": folder / "onnx" / "model_quantized.onnx",
        "static_int8": static_path,
        "dynamic_int8": dynamic_path,
    }
    fp32 = classifier(graphs["fp32"])
    thresholds = fp32.thresholds
    label_names = fp32.label_names
    domains = {"goemotions_validation": texts, **ood_texts(Path(args.ood))}
    reference = {name: fp32.predict_proba(domain) for name, domain in domains.items()}

    def macro_f1(probs: np.ndarray) -> float:
        predicted = apply_thresholds(probs, thresholds).astype(float)
        return multilabel_metrics(y_true, predicted, label_names, 0.5)["macro_f1"]

    results = {"fp32": {"goemotions_validation_macro_f1": macro_f1(reference["goemotions_validation"])}}
    alone_texts = texts[: args.alone_rows]
    for name in INT8_GRAPHS:
        batched = classifier(graphs[name])
        entry = {}
        for domain, domain_texts in domains.items():
            probs = batched.predict_proba(domain_texts)
            entry[domain] = agreement(reference[domain], probs, thresholds)
            if domain == "goemotions_validation":
                entry["goemotions_validation_macro_f1"] = macro_f1(probs)
        ood = [t for domain in domains if domain != "goemotions_validation" for t in domains[domain]]
        ood_reference = np.concatenate([reference[d] for d in domains if d != "goemotions_validation"])
        entry["ood_all"] = agreement(ood_reference, batched.predict_proba(ood), thresholds)
        alone = classifier(graphs[name], batch_size=1).predict_proba(alone_texts)
        in_batches = batched.predict_proba(alone_texts)
        entry["batch_dependence"] = {
            "texts": len(alone_texts),
            "max_abs_probability_difference_alone_vs_batch_64": float(np.abs(alone - in_batches).max()),
            "label_sets_changed": int(
                (apply_thresholds(alone, thresholds) != apply_thresholds(in_batches, thresholds)).any(axis=1).sum()
            ),
        }
        entry["macro_f1_difference_vs_fp32"] = (
            entry["goemotions_validation_macro_f1"] - results["fp32"]["goemotions_validation_macro_f1"]
        )
        results[name] = entry

    test_texts = list(data["test"]["text"])
    speed = {}
    for name, path in graphs.items():
        timed = OnnxEmotionClassifier(onnx_session(path, args.threads), config, tokenizer, batch_size=64)
        timed.predict_proba(test_texts[:64])  # warm-up
        passes = []
        for _ in range(2):
            start = time.perf_counter()
            timed.predict_proba(test_texts)
            passes.append(len(test_texts) / (time.perf_counter() - start))
        speed[name] = {"sentences_per_second": max(passes), "vs_fp32": None}
    for entry in speed.values():
        entry["vs_fp32"] = entry["sentences_per_second"] / speed["fp32"]["sentences_per_second"]
    result = {
        "machine": machine(),
        "speed": {"texts": len(test_texts), "threads": args.threads, "batch_size": 64, "graphs": speed},
        "model": args.model,
        "export_seconds": export_seconds,
        "export_record": {key: record[key] for key in ("quantization", "parity", "graph_optimization")},
        "domains": {name: len(domain) for name, domain in domains.items()},
        "results": results,
    }
    write_json(Path(args.out), result)
    print(f"fp32 validation macro-F1 {results['fp32']['goemotions_validation_macro_f1']:.4f}")
    for name in INT8_GRAPHS:
        entry = results[name]
        print(
            f"{name}: validation agreement {entry['goemotions_validation']['label_agreement']:.4f}, "
            f"OOD agreement {entry['ood_all']['label_agreement']:.4f}, "
            f"macro-F1 {entry['goemotions_validation_macro_f1']:.4f} "
            f"({entry['macro_f1_difference_vs_fp32']:+.4f}), alone vs batch max diff "
            f"{entry['batch_dependence']['max_abs_probability_difference_alone_vs_batch_64']:.2e}, "
            f"{speed[name]['sentences_per_second']:.1f} sentences/s (x{speed[name]['vs_fp32']:.2f} fp32)"
        )


if __name__ == "__main__":
    main()
