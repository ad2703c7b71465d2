"""Optuna search on tiny models: reports, resuming, shared studies, killed workers, and `train --params`."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import optuna
import pytest
import sqlalchemy
from conftest import starts_processes

import goemox.training.trainer
from goemox.cli.parsing import parse_command
from goemox.cli.train import COMMANDS
from goemox.errors import GoEmoXUsageError
from goemox.training.arguments import DataArguments, ModelArguments
from goemox.training.search import (
    LOSS_SPACE,
    POS_WEIGHT_SPACE,
    STANDARD_SPACE,
    SearchArguments,
    default_params,
    enqueue_default_recipe,
    make_pruner,
    open_study,
    run_search,
    search_space,
)
from goemox.training.training_args import GoEmoXTrainingArguments

SMALL_SPACE = """\
learning_rate: {type: float, low: 1.0e-3, high: 5.0e-3, log: true}
per_device_train_batch_size: {type: categorical, choices: [32, 64]}
num_train_epochs: {type: int, low: 1, high: 2}
encoder_attention_dropout: null
"""


# Holds the default recipe of `--learning_rate 2e-3 --num_train_epochs 1` (batch 32, the encoder's own dropout).
DEFAULTS_INSIDE = """\
learning_rate: {type: float, low: 1.0e-3, high: 5.0e-3, log: true}
per_device_train_batch_size: {type: categorical, choices: [32, 64]}
num_train_epochs: {type: int, low: 1, high: 2}
weight_decay: null
label_smoothing_factor: null
warmup_steps: null
encoder_attention_dropout: null
"""


def search(tmp_path, encoder, n_trials, study="s", space=SMALL_SPACE, training=None, progress=None, **kwargs):
    (tmp_path / "space.yaml").write_text(space)
    return run_search(
        ModelArguments(model_name_or_path=str(encoder), pooling="mean"),
        DataArguments(dataset="demo", max_length=32),
        GoEmoXTrainingArguments(
            output_dir=str(tmp_path / "out"), use_cpu=True, disable_tqdm=True, report_to="none", **(training or {})
        ),
        SearchArguments(
            n_trials=n_trials, space_file=str(tmp_path / "space.yaml"), study_name=study, sampler_seed=0, **kwargs
        ),
        progress=progress or (lambda line: None),
    )


def test_spaces_and_overrides(tmp_path):
    assert set(STANDARD_SPACE) == {
        "learning_rate",
        "per_device_train_batch_size",
        "weight_decay",
        "encoder_hidden_dropout",
        "encoder_attention_dropout",
        "label_smoothing_factor",
        "warmup_steps",
        "num_train_epochs",
    }
    assert set(POS_WEIGHT_SPACE) - set(STANDARD_SPACE) == {"pos_weight_power", "pos_weight_cap"}
    (tmp_path / "space.yaml").write_text(SMALL_SPACE)
    space = search_space("pos-weight", str(tmp_path / "space.yaml"))
    assert "encoder_attention_dropout" not in space and "pos_weight_cap" in space
    assert space["num_train_epochs"] == {"type": "int", "low": 1, "high": 2}
    (tmp_path / "bad.yaml").write_text("learning_rate: {low: 1}\n")
    with pytest.raises(GoEmoXUsageError, match=r"bad.yaml: learning_rate: expected a mapping with type"):
        search_space("standard", str(tmp_path / "bad.yaml"))


def test_pruner_option_maps_to_the_optuna_pruner(tmp_path):
    def search_args(*argv):
        return parse_command(COMMANDS["search"], ["--output_dir", str(tmp_path), *argv])[-1]

    assert search_args().pruner == "median" and search_args().enqueue_defaults is True
    assert search_args("--enqueue_defaults", "false").enqueue_defaults is False
    expected = {
        "median": optuna.pruners.MedianPruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "none": optuna.pruners.NopPruner,
    }
    for name, kind in expected.items():
        assert type(make_pruner(search_args("--pruner", name), max_epochs=4)) is kind, name
    hyperband = make_pruner(search_args("--pruner", "hyperband", "--pruner_reduction_factor", "2"), max_epochs=4)
    assert (hyperband._min_resource, hyperband._max_resource, hyperband._reduction_factor) == (1, 4, 2)
    halving = make_pruner(search_args("--pruner", "successive_halving"), max_epochs=4)
    assert (halving._min_resource, halving._reduction_factor) == (1, 3)
    assert type(make_pruner(search_args("--pruner", "hyperband", "--pruning", "false"), 4)) is optuna.pruners.NopPruner
    for argv, message in (
        (["--pruner", "asha"], r"^--pruner must be one of median, successive_halving, hyperband, none, got 'asha'$"),
        (["--pruner_reduction_factor", "1"], r"^--pruner_reduction_factor must be at least 2, got 1$"),
        (["--pruner_startup_trials", "-1"], r"^--pruner_startup_trials must be at least 0, got -1$"),
        (["--n_trials", "0"], r"^--n_trials must be at least 1, got 0$"),
    ):
        with pytest.raises(GoEmoXUsageError, match=message):
            search_args(*argv)


def test_default_recipe_as_trial_parameters(tmp_path, tiny_encoder_factory):
    encoder = ModelArguments(model_name_or_path=str(tiny_encoder_factory("distilbert")))
    args = GoEmoXTrainingArguments(output_dir=str(tmp_path), use_cpu=True, num_train_epochs=3)
    params, reasons = default_params(POS_WEIGHT_SPACE, encoder, args)
    assert reasons == []
    assert params == {
        "learning_rate": 5e-5,
        "per_device_train_batch_size": 32,
        "weight_decay": 0.01,
        "encoder_hidden_dropout": 0.1,  # DistilBertConfig's own `dropout` and `attention_dropout`
        "encoder_attention_dropout": 0.1,
        "label_smoothing_factor": 0.05,
        "warmup_steps": 0.1,
        "num_train_epochs": 3,
        "pos_weight_power": 0.5,
        "pos_weight_cap": 10.0,
    }
    assert type(params["num_train_epochs"]) is int  # an int parameter, though the option is a float
    narrow = {
        **STANDARD_SPACE,
        "num_train_epochs": {"type": "int", "low": 2, "high": 2},
        "per_device_train_batch_size": {"type": "categorical", "choices": [64]},
        "custom": {"type": "float", "low": 0.0, "high": 1.0},
    }
    given = ModelArguments(model_name_or_path=encoder.model_name_or_path, encoder_hidden_dropout=0.15)
    params, reasons = default_params(narrow, given, args)
    assert params["encoder_hidden_dropout"] == 0.15
    assert reasons == [
        "per_device_train_batch_size=32 is outside the space ([64])",
        "num_train_epochs=3 is outside the space (2 to 2)",
        "custom has no default",
    ]


def test_loss_space_holds_the_recipe_and_its_trials_train_with_the_loss_drawn(
    tmp_path, tiny_encoder_factory, monkeypatch
):
    assert set(search_space("loss")) - set(STANDARD_SPACE) == {
        "loss",
        "asl_gamma_neg",
        "asl_gamma_pos",
        "asl_clip",
        "pos_weight_strategy",
    }
    encoder = tiny_encoder_factory("distilbert")
    args = GoEmoXTrainingArguments(output_dir=str(tmp_path), use_cpu=True, num_train_epochs=3)
    params, reasons = default_params(LOSS_SPACE, ModelArguments(model_name_or_path=str(encoder)), args)
    assert reasons == []
    assert {key: params[key] for key in set(LOSS_SPACE) - set(STANDARD_SPACE)} == {
        "loss": "bce",
        "asl_gamma_neg": 4.0,
        "asl_gamma_pos": 0.0,
        "asl_clip": 0.05,
        "pos_weight_strategy": "frequency",
    }
    seen = []
    original = goemox.training.trainer.asymmetric_loss_with_logits

    def recording(logits, labels, gamma_neg, gamma_pos, clip, *rest):
        seen.append((gamma_neg, gamma_pos, clip))
        return original(logits, labels, gamma_neg, gamma_pos, clip, *rest)

    monkeypatch.setattr(goemox.training.trainer, "asymmetric_loss_with_logits", recording)
    space = SMALL_SPACE + (
        "loss: {type: categorical, choices: [asymmetric]}\n"
        "asl_gamma_neg: {type: float, low: 2.0, high: 2.0}\n"
        "asl_clip: {type: float, low: 0.02, high: 0.02}\n"
    )
    result = search(tmp_path, encoder, 1, space=space, enqueue_defaults=False)
    assert result["params"]["loss"] == "asymmetric"
    assert seen and set(seen) == {(2.0, 0.0, 0.02)}


def test_only_the_worker_that_creates_a_study_is_told_so(tmp_path):
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    first, created = open_study(optuna, storage, "shared")
    second, created_again = open_study(optuna, storage, "shared")
    assert (created, created_again) == (True, False)
    assert first._study_id == second._study_id


def test_default_recipe_is_enqueued_once_and_not_on_resume(tmp_path, tiny_encoder_factory):
    encoder = tiny_encoder_factory("distilbert")
    lines = []
    recipe = {"learning_rate": 2e-3, "num_train_epochs": 1}
    search(tmp_path, encoder, 1, space=DEFAULTS_INSIDE, training=recipe, progress=lines.append, pruner="hyperband")
    search(tmp_path, encoder, 2, space=DEFAULTS_INSIDE, training=recipe, progress=lines.append, pruner="hyperband")
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'out' / 'search.db'}")
    assert [t.state.name for t in study.trials] in (["COMPLETE", "COMPLETE"], ["COMPLETE", "PRUNED"])
    first, second = study.trials
    assert first.user_attrs == {"goemox_default_recipe": True} and second.user_attrs == {}
    assert first.params == {
        "learning_rate": 2e-3,
        "per_device_train_batch_size": 32,
        "num_train_epochs": 1,
        "encoder_hidden_dropout": 0.1,
    }
    assert sum(line.startswith("enqueued the default recipe") for line in lines) == 1


def test_a_default_outside_the_space_is_not_enqueued(tmp_path, caplog):
    study = optuna.create_study(direction="maximize")
    lines = []
    reasons = ["num_train_epochs=5.0 is outside the space (1 to 2)"]
    with caplog.at_level("WARNING", logger="goemox.training.search"):
        assert enqueue_default_recipe(study, {"learning_rate": 2e-3}, reasons, lines.append) is False
    assert study.trials == [] and lines == []
    assert "the default recipe is not enqueued as the first trial: num_train_epochs=5.0 is outside" in caplog.text
    assert enqueue_default_recipe(study, {"learning_rate": 2e-3}, [], lines.append) is True
    assert [t.state.name for t in study.trials] == ["WAITING"] and len(lines) == 1


def test_search_writes_reports_and_resumes_without_repeating(tmp_path, tiny_encoder_factory):
    encoder = tiny_encoder_factory("distilbert")
    result = search(tmp_path, encoder, n_trials=3)
    out = tmp_path / "out"
    for name in ("trials.csv", "best_params.json", "study.json", "optimization_history.png", "param_importances.png"):
        assert (out / name).is_file(), name
    assert result["trials"].get("COMPLETE", 0) + result["trials"].get("PRUNED", 0) == 3
    assert set(result["params"]) == {
        "learning_rate",
        "per_device_train_batch_size",
        "num_train_epochs",
        "weight_decay",
        "encoder_hidden_dropout",
        "label_smoothing_factor",
        "warmup_steps",
    }
    header = (out / "trials.csv").read_text().splitlines()[0]
    for column in ("number", "value", "state", "duration_s", "params_learning_rate"):
        assert column in header
    again = search(tmp_path, encoder, n_trials=4)  # resumes the stored study: one more trial, not four
    assert sum(again["trials"].get(s, 0) for s in ("COMPLETE", "PRUNED")) == 4
    assert sum(again["trials"].values()) == 4


def test_a_trial_whose_training_diverges_is_pruned_and_the_search_goes_on(tmp_path, tiny_encoder_factory):
    encoder, lines = tiny_encoder_factory("distilbert"), []
    diverging = SMALL_SPACE.replace("low: 1.0e-3, high: 5.0e-3", "low: 1.0e+29, high: 1.0e+30")
    with pytest.raises(GoEmoXUsageError, match=r"^study 's' has no completed trial \(1 pruned\)$"):
        search(tmp_path, encoder, n_trials=1, space=diverging, progress=lines.append)
    assert lines[-1].startswith("trial 0: pruned, validation macro-F1 -, 1/1 finished")
    assert not list((tmp_path / "out").glob("worker-*"))
    result = search(tmp_path, encoder, n_trials=2, progress=lines.append)  # the same study, a space that trains
    assert result["trials"] == {"PRUNED": 1, "COMPLETE": 1} and result["trial"] == 1
    assert 1e-3 <= result["params"]["learning_rate"] <= 5e-3


def test_a_trial_that_fails_otherwise_still_stops_the_search(tmp_path, tiny_encoder_factory, monkeypatch):
    def failing_metrics(*args, **kwargs):
        def compute(eval_pred):
            raise ValueError("a bug, not a divergence")

        return compute

    monkeypatch.setattr("goemox.training.search.make_compute_metrics", failing_metrics)
    with pytest.raises(ValueError, match="a bug, not a divergence"):
        search(tmp_path, tiny_encoder_factory("distilbert"), n_trials=2)


def test_train_with_searched_params(tmp_path):
    best = {
        "params": {
            "learning_rate": 0.002,
            "per_device_train_batch_size": 64,
            "encoder_hidden_dropout": 0.05,
            "num_train_epochs": 2,
        },
        "value": 0.5,
    }
    (tmp_path / "best_params.json").write_text(json.dumps(best))
    model_args, _, training_args, _ = parse_command(
        COMMANDS["train"],
        ["--params", str(tmp_path / "best_params.json"), "--num_train_epochs", "3", "--output_dir", str(tmp_path)],
    )
    assert training_args.learning_rate == 0.002 and training_args.per_device_train_batch_size == 64
    assert training_args.num_train_epochs == 3  # flags win over the params file
    assert model_args.encoder_hidden_dropout == 0.05
    (tmp_path / "not_params.json").write_text("{}")
    with pytest.raises(GoEmoXUsageError, match="expected a best_params.json"):
        parse_command(COMMANDS["train"], ["--params", str(tmp_path / "not_params.json")])


def worker_command(tmp_path, encoder, n_trials, extra=()):
    return [
        sys.executable,
        "-m",
        "goemox",
        "search",
        "--model_name_or_path",
        str(encoder),
        "--pooling",
        "mean",
        "--dataset",
        "demo",
        "--max_length",
        "32",
        "--use_cpu",
        "true",
        "--disable_tqdm",
        "true",
        "--output_dir",
        str(tmp_path / "out"),
        "--n_trials",
        str(n_trials),
        "--space_file",
        str(tmp_path / "space.yaml"),
        "--study_name",
        "shared",
        "--heartbeat_interval",
        "1",
        "--grace_period",
        "3",
        *extra,
    ]


def study_counts(tmp_path) -> dict:
    study = optuna.load_study(study_name="shared", storage=f"sqlite:///{(tmp_path / 'out' / 'search.db').resolve()}")
    counts = {}
    for trial in study.trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def counts_if_created(tmp_path) -> dict:
    """Trial counts, or none while the worker has made the database file but not yet the study (or is still
    writing its schema: reading then races the worker's own schema creation)."""
    try:
        return study_counts(tmp_path)
    except (KeyError, sqlalchemy.exc.SQLAlchemyError):
        return {}


ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@starts_processes
def test_two_workers_share_one_study(tmp_path, tiny_encoder_factory):
    (tmp_path / "space.yaml").write_text(SMALL_SPACE)
    (tmp_path / "out").mkdir()
    encoder = tiny_encoder_factory("distilbert")
    workers = [
        subprocess.Popen(
            worker_command(tmp_path, encoder, 4), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs[0][-2000:] + outputs[1][-2000:]
    counts = study_counts(tmp_path)
    finished = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0)
    assert 4 <= finished <= 5  # the documented race: at most (workers - 1) extra trials
    assert all(any("trial " in line for line in output.splitlines()) for output in outputs), "both workers ran trials"


@starts_processes
def test_killed_worker_trial_is_retried_and_nothing_is_lost(tmp_path, tiny_encoder_factory):
    (tmp_path / "space.yaml").write_text(SMALL_SPACE.replace("low: 1, high: 2", "low: 2, high: 2"))
    (tmp_path / "out").mkdir()
    encoder = tiny_encoder_factory("distilbert")
    worker = subprocess.Popen(
        worker_command(tmp_path, encoder, 2), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    db = tmp_path / "out" / "search.db"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # wait until its first trial is running
        if db.exists() and counts_if_created(tmp_path).get("RUNNING"):
            break
        time.sleep(0.5)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert study_counts(tmp_path).get("RUNNING") == 1
    time.sleep(4)  # longer than the grace period
    result = subprocess.run(worker_command(tmp_path, encoder, 2), env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    counts = study_counts(tmp_path)
    assert counts.get("FAIL") == 1  # the killed trial, re-queued with its parameters
    assert counts.get("COMPLETE", 0) + counts.get("PRUNED", 0) == 2
    assert "RUNNING" not in counts and "WAITING" not in counts


def postgres_url() -> str | None:
    url = os.environ.get("GOEMOX_TEST_POSTGRES_URL", "postgresql://goemox:goemox@127.0.0.1:5432/goemox")
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return None
    return url


@pytest.mark.skipif(postgres_url() is None, reason="no PostgreSQL server on 127.0.0.1:5432 (.ci/run starts one)")
def test_search_on_postgresql(tmp_path, tiny_encoder_factory):
    pytest.importorskip("psycopg", reason="install goemox[postgres] for PostgreSQL storage")
    study = f"pg-{os.getpid()}-{int(time.time())}"
    result = search(tmp_path, tiny_encoder_factory("distilbert"), n_trials=2, study=study, storage=postgres_url())
    assert result["storage"].startswith("postgresql://")
    loaded = optuna.load_study(study_name=study, storage=postgres_url())
    assert len([t for t in loaded.trials if t.state.name in ("COMPLETE", "PRUNED")]) == 2


def test_a_search_folder_that_is_an_input_or_a_file_is_refused(tmp_path, tiny_encoder_factory):
    encoder = str(tiny_encoder_factory("distilbert"))
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    for output, message in (
        (encoder, f"^--output_dir {encoder} is the input {encoder}; "),
        (tmp_path / "notes.txt", f"^--output_dir {tmp_path}/notes.txt exists and is not a folder"),
    ):
        with pytest.raises(GoEmoXUsageError, match=message):
            run_search(
                ModelArguments(model_name_or_path=encoder),
                DataArguments(dataset="demo"),
                GoEmoXTrainingArguments(output_dir=str(output), use_cpu=True),
                SearchArguments(n_trials=1),
            )
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / "search.db").exists()
