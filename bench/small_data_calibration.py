"""Calibration and thresholds at the data sizes users have: the previous release's rules against the support rules.

Reads the cached logits of `bench/small_data_logits.py` (MiniLM trained on 500 / 2,000 / 12,000 GoEmotions rows
with 50 / 200 / 1,200 validation rows, several seeds, and the full-data reference model) and, for each arm, fits
on the arm's validation rows:

- (a) `previous`: the previous release: unsmoothed Platt per label wherever the column has both classes (else the
  shared temperature), per-label thresholds tuned on the uncalibrated scores and carried through the map;
- (b) `support`: the current rules (`goemox.calibration.fitting`);
- (c) `none`: no calibration, every threshold 0.5.

The full-data model is also fitted on seeded validation subsets of 50, 200 and 1,200 rows (3 seeds each, the rest of
validation held out): a well-trained model with few validation rows.

Each is scored once on the whole test split: macro-F1, micro-F1, ECE per label and pooled, NLL, and the number of
stored thresholds fitted from fewer than `min_threshold_positives` positives.

`--select` instead compares settings of the support rules (minimum positives of a calibration and of a threshold,
prior strength, slope range) on
the validation rows that an arm did *not* fit on (the rest of the 5,426 validation rows), never on test: the
figures the defaults were chosen from.

    python bench/small_data_calibration.py --logits runs/small_data --out bench/results/small_data_calibration.json
    python bench/small_data_calibration.py --logits runs/small_data --select \\
        --out bench/results/small_data_calibration_selection.json
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy.optimize import minimize, minimize_scalar  # noqa: E402

from bench.lightweight import write_json  # noqa: E402
from goemox.calibration import LogitMap, SupportRules, calibration_error, fit_on_validation  # noqa: E402
from goemox.evaluation import multilabel_metrics, tune_thresholds  # noqa: E402
from goemox.scores import sigmoid  # noqa: E402

RULES = ("previous", "support", "none")
CANDIDATES = (
    {"min_positives": 5, "min_threshold_positives": 5, "prior_strength": 2.0, "slope_range": 4.0},
    {"min_positives": 3, "min_threshold_positives": 5, "prior_strength": 2.0, "slope_range": 4.0},
    {"min_positives": 10, "min_threshold_positives": 5, "prior_strength": 2.0, "slope_range": 4.0},
    {"min_positives": 5, "min_threshold_positives": 1, "prior_strength": 2.0, "slope_range": 4.0},
    {"min_positives": 5, "min_threshold_positives": 3, "prior_strength": 2.0, "slope_range": 4.0},
    {"min_positives": 5, "min_threshold_positives": 10, "prior_strength": 2.0, "slope_range": 4.0},
    {"min_positives": 5, "min_threshold_positives": 5, "prior_strength": 0.0, "slope_range": 1e3},
    {"min_positives": 5, "min_threshold_positives": 5, "prior_strength": 5.0, "slope_range": 4.0},
)
"""The settings `--select` compares, each a change of one or two values from the chosen default (the first); an
earlier full grid of 3 x 3 x 3 x 2 values on the first arms picked the region these come from."""


def previous_platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float] | None:
    """The previous release's Platt fit of one label: unsmoothed targets, no bound on the slope."""

    def loss(params):
        scaled = params[0] * logits + params[1]
        residual = sigmoid(scaled) - labels
        value = float((np.logaddexp(0.0, scaled) - labels * scaled).mean())
        return value, np.array([(residual * logits).mean(), residual.mean()])

    if not 0 < labels.sum() < len(labels):
        return None
    fitted = minimize(loss, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    if not np.all(np.isfinite(fitted.x)) or fitted.x[0] <= 0:
        return None
    return float(fitted.x[0]), float(fitted.x[1])


def previous_temperature_slope(logits: np.ndarray, labels: np.ndarray) -> float:
    """`1 / T` of the previous release's shared temperature: unsmoothed BCE, searched for T in [0.05, 20]."""

    def loss(log_t: float) -> float:
        scaled = logits / np.exp(log_t)
        return float((np.logaddexp(0.0, scaled) - labels * scaled).mean())

    fitted = minimize_scalar(loss, bounds=tuple(np.log([0.05, 20.0])), method="bounded", options={"xatol": 1e-7})
    return float(np.exp(-fitted.x))


def previous_rules(logits: np.ndarray, labels: np.ndarray) -> tuple[LogitMap, list[float]]:
    """The previous release's calibration and per-label thresholds."""
    shared_slope = previous_temperature_slope(logits, labels)
    fitted = [previous_platt(logits[:, k], labels[:, k]) or (shared_slope, 0.0) for k in range(labels.shape[1])]
    logit_map = LogitMap("platt", tuple(a for a, _ in fitted), tuple(b for _, b in fitted))
    before = tune_thresholds(labels, sigmoid(logits), "per_class")
    return logit_map, [float(logit_map.carried_grid([t], k)[0]) for k, t in enumerate(before)]


def fitted_rules(
    rule: str, logits: np.ndarray, labels: np.ndarray, rules: SupportRules | None = None
) -> tuple[LogitMap | None, list[float], int]:
    """The map, thresholds and count of thresholds fitted from fewer than `min_threshold_positives` positives."""
    rules = rules or SupportRules()
    positives = labels.sum(axis=0)
    if rule == "none":
        return None, [0.5] * labels.shape[1], 0
    if rule == "previous":
        logit_map, thresholds = previous_rules(logits, labels)
        return logit_map, thresholds, int(((positives > 0) & (positives < rules.min_threshold_positives)).sum())
    fitted = fit_on_validation(logits, labels, "platt", "per_class", rules=rules)
    thin = sum(r["threshold"] == "per_label" and r["positives"] < rules.min_threshold_positives for r in fitted.labels)
    return fitted.logit_map, fitted.thresholds, thin


def scored(logit_map: LogitMap | None, thresholds: list[float], logits: np.ndarray, labels: np.ndarray) -> dict:
    probs = sigmoid(logits if logit_map is None else logit_map.apply(logits))
    error = calibration_error(probs, labels)
    metrics = multilabel_metrics(labels, probs, [str(k) for k in range(labels.shape[1])], thresholds)
    return {
        "macro_f1": metrics["macro_f1"],
        "micro_f1": metrics["micro_f1"],
        "ece_per_label": error["ece_per_label"],
        "ece_pooled": error["ece_pooled"],
        "nll": error["nll"],
    }


def load_arm(path: Path) -> dict[str, np.ndarray]:
    arm = dict(np.load(path))
    fit_rows = arm["validation_rows"]
    held = np.setdiff1d(np.arange(len(arm["validation_labels"])), fit_rows)
    return {
        "fit_logits": arm["validation_logits"][fit_rows].astype(np.float64),
        "fit_labels": arm["validation_labels"][fit_rows].astype(np.int64),
        "held_logits": arm["validation_logits"][held].astype(np.float64),
        "held_labels": arm["validation_labels"][held].astype(np.int64),
        "test_logits": arm["test_logits"].astype(np.float64),
        "test_labels": arm["test_labels"].astype(np.int64),
    }


VALIDATION_SUBSETS = (50, 200, 1200)
"""Validation rows the full-data model is also fitted on (3 seeds each): a well-trained model with a user's few
validation rows."""


def validation_subsets(full: dict) -> dict[str, dict]:
    """Arms of the full-data model fitted on seeded validation subsets; the rest of validation is held out."""
    z, y = full["fit_logits"], full["fit_labels"]
    arms = {}
    for rows, seed in itertools.product(VALIDATION_SUBSETS, range(3)):
        picked = np.random.default_rng(seed).permutation(len(y))
        fit, held = picked[:rows], picked[rows:]
        arms[f"full_val{rows}_seed{seed}"] = {
            **full, "fit_logits": z[fit], "fit_labels": y[fit], "held_logits": z[held], "held_labels": y[held]
        }  # fmt: skip
    return arms


def size_of(name: str) -> str:
    return name.split("_seed")[0] if name != "full" else "full"


def compare(arms: dict[str, dict]) -> dict:
    """Every rule on every arm, scored on test; means and standard deviations over the seeds of a size."""
    per_arm = {}
    for name, arm in arms.items():
        per_arm[name] = {}
        for rule in RULES:
            logit_map, thresholds, thin = fitted_rules(rule, arm["fit_logits"], arm["fit_labels"])
            per_arm[name][rule] = {
                **scored(logit_map, thresholds, arm["test_logits"], arm["test_labels"]),
                "thresholds_from_fewer_positives_than_minimum": thin,
                "threshold_range": [min(thresholds), max(thresholds)],
            }
            if logit_map is not None:
                per_arm[name][rule]["slope_range"] = [min(logit_map.slope), max(logit_map.slope)]
        support = fit_on_validation(arm["fit_logits"], arm["fit_labels"], "platt", "per_class")
        per_arm[name]["support"]["fallbacks"] = support.fallback_counts()
    return {"per_arm": per_arm, "by_size": summarise(per_arm)}


def summarise(per_arm: dict) -> dict:
    sizes = {}
    for name, rules in per_arm.items():
        sizes.setdefault(size_of(name), []).append(rules)
    summary = {}
    for size, runs in sizes.items():
        summary[size] = {"seeds": len(runs)}
        for rule in RULES:
            summary[size][rule] = {
                key: {
                    "mean": float(np.mean([r[rule][key] for r in runs])),
                    "std": float(np.std([r[rule][key] for r in runs])),
                }
                for key in ("macro_f1", "micro_f1", "ece_per_label", "ece_pooled", "nll")
            }
    return summary


def held_out_pairs(arm: dict) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(fit logits, fit labels, held logits, held labels) to compare settings on, all from validation: the arm's
    other validation rows, or for an arm that fits on the whole split (full data, the demo) its two seeded halves,
    each way round."""
    if len(arm["held_labels"]):
        return [(arm["fit_logits"], arm["fit_labels"], arm["held_logits"], arm["held_labels"])]
    order = np.random.default_rng(0).permutation(len(arm["fit_labels"]))
    halves = order[: len(order) // 2], order[len(order) // 2 :]
    z, y = arm["fit_logits"], arm["fit_labels"]
    return [(z[a], y[a], z[b], y[b]) for a, b in (halves, halves[::-1])]


def held_out_scores(arm: dict, rule: str, rules: SupportRules | None = None) -> dict:
    values = []
    for fit_z, fit_y, held_z, held_y in held_out_pairs(arm):
        logit_map, thresholds, _ = fitted_rules(rule, fit_z, fit_y, rules)
        values.append(scored(logit_map, thresholds, held_z, held_y))
    return {key: float(np.mean([v[key] for v in values])) for key in values[0]}


def by_size_means(scores: dict[str, dict]) -> dict:
    sizes = {}
    for name, value in scores.items():
        sizes.setdefault(size_of(name), []).append(value)
    return {
        size: {key: float(np.mean([v[key] for v in values])) for key in values[0]} for size, values in sizes.items()
    }


def select(arms: dict[str, dict]) -> dict:
    """Each of `CANDIDATES` (and, for reference, the previous rules and none), fitted on validation rows and scored
    on other validation rows (`held_out_pairs`); never on test."""
    reference = {rule: by_size_means({n: held_out_scores(a, rule) for n, a in arms.items()}) for rule in RULES}
    results = []
    for setting in CANDIDATES:
        rules = SupportRules(**setting)
        scores = {name: held_out_scores(arm, "support", rules) for name, arm in arms.items()}
        results.append({"setting": setting, "held_out_validation": by_size_means(scores)})
    return {"settings": results, "reference_rules": reference, "defaults": SupportRules().to_dict()}


def plot_by_size(by_size: dict, path: Path) -> Path:
    """Test ECE per label, pooled ECE and macro-F1 of each rule at each data size (mean, with the seeds' spread)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from goemox.reporting import save_figure

    sizes = sorted(by_size, key=lambda size: (size == "full", size == "demo", size))
    panels = (("ece_per_label", "test ECE, mean over labels"), ("ece_pooled", "test ECE, all pairs"),
              ("macro_f1", "test macro-F1"))  # fmt: skip
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4.5))
    width = 0.8 / len(RULES)
    for ax, (key, title) in zip(axes, panels):
        for index, rule in enumerate(RULES):
            means = [by_size[size][rule][key]["mean"] for size in sizes]
            spreads = [by_size[size][rule][key]["std"] for size in sizes]
            positions = np.arange(len(sizes)) + (index - 1) * width
            ax.bar(positions, means, width, yerr=spreads, label=rule, capsize=2)
        ax.set_xticks(np.arange(len(sizes)), [size.replace("_", "\n") for size in sizes], fontsize=8)
        ax.set_title(title)
    axes[0].legend()
    return save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logits", default="runs/small_data", help="folder of bench/small_data_logits.py")
    parser.add_argument("--select", action="store_true", help="compare settings on held-out validation rows")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    arms = {path.stem: load_arm(path) for path in sorted(Path(args.logits).glob("*.npz"))}
    if not arms:
        raise SystemExit(f"{args.logits}: no .npz files; run bench/small_data_logits.py first")
    if "full" in arms:
        arms.update(validation_subsets(arms["full"]))
    result = select(arms) if args.select else compare(arms)
    result["arms"] = {
        name: {"fit_rows": len(arm["fit_labels"]), "held_rows": len(arm["held_labels"])} for name, arm in arms.items()
    }
    write_json(Path(args.out), result)
    if not args.select:
        print(f"wrote {plot_by_size(result['by_size'], Path(args.out).with_suffix('.png'))}")
        for size, row in result["by_size"].items():
            for rule in RULES:
                cells = "  ".join(f"{k} {v['mean']:.4f}±{v['std']:.4f}" for k, v in row[rule].items())
                print(f"{size:<22}{rule:<10}{cells}")


if __name__ == "__main__":
    main()
