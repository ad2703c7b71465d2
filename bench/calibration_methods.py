"""How far temperature scaling calibrates a trained model, against per-label Platt scaling.

Every method is fitted on the validation split's logits and scored on validation and, once, on test:

- `none`: the model's own sigmoid scores.
- `temperature`: `goemox calibrate` (one T, binary cross-entropy).
- `temperature_per_label`: `goemox calibrate --per_class`.
- `platt_per_label`: `sigmoid(a_c * logit + b_c)` per label, a logistic regression on the label's logit
  (scikit-learn, effectively unregularised). Not a goemox feature; it measures what a per-label shift
  adds to a per-label scale. It would fold into the output layer the same way (weights times a, bias
  times a plus b).

    python bench/calibration_methods.py --model ../ref/model --out bench/results/calibration_methods_cpu.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from bench.common import DEFAULT_DATA, RESULTS, machine, write_json  # noqa: E402


def platt_per_label(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept per label; a label without both classes keeps slope 1 and intercept 0."""
    slopes, intercepts = np.ones(logits.shape[1]), np.zeros(logits.shape[1])
    for c in range(logits.shape[1]):
        if 0 < labels[:, c].sum() < len(labels):
            fitted = LogisticRegression(C=1e6, max_iter=1000).fit(logits[:, [c]], labels[:, c])
            slopes[c], intercepts[c] = fitted.coef_[0, 0], fitted.intercept_[0]
    return slopes, intercepts


def scores(logits: np.ndarray, labels: np.ndarray) -> dict:
    from goemox.calibration.scaling import binary_nll, expected_calibration_error
    from goemox.scores import sigmoid

    probs = sigmoid(logits)
    ece = expected_calibration_error(probs, labels)
    return {
        "ece_class_mean": ece["class_mean"],
        "ece_pooled": ece["pooled"],
        "ece_per_class": ece["per_class"],
        "nll": float(binary_nll(logits, labels).mean()),
        "brier": float(np.mean((probs - labels) ** 2)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="A trained model folder.")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="GoEmotions TSV folder (validation and test).")
    parser.add_argument("--out", default=str(RESULTS / "calibration_methods_cpu.json"))
    args = parser.parse_args()

    from goemox.calibration.scaling import fit_temperature
    from goemox.data import label_matrix, load_emotion_dataset
    from goemox.inference.classifier import EmotionClassifier

    classifier = EmotionClassifier.from_pretrained(args.model)
    splits = load_emotion_dataset(args.data, scheme=classifier.label_scheme())
    logits = {s: classifier.predict_logits(splits[s]["text"], show_progress=True) for s in ("validation", "test")}
    labels = {s: label_matrix(splits[s]).astype(np.int64) for s in ("validation", "test")}

    t_one = fit_temperature(logits["validation"], labels["validation"])
    t_each = np.asarray(fit_temperature(logits["validation"], labels["validation"], per_class=True))
    slopes, intercepts = platt_per_label(logits["validation"], labels["validation"])
    methods = {
        "none": lambda z: z,
        "temperature": lambda z: z / t_one,
        "temperature_per_label": lambda z: z / t_each,
        "platt_per_label": lambda z: z * slopes + intercepts,
    }
    results = {
        name: {split: scores(transform(logits[split]), labels[split]) for split in logits}
        for name, transform in methods.items()
    }
    for name, by_split in results.items():
        line = "  ".join(
            f"{s}: ECE/label {r['ece_class_mean']:.4f} pooled {r['ece_pooled']:.4f}" for s, r in by_split.items()
        )
        print(f"{name:<22}{line}")
    write_json(
        Path(args.out),
        {
            "model": args.model,
            "data": args.data,
            "rows": {split: len(y) for split, y in labels.items()},
            "label_names": classifier.label_names,
            "fitted": {
                "temperature": t_one,
                "temperature_per_label": t_each.tolist(),
                "platt_slope": slopes.tolist(),
                "platt_intercept": intercepts.tolist(),
            },
            "results": results,
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
