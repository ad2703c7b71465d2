"""Smoke tests of the benchmark scripts on tiny data, so they keep working (no timing is asserted)."""

import argparse
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import starts_processes

from goemox.labels import get_label_scheme

pytestmark = starts_processes  # the scripts run jobs, search workers and a process per runner

REPO = Path(__file__).resolve().parents[1]
WORDS = {0: "great admire", 15: "thanks grateful", 2: "angry furious", 17: "happy joy", 27: "the a of"}


@pytest.fixture(scope="module")
def tiny_goemotions(tmp_path_factory) -> Path:
    """A GoEmotions-format folder (TSV: text, label ids, id) with 80 / 20 / 20 rows."""
    folder = tmp_path_factory.mktemp("goemotions")
    rng = random.Random(0)
    for name, rows in (("train.tsv", 80), ("dev.tsv", 20), ("test.tsv", 20)):
        lines = []
        for i in range(rows):
            ids = rng.sample(sorted(WORDS), k=rng.choice([1, 1, 2]))
            text = " ".join(WORDS[j] for j in ids) + f" {i}"
            lines.append(f"{text}\t{','.join(map(str, ids))}\tid{i}")
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def run_script(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def test_quality_script(tiny_goemotions, tiny_encoder_factory, tmp_path):
    out = tmp_path / "quality.json"
    run_script(
        "quality.py",
        "--data",
        str(tiny_goemotions),
        "--encoder",
        str(tiny_encoder_factory("bert")),
        "--mode",
        "subset",
        "--seeds",
        "0",
        "1",
        "--jobs",
        "2",
        "--plain_epochs",
        "1",
        "--goemox_epochs",
        "2",
        "--work",
        str(tmp_path / "work"),
        "--out",
        str(out),
        cwd=tmp_path,
    )
    result = json.loads(out.read_text())
    for recipe in ("plain", "goemox"):
        summary = result["recipes"][recipe]
        assert summary["seeds"] == [0, 1]
        assert set(summary["test"]["macro_f1"]) == {"mean", "std"}
        low, high = summary["macro_f1_bootstrap_95_per_seed"][0]
        assert 0.0 <= low <= high <= 1.0
        assert len(summary["per_class_f1_mean"]) == 28
    assert result["mode"] == "subset" and result["subset_rows"]["max_train_samples"] == 1000


def test_train_speed_script(tiny_goemotions, tiny_encoder_factory, tmp_path):
    out = tmp_path / "speed.json"
    run_script(
        "train_speed.py",
        "--data",
        str(tiny_goemotions),
        "--encoder",
        str(tiny_encoder_factory("bert")),
        "--steps",
        "6",
        "--warmup",
        "2",
        "--recipes",
        "plain",
        "goemox",
        "goemox-buckets",
        "goemox-buckets-reduce-overhead",
        "--buckets",
        "8",
        "16",
        "--validate",
        "--work",
        str(tmp_path / "work"),
        "--out",
        str(out),
        cwd=tmp_path,
    )
    runs = json.loads(out.read_text())["runs"]
    assert runs["plain"]["speedup_vs_plain"] == runs["plain"]["repeat_shape_speedup_vs_plain"] == 1.0
    assert runs["goemox"]["steady_samples_per_second"] > 0
    assert runs["goemox"]["steps"] == runs["plain"]["steps"] == runs["goemox-buckets"]["steps"] == 6
    assert runs["goemox"]["pad_to_buckets"] is None
    bucketed = runs["goemox-buckets"]
    assert bucketed["pad_to_buckets"] == [8, 16, 128] and bucketed["speedup_vs_plain"] > 0
    assert bucketed["distinct_padded_lengths"] <= 3  # the tiny rows are longer than 8 tokens, never 128
    for run in (runs["plain"], runs["goemox"], bucketed):
        assert run["validation"]["rows"] == 20 and 0.0 <= run["validation"]["macro_f1"] <= 1.0
    if not torch.cuda.is_available():
        assert "CUDA" in runs["goemox-buckets-reduce-overhead"]["skipped"]


def test_infer_speed_script(tiny_goemotions, tiny_encoder_factory, tmp_path):
    out = tmp_path / "infer.json"
    run_script(
        "infer_speed.py",
        "--data",
        str(tiny_goemotions),
        "--encoder",
        str(tiny_encoder_factory("bert")),
        "--rows",
        "20",
        "--threads",
        "1",
        "--work",
        str(tmp_path / "work"),
        "--out",
        str(out),
        cwd=tmp_path,
    )
    result = json.loads(out.read_text())
    runs = result["runs"]
    assert set(runs) == {"pipeline_bs1", "pipeline_bs32", "goemox", "goemox_bf16", "onnx_fp32", "onnx_int8"}
    assert not runs["onnx_fp32"]["torch_imported"] and not runs["onnx_int8"]["torch_imported"]
    assert runs["goemox"]["torch_imported"] and runs["goemox"]["startup_vs_goemox"] == 1.0
    assert all(run["startup_seconds"] > 0 for run in runs.values())
    assert runs["pipeline_bs1"]["label_agreement_with_pipeline_bs1"] == 1.0
    assert runs["goemox"]["label_agreement_with_goemox"] == runs["goemox"]["speedup_vs_goemox"] == 1.0
    # The same model and thresholds: goemox's and the fp32 ONNX label sets match (up to float rounding).
    assert runs["goemox"]["label_agreement_with_pipeline_bs1"] >= 0.9
    assert runs["onnx_fp32"]["label_agreement_with_goemox"] >= 0.9
    assert 0.0 <= runs["onnx_int8"]["label_agreement_with_goemox"] <= 1.0
    assert result["onnx_export"]["parity"]["fp32"]["max_abs_probability_difference"] <= 1e-4
    assert result["rows"] == 20 and len(result["load_average_at_end"]) == 3
    assert all(run["sentences"] == 20 and run["peak_rss_mib"] > 0 for run in runs.values())
    assert all(len(run["load_average_before"]) == 3 for run in runs.values())


def test_search_quality_script(tiny_goemotions, tiny_encoder_factory, tmp_path):
    out = tmp_path / "search.json"
    run_script(
        "search_quality.py",
        "--data",
        str(tiny_goemotions),
        "--encoder",
        str(tiny_encoder_factory("bert")),
        "--train_rows",
        "60",
        "--n_trials",
        "2",
        "--workers",
        "2",
        "--pruners",
        "hyperband+defaults",  # one search keeps the test as cheap as before; several entries run in a loop
        "--work",
        str(tmp_path / "work"),
        "--out",
        str(out),
        cwd=tmp_path,
    )
    result = json.loads(out.read_text())
    assert list(result["searches"]) == ["hyperband+defaults"]
    search = result["searches"]["hyperband+defaults"]
    assert search["pruner"] == "hyperband" and search["enqueue_defaults"] is True
    finished = search["trial_states"].get("COMPLETE", 0) + search["trial_states"].get("PRUNED", 0)
    assert 2 <= finished <= 3
    assert search["search_wall_in_full_runs"] > 0 and search["trial_epochs"] >= finished
    assert search["default_trial"]["validation_macro_f1"] >= 0
    assert set(search["searched_params"]["test"]) == {
        "macro_f1",
        "micro_f1",
        "roc_auc_macro",
        "hamming_score",
        "subset_accuracy",
    }


def test_calibration_methods_script(tiny_goemotions, tiny_encoder_factory, tiny_tokenizer, tmp_path):
    from goemox import GoEmoXForSequenceClassification
    from goemox.labels import get_label_scheme

    model = GoEmoXForSequenceClassification.from_encoder(
        str(tiny_encoder_factory("bert")), get_label_scheme("goemotions")
    )
    model.save_pretrained(tmp_path / "model")
    tiny_tokenizer.save_pretrained(tmp_path / "model")
    out = tmp_path / "calibration.json"
    run_script(
        "calibration_methods.py",
        "--model",
        str(tmp_path / "model"),
        "--data",
        str(tiny_goemotions),
        "--out",
        str(out),
        cwd=tmp_path,
    )
    result = json.loads(out.read_text())
    methods = {"none", "temperature", "per_label_temperature", "platt"}
    assert set(result["results"]) == methods == set(result["selection"]["ece"])
    assert result["chosen"] == min(result["selection"]["ece"], key=result["selection"]["ece"].get)
    assert result["rows"] == {"validation": 20, "test": 20}
    fit = {name: r["validation"]["nll"] for name, r in result["results"].items()}
    # Each fit minimises validation NLL over a family that holds the identity (and one T for all labels).
    assert fit["per_label_temperature"] <= fit["temperature"] + 1e-6 <= fit["none"] + 2e-6
    assert fit["platt"] <= fit["none"] + 1e-6

    # A model with a folded calibration is measured on its logits before it: the same numbers.
    from goemox.calibration.logit_map import LogitMap, fold_logit_map

    fold_logit_map(model, LogitMap("platt", tuple([0.5] * 28), tuple([1.0] * 28)))
    model.save_pretrained(tmp_path / "calibrated")
    tiny_tokenizer.save_pretrained(tmp_path / "calibrated")
    again = tmp_path / "again.json"
    run_script("calibration_methods.py", "--model", str(tmp_path / "calibrated"), "--data", str(tiny_goemotions),
               "--out", str(again), cwd=tmp_path)  # fmt: skip
    repeated = json.loads(again.read_text())
    # The fold is undone in float32 and each map is fitted again to its optimizer's tolerance: measured up to 1e-4
    # apart with one torch thread (an xdist worker). Measured on the calibrated logits, the NLL would move by far more.
    for name in methods:
        assert repeated["results"][name]["test"]["nll"] == pytest.approx(
            result["results"][name]["test"]["nll"], abs=5e-4
        )


def test_long_text_script(tiny_goemotions, keyword_model, tmp_path):
    (tmp_path / "ood").mkdir()
    for name, lines in (
        ("hackernews_titles.txt", ["Show HN: a parser", "Why tabs"]),
        ("github_flask_text.txt", ["fix docs"]),
    ):
        (tmp_path / "ood" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "long.json"
    run_script("long_text.py", "--model", str(keyword_model), "--data", str(tiny_goemotions), "--ood",
               str(tmp_path / "ood"), "--texts", "12", "--median_words", "40", "--max_length", "32", "--out", str(out),
               cwd=tmp_path)  # fmt: skip
    result = json.loads(out.read_text())
    runs = result["runs"]
    assert set(runs) == {"truncate", "window_max", "window_mean"}
    assert runs["truncate"]["speed_vs_truncate"] == 1.0 and runs["truncate"]["label_change_rate_vs_truncate"] == 0.0
    assert 0.0 < result["texts"]["share_over_max_length"] <= 1.0 and result["texts"]["count"] == 12
    assert runs["window_max"]["long_text"]["windows"] > runs["truncate"]["long_text"]["windows"] == 12
    assert sum(result["texts"]["inserted_sentence_placement"].values()) == 12
    assert result["model"] == keyword_model.name  # the folder's name, no path of this machine


def test_int8_agreement_script(tiny_goemotions, tiny_encoder_factory, tiny_tokenizer, tmp_path):
    from goemox import GoEmoXForSequenceClassification
    from goemox.labels import GOEMOTIONS_LABELS

    model = tmp_path / "model"
    torch.manual_seed(0)
    GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), GOEMOTIONS_LABELS).save_pretrained(
        model
    )
    tiny_tokenizer.save_pretrained(model)
    ood = tmp_path / "ood"
    ood.mkdir()
    (ood / "news.txt").write_text("Markets fall again\nNew bridge opens\n\n", encoding="utf-8")
    (ood / "code.txt").write_text("Fix the parser\n", encoding="utf-8")
    out = tmp_path / "int8.json"
    args = ["--model", str(model), "--data", str(tiny_goemotions), "--ood", str(ood), "--alone_rows", "8"]
    run_script("int8_agreement.py", *args, "--work", str(tmp_path / "work"), "--out", str(out), cwd=tmp_path)
    result = json.loads(out.read_text())
    assert result["domains"] == {"goemotions_validation": 20, "code": 1, "news": 2}
    # goemox's and the static int8 score a text the same alone and in a batch; the other figures are measured,
    # whatever they are.
    for name in ("goemox_int8", "static_int8"):
        batch = result["results"][name]["batch_dependence"]
        assert batch["max_abs_probability_difference_alone_vs_batch_64"] <= 1e-5 and batch["texts"] == 8
    assert result["results"]["goemox_int8"]["ood_all"]["texts"] == 3
    for name in ("goemox_int8", "static_int8", "dynamic_int8"):
        entry = result["results"][name]
        assert 0.0 <= entry["goemotions_validation"]["label_agreement"] <= 1.0
        assert entry["macro_f1_difference_vs_fp32"] == pytest.approx(
            entry["goemotions_validation_macro_f1"] - result["results"]["fp32"]["goemotions_validation_macro_f1"]
        )
    assert result["export_record"]["quantization"]["block_size"] == 32
    assert result["speed"]["texts"] == 20 and result["speed"]["graphs"]["fp32"]["vs_fp32"] == 1.0
    assert set(result["machine"]["cpu_flags"]) >= {"avx2", "avx512_vnni"}


