"""Does the training loss change how well the out-of-domain scores flag other domains? (issue 28)

goemox flags a text as unfamiliar when its negative energy, `sum_k softplus(z_k)` over the logits before the folded
calibration, falls below the 0.05 quantile of the in-domain validation texts. The asymmetric loss leaves negatives
whose probability is under its margin (0.05) without any loss, so it need not push their logits as far down as
binary cross-entropy does, and the energy sums all labels' logits. This script measures, for each model of
`--models NAME=FOLDER`, on the GoEmotions validation split (in-domain) against each other domain:

- the AUROC of the negative energy and of the highest probability (in-domain texts the positive class);
- the share of each domain's texts the 0.05-quantile cutoff of validation flags, for both scores.

Other domains: Hacker News titles and Flask commit subjects (`shared/data/ood`), and CARER's validation tweets
(`shared/data/carer/validation.tsv`, a third domain the analysis reports of the docs do not use). No model was
trained on them and no threshold is tuned here; the figures decided that the reference model keeps today's loss
(BENCHMARKS.md, issue 28).

    python bench/ood_by_loss.py --models bce=runs/reference asymmetric=runs/reference-asymmetric \\
        recipe_mean_seed0=runs/bench_recipes/recipe_seed0 \\
        asymmetric_mean_seed0=runs/bench_recipes/asymmetric_seed0 \\
        asymmetric_mean_seed1=runs/bench_recipes/asymmetric_seed1 \\
        asymmetric_mean_seed2=runs/bench_recipes/asymmetric_seed2 \\
        distilled_mean_seed0=runs/bench_recipes/distilled_seed0 --out bench/results/ood_by_loss_cpu.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DEFAULT_DATA, SHARED, machine, relative_paths, write_json  # noqa: E402

OOD_SCORES = ("negative_energy", "max_probability")
CUTOFF_QUANTILE = 0.05


def default_domains() -> list[str]:
    """The other domains, as `NAME=SOURCE` specs `goemox analyze --domain` reads."""
    return [
        f"hackernews={SHARED / 'data' / 'ood' / 'hackernews_titles.txt'}",
        f"flask={SHARED / 'data' / 'ood' / 'github_flask_text.txt'}",
        f"carer={SHARED / 'data' / 'carer' / 'validation.tsv'}:text",
    ]


def measure(folder: str, texts: dict[str, list[str]], in_domain: str) -> dict:
    """One model's AUROCs and flag rates, each domain against `in_domain`."""
    from goemox.analysis import ood_auroc, ood_cutoff
    from goemox.inference import EmotionClassifier
    from goemox.scores import ood_scores

    classifier = EmotionClassifier.from_pretrained(folder, batch_size=256)
    logits = {name: classifier.predict_logits(values) for name, values in texts.items()}
    training = classifier.model.config
    result = {}
    for score in OOD_SCORES:
        scores = {name: ood_scores(values, score, training) for name, values in logits.items()}
        cutoff = ood_cutoff(scores[in_domain], CUTOFF_QUANTILE)
        others = {name: values for name, values in scores.items() if name != in_domain}
        result[score] = {
            "cutoff": cutoff,
            "auroc": {name: ood_auroc(scores[in_domain], values) for name, values in others.items()},
            "flagged": {name: float((values < cutoff).mean()) for name, values in scores.items()},
            "mean": {name: float(values.mean()) for name, values in scores.items()},
        }
    return result


def table(results: dict, domains: list[str]) -> str:
    """The Markdown table of every model's AUROCs and flag rates."""
    header = ["model"] + [f"{name}: AUROC energy / max prob." for name in domains]
    header += [f"{name}: flagged by energy" for name in domains]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, result in results.items():
        energy, top = result["negative_energy"], result["max_probability"]
        cells = [f"{energy['auroc'][name]:.3f} / {top['auroc'][name]:.3f}" for name in domains]
        cells += [f"{energy['flagged'][name]:.3f}" for name in domains]
        lines.append("| " + " | ".join([model, *cells]) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", required=True, help="NAME=FOLDER of each goemox model to measure.")
    parser.add_argument("--in_domain", default=f"goemotions={DEFAULT_DATA}:validation")
    parser.add_argument("--domains", nargs="+", default=default_domains(), help="NAME=SOURCE, as `goemox analyze`.")
    parser.add_argument("--out", default="bench/results/ood_by_loss_cpu.json")
    args = parser.parse_args()

    from goemox.data import TextLoader, parse_domain

    models = dict(spec.split("=", 1) for spec in args.models)
    missing = [folder for folder in models.values() if not (Path(folder) / "config.json").is_file()]
    if missing:
        sys.exit(f"ood_by_loss.py: not a goemox model folder: {', '.join(missing)}")
    in_domain = parse_domain(args.in_domain, option="--in_domain")
    others = [parse_domain(spec, option="--domains") for spec in args.domains]
    loader = TextLoader()
    texts = {domain.name: loader.texts(domain.source) for domain in [in_domain, *others]}
    results = {}
    for name, folder in models.items():
        print(f"measuring {name} ({folder})", flush=True)
        results[name] = measure(folder, texts, in_domain.name)
    summary = table(results, [domain.name for domain in others])
    print(summary)
    domains = {domain.name: {"source": domain.source.spec, "texts": len(texts[domain.name])} for domain in others}
    payload = {
        "machine": machine(),
        "in_domain": {"name": in_domain.name, "source": in_domain.source.spec, "texts": len(texts[in_domain.name])},
        "domains": domains,
        "cutoff_quantile": CUTOFF_QUANTILE,
        "models": {name: {"folder": folder, **results[name]} for name, folder in models.items()},
        "table": summary,
    }
    write_json(Path(args.out), relative_paths(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
