"""Which calibration `goemox train` folds in by default: every method chosen on validation, test reported once.

Methods (`goemox.calibration.logit_map`): `none`, `temperature`, `per_label_temperature` and `platt`
(`sigmoid(a_k * z_k + b_k)` per label). The choice is made on validation alone, by two-fold cross-fitting: the
validation rows are split in two seeded halves, each method is fitted on one half and its ECE (mean over labels)
measured on the other, both ways round. The method with the lowest cross-fitted ECE is the recommended default.
Each method is then fitted on the whole validation split and scored once on test.

A model that already carries a folded calibration is scored on its uncalibrated logits (the stored map inverted
exactly), so a calibrated reference model can be measured too.

    python bench/calibration_methods.py --model runs/reference --out bench/results/calibration_methods_cpu.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.common import DEFAULT_DATA, RESULTS, machine, write_json  # noqa: E402

METHODS = ("none", "temperature", "per_label_temperature", "platt")


def scores(logits: np.ndarray, labels: np.ndarray) -> dict:
    from goemox.calibration import expected_calibration_error, mean_nll
    from goemox.scores import sigmoid

    probs = sigmoid(logits)
    ece = expected_calibration_error(probs, labels)
    return {
        "ece_class_mean": ece["class_mean"],
        "ece_pooled": ece["pooled"],
        "ece_per_class": ece["per_class"],
        "nll": mean_nll(probs, labels),
        "brier": float(np.mean((probs - labels) ** 2)),
    }


def calibrated(method: str, fit_logits: np.ndarray, fit_labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    from goemox.calibration import fit_calibration

    logit_map, _ = fit_calibration(fit_logits, fit_labels, method)
    return logits if logit_map is None else logit_map.apply(logits)


def cross_fitted_ece(logits: np.ndarray, labels: np.ndarray, method: str, seed: int) -> float:
    """Mean over the two folds of the ECE per label on the half the method was not fitted on."""
    order = np.random.default_rng(seed).permutation(len(labels))
    halves = order[: len(order) // 2], order[len(order) // 2 :]
    values = []
    for fit, held in (halves, halves[::-1]):
        mapped = calibrated(method, logits[fit], labels[fit], logits[held])
        values.append(scores(mapped, labels[held])["ece_class_mean"])
    return float(np.mean(values))


def uncalibrated_logits(classifier, texts: list[str]) -> np.ndarray:
    """The model's logits with any folded calibration undone (`(z - b) / a`)."""
    from goemox.calibration import LogitMap

    logits = classifier.predict_logits(texts, show_progress=True).astype(np.float64)
    stored = LogitMap.stored(classifier.config)
    if stored is None:
        return logits
    return (logits - np.asarray(stored.intercept)) / np.asarray(stored.slope)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="A trained model folder.")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="GoEmotions TSV folder (validation and test).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the two validation halves.")
    parser.add_argument("--out", default=str(RESULTS / "calibration_methods_cpu.json"))
    args = parser.parse_args()

    from goemox.data import label_matrix, load_emotion_dataset
    from goemox.inference import EmotionClassifier

    classifier = EmotionClassifier.from_pretrained(args.model)
    splits = load_emotion_dataset(args.data, scheme=classifier.label_scheme())
    logits = {s: uncalibrated_logits(classifier, splits[s]["text"]) for s in ("validation", "test")}
    labels = {s: label_matrix(splits[s]).astype(np.int64) for s in ("validation", "test")}

    selection = {m: cross_fitted_ece(logits["validation"], labels["validation"], m, args.seed) for m in METHODS}
    chosen = min(selection, key=selection.get)
    results = {
        method: {
            split: scores(calibrated(method, logits["validation"], labels["validation"], logits[split]), labels[split])
            for split in ("validation", "test")
        }
        for method in METHODS
    }
    print(f"{'method':<24}{'cross-fitted val ECE':>22}{'test ECE/label':>16}{'test pooled':>13}")
    for method in METHODS:
        test = results[method]["test"]
        mark = "  <- chosen on validation" if method == chosen else ""
        print(f"{method:<24}{selection[method]:>22.4f}{test['ece_class_mean']:>16.4f}{test['ece_pooled']:>13.4f}{mark}")
    write_json(
        Path(args.out),
        {
            "model": args.model,
            "data": args.data,
            "label_scheme": classifier.label_scheme().name,
            "rows": {split: len(y) for split, y in labels.items()},
            "label_names": classifier.label_names,
            "selection": {"rule": "lowest two-fold cross-fitted validation ECE per label", "ece": selection},
            "chosen": chosen,
            "results": results,
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
