"""Two training processes on CPU through `accelerate launch`: evaluation sees every example exactly once, and a
distillation's teacher scores the texts once.

`accelerate launch --cpu --num_processes 2` starts a single process in accelerate 1.x (its CPU path is the simple
launcher); `--multi_gpu --num_processes 2` on a machine without GPUs starts two processes through torchrun, which
then train on CPU with the gloo backend (`--use_cpu true`).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port, starts_processes

REPO = Path(__file__).resolve().parents[2]


def launch(script: str, *options: str) -> subprocess.CompletedProcess:
    """`accelerate launch` of a script of `scripts/` in two CPU processes (gloo)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    launcher = str(Path(sys.executable).parent / "accelerate")
    command = [
        *(launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"),
        *("--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port())),
        *(str(REPO / "scripts" / script), *options, "--disable_tqdm", "true", "--use_cpu", "true"),
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)


def write_splits(folder: Path) -> dict[str, Path]:
    """The demo set as train / validation (37 rows) / test (41 rows): odd sizes that 2 processes split unevenly."""
    rows = (REPO / "goemox" / "resources" / "demo_emotions.jsonl").read_text(encoding="utf-8").splitlines()
    parts = {"train": rows[78:], "validation": rows[:37], "test": rows[37:78]}
    paths = {}
    for name, lines in parts.items():
        paths[name] = folder / f"{name}.jsonl"
        paths[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


@starts_processes
@pytest.mark.skipif(
    shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None,
    reason="accelerate's launcher is not installed",
)
def test_two_processes_match_a_single_process_evaluation(tmp_path, tiny_encoder_factory):
    paths = write_splits(tmp_path)
    out = tmp_path / "model"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    result = launch(
        "train.py",
        *("--model_name_or_path", str(tiny_encoder_factory("distilbert")), "--pooling", "mean", "--scheme", "ten"),
        *("--train_file", str(paths["train"]), "--validation_file", str(paths["validation"])),
        *("--test_file", str(paths["test"]), "--learning_rate", "0.003", "--num_train_epochs", "2"),
        *("--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "8", "--max_length", "48"),
        *("--output_dir", str(out)),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    trained = json.loads((out / "metrics.json").read_text())
    assert trained["rows"] == {"train": 325, "validation": 37, "test": 41}
    assert trained["processes"] == 2

    evaluation = subprocess.run(
        [
            sys.executable,
            "-m",
            "goemox",
            "evaluate",
            "--model",
            str(out),
            "--train_file",
            str(paths["train"]),
            "--validation_file",
            str(paths["validation"]),
            "--test_file",
            str(paths["test"]),
            "--max_length",
            "48",
            "--output",
            str(tmp_path / "single.json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    single = json.loads((tmp_path / "single.json").read_text())["stored_thresholds"]
    multi = trained["test"]["tuned"]
    # Every test example was scored once: per-label supports add up to the 41 rows' labels, as in one process.
    assert {k: v["support"] for k, v in multi["per_class"].items()} == {
        k: v["support"] for k, v in single["per_class"].items()
    }
    for key in ("macro_f1", "micro_f1", "hamming_score", "subset_accuracy"):
        assert multi[key] == pytest.approx(single[key], abs=1e-6), key
    # Scores differ by float rounding between batchings (padding), which can swap near-tied ranks.
    assert multi["roc_auc_macro"] == pytest.approx(single["roc_auc_macro"], abs=2e-3)


@starts_processes
@pytest.mark.skipif(
    shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None,
    reason="accelerate's launcher is not installed",
)
def test_two_processes_distil_with_the_teacher_run_once(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    from goemox import GoEmoXForSequenceClassification
    from goemox.labels import get_label_scheme

    paths = write_splits(tmp_path)
    teacher = tmp_path / "teacher"
    GoEmoXForSequenceClassification.from_encoder(
        str(tiny_encoder_factory("bert")), get_label_scheme("ten")
    ).save_pretrained(teacher)
    tiny_tokenizer.save_pretrained(teacher)
    (tmp_path / "unlabelled.txt").write_text("so happy for you\nwhat a terrible day\nno idea what this is\n")
    out = tmp_path / "student"
    result = launch(
        "distill.py",
        *("--teachers", str(teacher), "--unlabelled_file", str(tmp_path / "unlabelled.txt")),
        *(
            "--teacher_cache_dir",
            str(tmp_path / "cache"),
            "--model_name_or_path",
            str(tiny_encoder_factory("distilbert")),
        ),
        *("--pooling", "mean", "--scheme", "ten", "--max_length", "48", "--output_dir", str(out)),
        *("--train_file", str(paths["train"]), "--validation_file", str(paths["validation"])),
        *("--test_file", str(paths["test"]), "--learning_rate", "0.003", "--num_train_epochs", "1"),
        *("--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "8"),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # The main process scores 325 + 3 texts; the other waits for it and reads its cache.
    assert result.stderr.count("scoring 328 texts") == 1, result.stderr[-3000:]
    assert result.stderr.count("logits of 328 texts read from the cache") == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["rows"]["test"] == 41
    assert metrics["distillation"]["rows"] == {"labelled": 325, "unlabelled": 3}
    assert metrics["distillation"]["teachers"][0]["logits_from_cache"] is False