def strings(value) -> list[str]:
    """Every string in a JSON value."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return [value] if isinstance(value, str) else []


def test_recipes_script(tiny_goemotions, tiny_encoder_factory, tmp_path):
    unlabelled = tmp_path / "tweets.tsv"
    unlabelled.write_text("text\tlabel\n" + "".join(f"i feel great and thanks {i}\tjoy\n" for i in range(12)))
    out, work = tmp_path / "recipes.json", tmp_path / "work"
    options = (
        *(
            "--data",
            str(tiny_goemotions),
            "--encoder",
            str(tiny_encoder_factory("bert")),
            "--unlabelled",
            str(unlabelled),
        ),
        *("--seeds", "0", "1", "--jobs", "2", "--epochs", "1", "--max_length", "32", "--max_unlabelled_samples", "10"),
        *("--work", str(work), "--out", str(out)),
    )
    result = run_script("recipes.py", *options, cwd=tmp_path)
    summary = json.loads(out.read_text())
    assert set(summary["arms"]) == {"recipe", "asymmetric", "distilled", "distilled_carer"}
    for arm in summary["arms"].values():
        assert arm["seeds"] == [0, 1]
        for policy in ("fixed_0.5", "global", "per_label"):
            for split in ("validation", "test"):
                assert set(arm["policies"][policy][split]["macro_f1"]) == {"mean", "std"}
        assert len(arm["per_label_test_f1_mean"]) == 28
        assert set(arm["rare_labels_test_f1"]) == {"grief", "nervousness", "pride", "relief"}
    runs = {(run["arm"], run["seed"]): run for arm in summary["arms"].values() for run in arm["runs"]}
    assert runs["asymmetric", 0]["options"]["loss"] == "asymmetric"
    teachers = [os.path.relpath(work / f"recipe_seed{seed}", REPO) for seed in (0, 1)]  # no path of this machine
    for seed in (0, 1):
        carer = runs["distilled_carer", seed]["distillation"]
        assert [teacher["source"] for teacher in carer["teachers"]] == teachers
        assert carer["rows"] == {"labelled": 80, "unlabelled": 10}
        assert runs["distilled", seed]["distillation"]["rows"] == {"labelled": 80, "unlabelled": 0}
        thresholds = runs["recipe", seed]["policies"]["global"]["thresholds"]
        assert len(set(thresholds)) == 1 and len(thresholds) == 28
    # Each text set was scored once by each teacher; the other seed's student read the cache.
    distilled = [run for (arm, _), run in runs.items() if arm.startswith("distilled")]
    cached = sorted(teacher["logits_from_cache"] for run in distilled for teacher in run["distillation"]["teachers"])
    assert cached == [False] * 4 + [True] * 4
    assert summary["ensemble"]["members"] == 2 and summary["selected_on_validation"] in summary["arms"]
    table = out.with_suffix(".md").read_text()
    assert "| ensemble of the 2 teachers | per_label |" in table and table in result.stdout
    assert not any(value.startswith("/") for value in strings(summary))  # no absolute path of this machine
    made_before = json.loads((work / "recipe_seed0.json").read_text())  # a run made before --select_on existed
    del made_before["config"]["select_on"]
    (work / "recipe_seed0.json").write_text(json.dumps(made_before))
    again = run_script("recipes.py", *options, cwd=tmp_path)  # every run is there: nothing is trained again
    assert "started" not in again.stdout
    # A run's saved probabilities are of the rows it was scored on; for other rows (a smoke run's subsets) the model
    # scores them afresh.
    spec = importlib.util.spec_from_file_location("recipes_script", REPO / "bench" / "recipes.py")
    recipes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipes)
    rows = {"test": (["thanks so much", "i am so angry", "the a of"], None)}
    fresh = recipes.model_probabilities(argparse.Namespace(max_length=32), str(work / "recipe_seed0"), rows)
    assert fresh["test"].shape == (3, 28)

    # Ekman's groups instead of the 28 labels, in a work folder of their own; the 28-label runs are not taken for them.
    one_seed = [*options[: options.index("--seeds")], "--seeds", "0", "--max_length", "32", "--epochs", "1"]
    ekman = [*one_seed, "--scheme", "ekman", "--select_on", "macro_f1_tuned", "--arms", "asymmetric"]
    ekman += ["--out", str(tmp_path / "ekman.json")]
    run_script("recipes.py", *ekman, "--work", str(tmp_path / "work_ekman"), cwd=tmp_path)
    ekman_arm = json.loads((tmp_path / "ekman.json").read_text())["arms"]["asymmetric"]
    assert list(ekman_arm["per_label_test_f1_mean"]) == list(get_label_scheme("ekman").labels)
    assert ekman_arm["rare_labels_test_f1"] == {} and ekman_arm["runs"][0]["config"]["scheme"] == "ekman"
    ekman_run = json.loads((tmp_path / "work_ekman" / "asymmetric_seed0" / "run_config.json").read_text())
    assert ekman_run["training"]["metric_for_best_model"] == "macro_f1_tuned"
    mixed = subprocess.run(
        [sys.executable, str(REPO / "bench" / "recipes.py"), *ekman, "--work", str(work)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert mixed.returncode != 0 and "asymmetric_seed0.json was made with other options" in mixed.stderr

    # Teachers made elsewhere (here: one model of each trained arm) instead of the recipe models of every seed.
    named = [work / "recipe_seed1", work / "asymmetric_seed0"]
    elsewhere = [*one_seed, "--teachers", *map(str, named), "--work", str(tmp_path / "work2")]
    run_script("recipes.py", *elsewhere, "--arms", "distilled", "--out", str(tmp_path / "named.json"), cwd=tmp_path)
    named_summary = json.loads((tmp_path / "named.json").read_text())
    student = named_summary["arms"]["distilled"]["runs"][0]["distillation"]
    assert [teacher["source"] for teacher in student["teachers"]] == [os.path.relpath(path, REPO) for path in named]
    assert named_summary["ensemble"]["members"] == 2 and not (tmp_path / "work2" / "recipe_seed0").exists()
    # Named teachers do not depend on --seeds: a student of another seed, made by a call with other seeds, joins the
    # summary of a call with the first ones.
    seed_one = [*elsewhere[: elsewhere.index("--seeds") + 1], "1", *elsewhere[elsewhere.index("--seeds") + 2 :]]
    run_script("recipes.py", *seed_one, "--arms", "distilled", "--out", str(tmp_path / "seed1.json"), cwd=tmp_path)
    # A run is reused by a call whose other options it does not read: the recipe run made with seeds 0 and 1 and no
    # teachers, beside the student above; an option the student reads stops the call instead.
    for seed in (0, 1):
        shutil.copytree(work / f"recipe_seed{seed}", tmp_path / "work2" / f"recipe_seed{seed}")
        shutil.copy(work / f"recipe_seed{seed}.json", tmp_path / "work2")
    reused = run_script(
        "recipes.py", *elsewhere, "--arms", "recipe", "distilled", "--out", str(tmp_path / "reused.json"), cwd=tmp_path
    )
    assert "started" not in reused.stdout
    reused_arms = json.loads((tmp_path / "reused.json").read_text())["arms"]  # every run in the folder, any seed
    assert reused_arms["recipe"]["seeds"] == [0, 1] and reused_arms["distilled"]["seeds"] == [0, 1]
    stopped = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "recipes.py"),
            *elsewhere,
            "--arms",
            "distilled",
            "--distill_alpha",
            "0.3",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert stopped.returncode != 0 and "distilled_seed0.json was made with other options" in stopped.stderr


WORKER_SCRIPT = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from bench.lightweight import end_with_launcher, run_workers
work = Path(sys.argv[1])
if "--worker" in sys.argv:
    end_with_launcher()
    (work / "pid.tmp").write_text(str(os.getpid()))
    os.replace(work / "pid.tmp", work / "worker.pid")
    time.sleep(120)
else:
    run_workers(__file__, [("sleep", 0)], work, 1)
"""


