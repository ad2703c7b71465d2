"""Texts longer than `--max_length` (issue 15): `--long_text window` against `truncate` on fetched-style long texts.

The texts stand for fetched GitHub issue bodies and comments: developer prose around one emotional sentence. Each of
`--texts` texts (seeded, so the set is the same on every run) is built as follows:

- a target length in words is drawn from a log-normal distribution (median `--median_words`, sigma 0.7: many short
  texts, a long tail, as issue bodies have);
- out-of-domain lines (Hacker News titles and Flask commit subjects, `shared/data/ood`, drawn at random) are joined,
  each ended with a full stop, until the text reaches that length;
- one GoEmotions test sentence with a label other than `neutral` is put between two of those lines, at a random
  place: its gold labels are what a reader of the whole text would expect the model to find.

Measured with the same model, thresholds and batch size under each mode (`truncate`; `window` with the default
stride, max and mean): the share of texts longer than `--max_length` tokens, sentences/s (after a warm-up, best of
`--repeats`, ratios against `truncate` in the same run), how often the predicted label set differs from
`truncate`'s (all texts, and texts that fit, which must never differ), labels per text, and the recall of the
inserted sentence's gold labels, split by where the sentence lies: within the first `--max_length` tokens,
straddling that boundary, or wholly after it (truncate cannot see those).

    OMP_NUM_THREADS=1 python bench/long_text.py --model ../main/runs/reference --out bench/results/long_text_cpu.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.lightweight import DEFAULT_DATA, RESULTS, SHARED, write_json  # noqa: E402

OOD_FILES = ("hackernews_titles.txt", "github_flask_text.txt")
PLACES = ("within", "straddling", "after")
MODES = {"truncate": ("truncate", None), "window_max": ("window", "max"), "window_mean": ("window", "mean")}


def read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def emotional_sentences(data: Path) -> list[tuple[str, list[str]]]:
    """GoEmotions test sentences (`test.tsv`: text, label ids, id) with a label other than `neutral`, and their label
    names."""
    from goemox.labels import GOEMOTIONS_LABELS as names

    sentences = []
    for line in read_lines(data / "test.tsv"):
        text, ids, _ = line.split("\t")
        labels = [names[int(i)] for i in ids.split(",")]
        if set(labels) - {"neutral"}:
            sentences.append((text.strip(), labels))
    return sentences


def as_sentence(line: str) -> str:
    return line if line[-1] in ".!?" else line + "."


def build_texts(ood: list[str], emotional: list[tuple[str, list[str]]], count: int, median_words: float, seed: int):
    """`count` texts, each a list of pieces with the emotional sentence at `inserted`; see the module docstring."""
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(count):
        target = rng.lognormal(np.log(median_words), 0.7)
        sentence, labels = emotional[int(rng.integers(len(emotional)))]
        pieces, words = [], len(sentence.split())
        while words < target:
            pieces.append(as_sentence(ood[int(rng.integers(len(ood)))]))
            words += len(pieces[-1].split())
        inserted = int(rng.integers(len(pieces) + 1))
        pieces.insert(inserted, sentence)
        texts.append({"pieces": pieces, "inserted": inserted, "labels": labels})
    return texts


def placement(tokenizer, text: dict, max_length: int) -> str:
    """Where the inserted sentence lies against the first `max_length` tokens (its `[CLS]` and `[SEP]` counted)."""
    before = " ".join(text["pieces"][: text["inserted"]])
    start = 1 + len(tokenizer(before, add_special_tokens=False)["input_ids"]) if before else 1
    end = start + len(tokenizer(text["pieces"][text["inserted"]], add_special_tokens=False)["input_ids"])
    if end <= max_length - 1:
        return "within"
    return "after" if start >= max_length - 1 else "straddling"


def recall(found: list[list[str]], texts: list[dict], label_names: set[str], rows: np.ndarray) -> float | None:
    """The share of the inserted sentences' gold labels (other than `neutral`) among the predicted labels."""
    pairs = [
        (label in found[i]) for i in rows for label in texts[i]["labels"] if label != "neutral" and label in label_names
    ]
    return float(np.mean(pairs)) if pairs else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="A trained goemox model folder.")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="GoEmotions folder (its test.tsv).")
    parser.add_argument("--ood", default=str(SHARED / "data" / "ood"), help="Folder of the out-of-domain lines.")
    parser.add_argument("--texts", type=int, default=400)
    parser.add_argument("--median_words", type=float, default=90.0)
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import torch

    from bench.common import machine
    from goemox.inference import EmotionClassifier, LongText

    torch.set_num_threads(args.threads)
    ood = [line for name in OOD_FILES for line in read_lines(Path(args.ood) / name)]
    texts = build_texts(ood, emotional_sentences(Path(args.data)), args.texts, args.median_words, args.seed)
    strings = [" ".join(text["pieces"]) for text in texts]
    runs, found = {}, {}
    for name, (mode, aggregation) in MODES.items():
        classifier = EmotionClassifier.from_pretrained(
            args.model,
            device="cpu",
            max_length=args.max_length,
            batch_size=args.batch_size,
            long_text=LongText(mode, aggregation=aggregation),
        )
        classifier.predict(strings[:16])
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            predictions = classifier.predict(strings)
            best = min(best, time.perf_counter() - start)
        found[name] = [p.labels for p in predictions]
        report = classifier.long_text_report
        runs[name] = {
            "long_text": report.to_dict(),
            "seconds": best,
            "sentences_per_second": len(strings) / best,
            "windows_per_second": report.windows / best,
        }
    tokenizer = classifier.tokenizer
    tokens = np.array([len(ids) for ids in tokenizer(strings)["input_ids"]])
    long = tokens > args.max_length
    places = np.array([placement(tokenizer, text, args.max_length) for text in texts])
    label_names = set(classifier.label_names)
    groups = {"all": np.arange(len(texts)), **{place: np.flatnonzero(places == place) for place in PLACES}}
    for name, run in runs.items():
        changed = np.array([set(a) != set(b) for a, b in zip(found[name], found["truncate"])])
        assert not changed[~long].any(), f"{name}: a text that fits got other labels than under truncate"
        run["speed_vs_truncate"] = run["sentences_per_second"] / runs["truncate"]["sentences_per_second"]
        run["label_change_rate_vs_truncate"] = float(changed.mean())
        run["mean_labels_per_text"] = float(np.mean([len(labels) for labels in found[name]]))
        run["label_change_rate_vs_truncate_long_texts"] = float(changed[long].mean()) if long.any() else None
        run["inserted_label_recall"] = {
            group: recall(found[name], texts, label_names, rows) for group, rows in groups.items()
        }
    result = {
        "machine": machine(),
        "load_average_at_end": os.getloadavg(),
        "model": Path(args.model).name,
        "texts": {
            "count": len(strings),
            "seed": args.seed,
            "median_words": args.median_words,
            "max_length": args.max_length,
            "tokens_median": float(np.median(tokens)),
            "tokens_p90": float(np.percentile(tokens, 90)),
            "tokens_max": int(tokens.max()),
            "share_over_max_length": float(long.mean()),
            "share_over_twice_max_length": float((tokens > 2 * args.max_length).mean()),
            "inserted_sentence_placement": {place: len(groups[place]) for place in PLACES},
        },
        "batch_size": args.batch_size,
        "threads": args.threads,
        "runs": runs,
    }
    write_json(Path(args.out) if args.out else RESULTS / "long_text_cpu.json", result)
    print(
        f"{len(strings)} texts, median {np.median(tokens):.0f} tokens, {long.mean():.1%} over {args.max_length}; "
        f"inserted sentence within / straddling / after: {result['texts']['inserted_sentence_placement']}"
    )
    for name, run in runs.items():
        recalls = run["inserted_label_recall"]
        print(
            f"{name:<12} {run['sentences_per_second']:7.1f} sentences/s  x{run['speed_vs_truncate']:.2f} vs truncate  "
            f"{run['long_text']['windows']} windows  labels changed {run['label_change_rate_vs_truncate']:.1%}  "
            "inserted-label recall "
            + "  ".join(f"{place} {value:.3f}" for place, value in recalls.items() if value is not None)
        )


if __name__ == "__main__":
    main()
