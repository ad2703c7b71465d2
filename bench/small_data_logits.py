"""Logits of MiniLM models trained on GoEmotions subsets of the sizes users bring (for small_data_calibration.py).

Each arm is a seeded subset of the training split (500, 2,000 or 12,000 rows) with a seeded validation subset (50,
200 or 1,200 rows), trained with `goemox train` on the shared all-MiniLM-L6-v2 encoder with nothing fitted after
training (`--calibration none --ood_score none`; 10 epochs with early stopping below 10,000 rows, one epoch at 12,000
rows to fit 2 CPU cores): the calibration and threshold rules are applied afterwards, from
the cached logits, so every rule sees the same model. The trained model then scores the whole validation split
(the rows outside its subset are what the rules' settings are chosen on) and the whole test split.

The full-data arm is the reference model (`runs/reference`): its folded calibration is inverted exactly, so its
logits are those of the model before calibration. The `demo` arm is `make demo`'s run (`configs/demo.yaml`, the
packaged 403 sentences: 40 validation rows, 40 test rows) trained with nothing fitted after training.

    python bench/small_data_logits.py --out runs/small_data      # about an hour on 2 CPU cores

One `.npz` per arm is written to `--out`; an arm whose file exists is not trained again.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.lightweight import DEFAULT_DATA, DEFAULT_ENCODER  # noqa: E402

ARMS = (
    *((500, 50, seed) for seed in range(3)),
    *((2000, 200, seed) for seed in range(3)),
    (12000, 1200, 0),
)
"""(training rows, validation rows, seed) of each trained arm."""

SPLIT_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}


def read_tsv(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def label_rows(lines: list[str], num_labels: int) -> np.ndarray:
    """The 0/1 label matrix of GoEmotions TSV lines (`text \\t ids \\t comment id`)."""
    matrix = np.zeros((len(lines), num_labels), dtype=np.int8)
    for row, line in enumerate(lines):
        for index in line.split("\t")[1].split(","):
            matrix[row, int(index)] = 1
    return matrix


def arm_name(train_rows: int, validation_rows: int, seed: int) -> str:
    return f"train{train_rows}_val{validation_rows}_seed{seed}"


def train_arm(data: Path, encoder: str, out: Path, train_rows: int, validation_rows: int, seed: int) -> Path:
    """Write the arm's subset folder, train on it and return the saved model folder."""
    rng = np.random.default_rng(seed)
    train = read_tsv(data / SPLIT_FILES["train"])
    validation = read_tsv(data / SPLIT_FILES["validation"])
    picked_train = np.sort(rng.choice(len(train), train_rows, replace=False))
    picked_validation = np.sort(rng.choice(len(validation), validation_rows, replace=False))
    folder = out / f"{arm_name(train_rows, validation_rows, seed)}.data"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.tsv").write_text("".join(train[i] + "\n" for i in picked_train), encoding="utf-8")
    (folder / "dev.tsv").write_text("".join(validation[i] + "\n" for i in picked_validation), encoding="utf-8")
    shutil.copyfile(data / SPLIT_FILES["test"], folder / "test.tsv")
    shutil.copyfile(data / "labels.txt", folder / "labels.txt")
    np.save(folder / "validation_rows.npy", picked_validation)
    model = out / f"{arm_name(train_rows, validation_rows, seed)}.model"
    small = train_rows < 10000
    command = [
        sys.executable, "-m", "goemox", "train",
        "--dataset", str(folder), "--scheme", "goemotions",
        "--model_name_or_path", encoder, "--output_dir", str(model), "--overwrite_output_dir",
        "--calibration", "none", "--ood_score", "none",
        "--max_length", "64", "--learning_rate", "1e-4", "--per_device_train_batch_size", "16" if small else "32",
        "--num_train_epochs", "10" if small else "1", "--early_stopping_patience", "3",
        "--seed", str(seed), "--save_total_limit", "1",
    ]  # fmt: skip
    subprocess.run(command, check=True)
    return model


def score_model(model: Path, data: Path) -> dict[str, np.ndarray]:
    """Logits of the model before any folded calibration on the whole validation and test splits."""
    from goemox.calibration import LogitMap
    from goemox.inference import EmotionClassifier

    classifier = EmotionClassifier.from_pretrained(str(model), device="cpu", max_length=64, batch_size=64)
    stored = LogitMap.stored(classifier.config)
    result = {}
    for split in ("validation", "test"):
        lines = read_tsv(data / SPLIT_FILES[split])
        logits = classifier.predict_logits([line.split("\t")[0] for line in lines], show_progress=True)
        if stored is not None:  # undo a folded a * z + b
            logits = (logits - np.asarray(stored.intercept)) / np.asarray(stored.slope)
        result[f"{split}_logits"] = logits.astype(np.float32)
        result[f"{split}_labels"] = label_rows(lines, classifier.config.num_labels)
    return result


def demo_arm(encoder: str, out: Path) -> dict[str, np.ndarray]:
    """Train `make demo`'s run with nothing fitted after training; its validation and test logits."""
    from goemox.data import label_matrix, load_emotion_dataset
    from goemox.inference import EmotionClassifier

    model = out / "demo.model"
    command = [
        sys.executable, "-m", "goemox", "train", "--config", "configs/demo.yaml", "--model_name_or_path", encoder,
        "--output_dir", str(model), "--calibration", "none", "--ood_score", "none",
    ]  # fmt: skip
    subprocess.run(command, check=True)
    classifier = EmotionClassifier.from_pretrained(str(model), device="cpu", max_length=64)
    splits = load_emotion_dataset("demo", scheme="ten")
    result = {"validation_rows": np.arange(len(splits["validation"]))}
    for split in ("validation", "test"):
        result[f"{split}_logits"] = classifier.predict_logits(splits[split]["text"]).astype(np.float32)
        result[f"{split}_labels"] = label_matrix(splits[split]).astype(np.int8)
    shutil.rmtree(model)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="folder of GoEmotions TSV files")
    parser.add_argument("--encoder", default=str(DEFAULT_ENCODER))
    parser.add_argument("--reference", default="runs/reference", help="the full-data model (calibration inverted)")
    parser.add_argument("--out", default="runs/small_data")
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    full = out / "full.npz"
    if not full.exists() and Path(args.reference, "config.json").is_file():
        scored = score_model(Path(args.reference), data)
        np.savez(full, validation_rows=np.arange(len(scored["validation_labels"])), **scored)
    if not (out / "demo.npz").exists():
        np.savez(out / "demo.npz", **demo_arm(args.encoder, out))
    for train_rows, validation_rows, seed in ARMS:
        target = out / f"{arm_name(train_rows, validation_rows, seed)}.npz"
        if target.exists():
            continue
        model = train_arm(data, args.encoder, out, train_rows, validation_rows, seed)
        scored = score_model(model, data)
        picked = np.load(out / f"{arm_name(train_rows, validation_rows, seed)}.data" / "validation_rows.npy")
        np.savez(target, validation_rows=picked, **scored)
        shutil.rmtree(model)


if __name__ == "__main__":
    main()