def ended(pid: int) -> bool:
    """Whether process `pid` is gone (or a zombie nobody has reaped yet)."""
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" in status.read_text()
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's")
def test_workers_end_with_their_benchmark(tmp_path):
    script = tmp_path / "sleeper.py"
    script.write_text(WORKER_SCRIPT.format(repo=str(REPO)))
    launcher = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    pid_file, deadline = tmp_path / "worker.pid", time.monotonic() + 120
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    worker = int(pid_file.read_text())
    launcher.kill()  # SIGKILL: the launcher cannot pass anything on
    launcher.wait()
    deadline = time.monotonic() + 30
    while not ended(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ended(worker)
    # A worker whose benchmark ended before it could ask for the signal stops at once.
    orphan = subprocess.run(
        [sys.executable, str(script), str(tmp_path), "--worker", "sleep", "0"],
        capture_output=True,
        text=True,
        env={**os.environ, "GOEMOX_BENCH_LAUNCHER_PID": str(launcher.pid)},
        timeout=120,
    )
    assert orphan.returncode == 1 and "the benchmark that started this worker has ended" in orphan.stderr


def test_recipes_script_work_folder_that_cannot_be(tmp_path):
    taken = tmp_path / "notes.txt"
    taken.write_text("the user's notes")
    stopped = subprocess.run(
        [sys.executable, str(REPO / "bench" / "recipes.py"), "--arms", "asymmetric", "--work", str(taken)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert stopped.returncode == 1
    assert stopped.stderr.strip() == f"--work {taken}: cannot be a folder here (File exists)"
    assert taken.read_text() == "the user's notes"


def test_ood_by_loss_script(tiny_goemotions, keyword_model, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("Show HN: a parser\nfix docs\nWhy tabs\n", encoding="utf-8")
    out = tmp_path / "ood.json"
    run_script("ood_by_loss.py", "--models", f"kw={keyword_model}", "--in_domain",
               f"goemotions={tiny_goemotions}:validation", "--domains", f"other={other}", "--out", str(out),
               cwd=tmp_path)  # fmt: skip
    result = json.loads(out.read_text())
    assert result["in_domain"]["texts"] == 20 and result["domains"]["other"]["texts"] == 3
    for score in ("negative_energy", "max_probability"):
        measured = result["models"]["kw"][score]
        assert set(measured["auroc"]) == {"other"} and 0.0 <= measured["auroc"]["other"] <= 1.0
        assert measured["flagged"]["goemotions"] <= 0.05  # the cutoff is the 0.05 quantile of the in-domain texts
    assert not [text for text in strings(result) if text.startswith("/")]  # no path of this machine

    missing = subprocess.run(
        [sys.executable, str(REPO / "bench" / "ood_by_loss.py"), "--models", f"x={tmp_path / 'nothing'}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert missing.returncode == 1 and missing.stderr.strip().endswith(f"not a goemox model folder: {tmp_path}/nothing")
