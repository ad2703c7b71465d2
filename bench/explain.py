"""Word-attribution benchmark: how exact, how stable, how faithful and how fast `EmotionClassifier.explain` is.

On the first `--rows` validation sentences (never test), each sentence's predicted labels are explained with every
`--steps` value. For each it reports:
- completeness: |sum of attributions - (logit - baseline logit)| as a share of |logit - baseline logit|;
- stability: how often the top word is the top word of the most-steps run;
- faithfulness: the label's logit drop when the top word is deleted from the text, against deleting a word drawn
  at random (seeded) from the same text (a faithful explanation's top word costs more);
- speed: seconds per explained (text, label) pair.

    OMP_NUM_THREADS=1 python bench/explain.py --model runs/reference --rows 60 --out bench/results/explain_cpu.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.common import DEFAULT_DATA, RESULTS, machine, write_json  # noqa: E402
from goemox.data import load_emotion_dataset  # noqa: E402
from goemox.inference import EmotionClassifier  # noqa: E402


def without_word(text: str, start: int, end: int) -> str:
    """The text with the characters [start, end) and one space around them removed."""
    return (text[:start].rstrip() + " " + text[end:].lstrip()).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/reference")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--rows", type=int, default=60, help="First N validation sentences.")
    parser.add_argument("--steps", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--out", default=str(RESULTS / "explain_cpu.json"))
    args = parser.parse_args()

    classifier = EmotionClassifier.from_pretrained(args.model, device="cpu")
    texts = list(load_emotion_dataset(args.data)["validation"]["text"][: args.rows])
    predictions = classifier.predict(texts)
    labels = [p.labels for p in predictions]
    pairs = [(i, label) for i, chosen in enumerate(labels) for label in chosen]
    print(f"{len(texts)} sentences, {len(pairs)} (sentence, predicted label) pairs")

    runs = {}
    for steps in sorted(args.steps):
        started = time.perf_counter()
        explained = classifier.explain(texts, n_steps=steps, show_progress=True)
        seconds = time.perf_counter() - started
        rows = [explained[i][label] for i, label in pairs]
        relative = [abs(e.completeness_error) / max(abs(e.logit - e.baseline_logit), 1e-6) for e in rows]
        runs[steps] = {"rows": rows, "seconds": seconds, "relative": relative}

    most = runs[max(runs)]["rows"]
    reference_top = [e.top(1)[0].word if e.top(1) else None for e in most]
    rng = np.random.default_rng(0)
    edited_top, edited_random = [], []
    for (i, _), explanation in zip(pairs, most):
        words = explanation.words
        top = max(words, key=lambda w: w.attribution)
        other = words[int(rng.integers(len(words)))]
        edited_top.append(without_word(texts[i], top.start, top.end))
        edited_random.append(without_word(texts[i], other.start, other.end))
    index = {name: j for j, name in enumerate(classifier.label_names)}
    columns = [index[label] for _, label in pairs]
    full = classifier.predict_logits([texts[i] for i, _ in pairs])[np.arange(len(pairs)), columns]
    drop_top = full - classifier.predict_logits(edited_top)[np.arange(len(pairs)), columns]
    drop_random = full - classifier.predict_logits(edited_random)[np.arange(len(pairs)), columns]

    result = {
        "machine": machine(),
        "model": args.model,
        "data": "validation split, first rows",
        "sentences": len(texts),
        "pairs": len(pairs),
        "method": "integrated gradients over the input embeddings (captum LayerIntegratedGradients, Gauss-Legendre), "
        "baseline: every non-special token replaced by the pad token",
        "by_steps": {
            str(steps): {
                "seconds_per_pair": run["seconds"] / max(len(pairs), 1),
                "relative_completeness_error": {
                    "mean": float(np.mean(run["relative"])),
                    "p95": float(np.percentile(run["relative"], 95)),
                    "max": float(np.max(run["relative"])),
                },
                "top_word_same_as_most_steps": float(
                    np.mean(
                        [(e.top(1)[0].word if e.top(1) else None) == ref for e, ref in zip(run["rows"], reference_top)]
                    )
                ),
            }
            for steps, run in runs.items()
        },
        "faithfulness_at_most_steps": {
            "logit_drop_deleting_top_word": {"mean": float(drop_top.mean()), "median": float(np.median(drop_top))},
            "logit_drop_deleting_random_word": {
                "mean": float(drop_random.mean()),
                "median": float(np.median(drop_random)),
            },
            "share_where_top_word_costs_more": float(np.mean(drop_top > drop_random)),
        },
    }
    for steps, figures in result["by_steps"].items():
        error = figures["relative_completeness_error"]
        print(
            f"steps {steps:>4}: {figures['seconds_per_pair']:.2f} s/pair, completeness error mean {error['mean']:.4f} "
            f"p95 {error['p95']:.4f} max {error['max']:.4f}, top word as at most steps "
            f"{figures['top_word_same_as_most_steps']:.3f}"
        )
    faith = result["faithfulness_at_most_steps"]
    print(
        f"deleting the top word lowers the logit by {faith['logit_drop_deleting_top_word']['mean']:.3f} on average, "
        f"a random word by {faith['logit_drop_deleting_random_word']['mean']:.3f} "
        f"(top costs more in {faith['share_where_top_word_costs_more']:.3f} of pairs)"
    )
    write_json(Path(args.out), result)


if __name__ == "__main__":
    main()
