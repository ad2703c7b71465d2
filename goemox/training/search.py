"""Hyperparameter search with Optuna through `Trainer.hyperparameter_search`, resumable and shareable by workers.

Search spaces (parameter names are `goemox train` option names, so `best_params.json` feeds `--params`):

| parameter | "standard" range |
|---|---|
| learning_rate | 1e-5 to 3e-4, log scale |
| per_device_train_batch_size | 16, 32, 64 |
| weight_decay | 0 to 0.1 |
| encoder_hidden_dropout | 0 to 0.2 |
| encoder_attention_dropout | 0 to 0.2 |
| label_smoothing_factor | 0 to 0.15 |
| warmup_steps (a fraction of all steps) | 0 to 0.2 |
| num_train_epochs | 2 to 6 (integer) |

"pos-weight" adds the compact positive-weight parametrisation `clip((neg/pos) ** power, 1, cap)` with
`pos_weight_power` in 0 to 1 and `pos_weight_cap` in 1 to 30 (log scale): two numbers for any number of
labels instead of one weight per label. "loss" adds the choice of loss, `loss` in {bce, asymmetric}, with the
asymmetric loss's `asl_gamma_neg` in 0 to 6, `asl_gamma_pos` in {0, 1} and `asl_clip` in 0 to 0.1, and
`pos_weight_strategy` in {none, frequency} (focusing and positive weights both favour rare labels); a `bce` trial
ignores the `asl_*` values. A YAML/JSON file (`--space_file`) overrides or adds entries, e.g.
`learning_rate: {type: float, low: 5e-5, high: 2e-4, log: true}`, `per_device_train_batch_size:
{type: categorical, choices: [32]}`, or removes one with `null`.

Each trial reports validation macro-F1 after every epoch (step = epoch, so trials with different batch sizes
compare); its objective is the best epoch's value. The pruner (`--pruner`) stops weak trials at an epoch:
`median` below the median of earlier trials there, `successive_halving` outside the best 1 in
`--pruner_reduction_factor` at epochs 1, 3, 9, ..., `hyperband` several successive-halving brackets up to the
space's largest epoch count; early stopping ends a trial whose macro-F1 stops improving.

The first trial of a new study is the default recipe (`--enqueue_defaults`): the searched parameters at the
values the same options give `goemox train`, so the search measures the recipe it is meant to improve on.
Only the worker that creates the study enqueues it (the database refuses a second study of the same name), so
a resumed or shared study never gets it twice. A default outside the space (`--num_train_epochs 5` with epochs
2 to 4) is not enqueued; a warning says which.

Persistence and several workers: the study lives in an Optuna RDB storage (`sqlite:///OUTPUT_DIR/search.db`
by default, or any database URL such as `postgresql://user@host/db`), with a heartbeat: a trial whose worker
was killed stops beating, is marked failed after the grace period, and is re-queued with the same
parameters. `Trainer.hyperparameter_search` passes no callbacks to `study.optimize` and counts `n_trials` per
call, so each worker calls it for one trial at a time and first counts the study's trials: completed, pruned,
running and queued trials all count towards `n_trials`. Remaining race: two workers that count at the same
moment may both start a trial, so a study can end with up to (workers - 1) trials more than asked; never
fewer, and no trial is lost.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from goemox.data import tokenize_dataset
from goemox.errors import GoEmoXError, GoEmoXUsageError, TrainingDivergedError
from goemox.evaluation.metrics import make_compute_metrics
from goemox.file_io import prepare_output_folder, read_mapping_file, write_json_atomically
from goemox.labels import get_label_scheme
from goemox.training.arguments import DataArguments, ModelArguments, check_max_length, read_model_config, run_inputs
from goemox.training.trainer import GoEmoXTrainer
from goemox.training.training_args import GoEmoXTrainingArguments

logger = logging.getLogger(__name__)

STANDARD_SPACE: dict[str, dict] = {
    "learning_rate": {"type": "float", "low": 1e-5, "high": 3e-4, "log": True},
    "per_device_train_batch_size": {"type": "categorical", "choices": [16, 32, 64]},
    "weight_decay": {"type": "float", "low": 0.0, "high": 0.1},
    "encoder_hidden_dropout": {"type": "float", "low": 0.0, "high": 0.2},
    "encoder_attention_dropout": {"type": "float", "low": 0.0, "high": 0.2},
    "label_smoothing_factor": {"type": "float", "low": 0.0, "high": 0.15},
    "warmup_steps": {"type": "float", "low": 0.0, "high": 0.2},
    "num_train_epochs": {"type": "int", "low": 2, "high": 6},
}
POS_WEIGHT_SPACE: dict[str, dict] = {
    **STANDARD_SPACE,
    "pos_weight_power": {"type": "float", "low": 0.0, "high": 1.0},
    "pos_weight_cap": {"type": "float", "low": 1.0, "high": 30.0, "log": True},
}
LOSS_SPACE: dict[str, dict] = {
    **STANDARD_SPACE,
    "loss": {"type": "categorical", "choices": ["bce", "asymmetric"]},
    "asl_gamma_neg": {"type": "float", "low": 0.0, "high": 6.0},
    "asl_gamma_pos": {"type": "categorical", "choices": [0.0, 1.0]},
    "asl_clip": {"type": "float", "low": 0.0, "high": 0.1},
    "pos_weight_strategy": {"type": "categorical", "choices": ["none", "frequency"]},
}
SPACES = {"standard": STANDARD_SPACE, "pos-weight": POS_WEIGHT_SPACE, "loss": LOSS_SPACE}
FINISHED_OR_TAKEN = ("COMPLETE", "PRUNED", "RUNNING", "WAITING")
PRUNERS = ("median", "successive_halving", "hyperband", "none")
"""The values of `--pruner`: how weak trials are stopped, compared per epoch."""


@dataclass
class SearchArguments:
    """Options of `goemox search`."""

    n_trials: int = field(default=20, metadata={"help": "Trials the study should hold in total (all workers)."})
    timeout: float | None = field(default=None, metadata={"help": "Seconds after which this worker starts no trial."})
    space: str = field(default="standard", metadata={"help": "standard | pos-weight | loss", "choices": list(SPACES)})
    space_file: str | None = field(default=None, metadata={"help": "YAML/JSON overriding search ranges."})
    storage: str | None = field(default=None, metadata={"help": "Database URL (default sqlite in output_dir)."})
    study_name: str = field(default="goemox-search", metadata={"help": "Study to create or resume."})
    sampler_seed: int | None = field(default=None, metadata={"help": "Seed of the TPE sampler."})
    pruner: str = field(
        default="median",
        metadata={"help": f"{' | '.join(PRUNERS)}: how weak trials are stopped, compared per epoch."},
    )
    pruning: bool = field(default=True, metadata={"help": "false is --pruner none (kept for older configs)."})
    pruner_startup_trials: int = field(
        default=4, metadata={"help": "Median pruner: completed trials before pruning starts."}
    )
    pruner_reduction_factor: int = field(
        default=3, metadata={"help": "Successive halving / Hyperband: 1 in this many trials goes on at each rung."}
    )
    enqueue_defaults: bool = field(
        default=True, metadata={"help": "A new study's first trial is the default recipe (these options' values)."}
    )
    heartbeat_interval: int = field(default=30, metadata={"help": "Seconds between a running trial's heartbeats."})
    grace_period: int = field(default=120, metadata={"help": "Seconds without heartbeat before a trial is failed."})

    def __post_init__(self):
        if self.pruner not in PRUNERS:
            raise GoEmoXUsageError(f"--pruner must be one of {', '.join(PRUNERS)}, got {self.pruner!r}")
        if self.pruner_startup_trials < 0:
            raise GoEmoXUsageError(f"--pruner_startup_trials must be at least 0, got {self.pruner_startup_trials}")
        if self.pruner_reduction_factor < 2:
            raise GoEmoXUsageError(f"--pruner_reduction_factor must be at least 2, got {self.pruner_reduction_factor}")
        if self.n_trials < 1:
            raise GoEmoXUsageError(f"--n_trials must be at least 1, got {self.n_trials}")


def search_space(name: str, space_file: str | None = None) -> dict[str, dict]:
    """The named space with a file's overrides applied (`null` removes a parameter)."""
    space = dict(SPACES[name])
    if space_file:
        for key, spec in read_mapping_file(space_file).items():
            if spec is None:
                space.pop(key, None)
                continue
            if not isinstance(spec, dict) or spec.get("type") not in ("float", "int", "categorical"):
                raise GoEmoXUsageError(
                    f"{space_file}: {key}: expected a mapping with type float | int | categorical, got {spec!r}"
                )
            space[key] = spec
    return space


def suggest(trial, space: dict[str, dict]) -> dict:
    """Draw one value per parameter of `space` from an Optuna trial."""
    params = {}
    for name, spec in space.items():
        if spec["type"] == "categorical":
            params[name] = trial.suggest_categorical(name, spec["choices"])
        elif spec["type"] == "int":
            params[name] = trial.suggest_int(name, int(spec["low"]), int(spec["high"]), log=spec.get("log", False))
        else:
            params[name] = trial.suggest_float(name, spec["low"], spec["high"], log=spec.get("log", False))
    return params


def largest_epoch_count(space: dict[str, dict], training_args: GoEmoXTrainingArguments) -> int:
    """The most epochs a trial can run: the top of the space's `num_train_epochs`, else the fixed option.

    Example:

    ```python
    >>> largest_epoch_count({"num_train_epochs": {"type": "int", "low": 2, "high": 4}}, args)  # doctest: +SKIP
    4
    ```"""
    spec = space.get("num_train_epochs")
    if spec is None:
        top = training_args.num_train_epochs
    elif spec["type"] == "categorical":
        top = max(spec["choices"])
    else:
        top = spec["high"]
    return max(1, math.ceil(top))


def make_pruner(search_args: SearchArguments, max_epochs: int):
    """The Optuna pruner `--pruner` names; its steps are epochs (1, 2, ...), as `GoEmoXTrainer` reports them.

    Args:
        search_args: `pruner` (`pruning=False` means `"none"`), `pruner_startup_trials` (median) and
            `pruner_reduction_factor` (successive halving, Hyperband).
        max_epochs: Hyperband's largest resource, the most epochs a trial runs (see `largest_epoch_count`).

    Example:

    ```python
    >>> make_pruner(SearchArguments(pruner="hyperband"), max_epochs=4)  # doctest: +ELLIPSIS
    <optuna.pruners._hyperband.HyperbandPruner object at ...>
    ```"""
    import optuna

    name = search_args.pruner if search_args.pruning else "none"
    factor = search_args.pruner_reduction_factor
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=search_args.pruner_startup_trials, n_warmup_steps=0)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=factor)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs, reduction_factor=factor)
    return optuna.pruners.NopPruner()


def encoder_default_dropouts(model_name_or_path: str) -> dict[str, float]:
    """The hidden and attention dropout of an encoder's (or a trained goemox model's encoder's) config."""
    from goemox.modeling_goemox import ATTENTION_DROPOUT_NAMES, HIDDEN_DROPOUT_NAMES

    config = read_model_config(model_name_or_path)
    config = getattr(config, "encoder", None) or config
    found = {}
    for param, names in (
        ("encoder_hidden_dropout", HIDDEN_DROPOUT_NAMES),
        ("encoder_attention_dropout", ATTENTION_DROPOUT_NAMES),
    ):
        name = next((n for n in names if hasattr(config, n)), None)
        if name is not None:
            found[param] = float(getattr(config, name))
    return found


def in_space(value, spec: dict) -> bool:
    """Whether `value` is one Optuna can draw from `spec` (a categorical choice, or inside the bounds)."""
    if spec["type"] == "categorical":
        return value in spec["choices"]
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    if spec["type"] == "int" and value != int(value):
        return False
    return spec["low"] <= value <= spec["high"]


def default_params(
    space: dict[str, dict], model_args: ModelArguments, training_args: GoEmoXTrainingArguments
) -> tuple[dict, list[str]]:
    """The default recipe as trial parameters: each searched parameter at the value these options train with.

    Returns the parameters and, for each one that has no value or one outside `space`, a reason; the recipe can
    be enqueued only when there is no reason.

    Args:
        space: the search space (parameter names are option names).
        model_args: the encoder dropouts (unset: the encoder's own).
        training_args: every other parameter.

    Example:

    ```python
    >>> space = {"learning_rate": {"type": "float", "low": 1e-5, "high": 3e-4, "log": True}}
    >>> default_params(space, ModelArguments("enc"), GoEmoXTrainingArguments("runs/x"))  # doctest: +SKIP
    ({'learning_rate': 5e-05}, [])
    ```"""
    values = {name: getattr(training_args, name) for name in space if hasattr(training_args, name)}
    dropouts = [name for name in ("encoder_hidden_dropout", "encoder_attention_dropout") if name in space]
    unset = [name for name in dropouts if getattr(model_args, name) is None]
    own = encoder_default_dropouts(model_args.model_name_or_path) if unset else {}
    for name in dropouts:
        value = getattr(model_args, name)
        if value is None:
            value = own.get(name)
        if value is not None:
            values[name] = value
    params, reasons = {}, []
    for name, spec in space.items():
        if name not in values:
            reasons.append(f"{name} has no default")
            continue
        value = values[name]
        if not in_space(value, spec):
            bounds = spec["choices"] if spec["type"] == "categorical" else f"{spec['low']} to {spec['high']}"
            reasons.append(f"{name}={value} is outside the space ({bounds})")
            continue
        if spec["type"] == "categorical":
            params[name] = next(choice for choice in spec["choices"] if choice == value)
        else:
            params[name] = int(value) if spec["type"] == "int" else float(value)
    return params, reasons


def open_study(optuna, storage, study_name: str) -> tuple[object, bool]:
    """The study named `study_name` in `storage`, and whether this call created it.

    Creation is one insert under the database's unique study name, so of several workers starting together
    exactly one learns that it created the study.
    """
    try:
        return optuna.create_study(storage=storage, study_name=study_name, direction="maximize"), True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(storage=storage, study_name=study_name), False


def enqueue_default_recipe(study, params: dict, reasons: list[str], progress: Callable[[str], None]) -> bool:
    """Enqueue `params` as the study's next trial, or warn why not (`reasons` non-empty); return whether it was."""
    if reasons:
        logger.warning("the default recipe is not enqueued as the first trial: %s", "; ".join(reasons))
        return False
    study.enqueue_trial(params, user_attrs={"goemox_default_recipe": True})
    progress(f"enqueued the default recipe as the first trial: {json.dumps(params)}")
    return True


def make_storage(search_args: SearchArguments, output_dir: str):
    """An RDB storage with heartbeats; killed workers' trials are failed and re-queued."""
    import optuna
    import sqlalchemy
    from optuna.storages import RDBStorage, RetryFailedTrialCallback

    url = storage_url(search_args, output_dir)
    # SQLite serialises writers: wait for the lock instead of failing when several workers write at once.
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}

    def connect() -> RDBStorage:
        return RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=search_args.heartbeat_interval,
            grace_period=search_args.grace_period,
            heartbeat_stale_trial_callback=RetryFailedTrialCallback(max_retry=3),
        )

    for attempt in range(4):
        try:
            return connect(), optuna
        except sqlalchemy.exc.SQLAlchemyError:
            # Workers starting together race to create the schema; the others find it made on the next try.
            time.sleep(1.0 + attempt)
    return connect(), optuna


def trial_counts(study) -> dict[str, int]:
    """Number of trials per state name."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def run_search(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: GoEmoXTrainingArguments,
    search_args: SearchArguments,
    progress: Callable[[str], None] = logger.info,
) -> dict:
    """Run (or resume, or join) a study until it holds `n_trials` finished trials; write its reports.

    Writes `trials.csv`, `best_params.json`, `study.json`, `optimization_history.png` and
    `param_importances.png` to `training_args.output_dir`. Returns the content of `best_params.json`.

    Args:
        model_args: the encoder to search on.
        data_args: the data (validation split for the objective).
        training_args: fixed options; searched ones are overwritten per trial.
        search_args: trials, space, storage, pruner and whether a new study starts with the default recipe.
        progress: where one line per finished trial goes (default: this module's logger).
    """
    from transformers import AutoTokenizer, set_seed

    from goemox.training.adaptation import build_model
    from goemox.training.data_setup import (
        buckets_within_max_length,
        load_data,
        several_corpora_setup,
        sources_compute_metrics,
    )

    check_max_length(model_args, data_args)
    out = prepare_output_folder(training_args.output_dir, True, run_inputs(model_args, data_args), "--output_dir")
    space = search_space(search_args.space, search_args.space_file)
    scheme = get_label_scheme(data_args.resolved_scheme())
    raw, _ = load_data(data_args, scheme)
    sources, training_args = several_corpora_setup(
        data_args, buckets_within_max_length(training_args, data_args), raw, scheme
    )
    tokenizer = AutoTokenizer.from_pretrained(model_args.tokenizer_name or model_args.model_name_or_path)
    tokenized = tokenize_dataset(raw, tokenizer, max_length=data_args.max_length)
    storage, optuna = make_storage(search_args, str(out))
    study, created = open_study(optuna, storage, search_args.study_name)
    if created and search_args.enqueue_defaults:
        enqueue_default_recipe(study, *default_params(space, model_args, training_args), progress)

    current: dict = {}

    def model_init(trial=None):
        set_seed(training_args.seed)
        params = trial.params if trial is not None else {}
        current["trial"] = trial.number if trial is not None else None
        dropouts = {
            name: params[name] for name in ("encoder_hidden_dropout", "encoder_attention_dropout") if name in params
        }
        return build_model(replace(model_args, **dropouts), scheme)

    worker_dir = out / f"worker-{os.getpid()}"
    trial_args = replace(
        training_args, output_dir=str(worker_dir), save_strategy="no", load_best_model_at_end=False, report_to=[]
    )
    trainer = GoEmoXTrainer(
        model_init=model_init,
        args=trial_args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        compute_metrics=prune_diverged(sources_compute_metrics(sources, scheme) or make_compute_metrics(scheme.labels)),
    )
    sampler = optuna.samplers.TPESampler(seed=search_args.sampler_seed)
    pruner = make_pruner(search_args, largest_epoch_count(space, training_args))
    started = time.monotonic()
    while (finished := next_trial(study, search_args, started, progress)) is not None:
        try:
            trainer.hyperparameter_search(
                hp_space=lambda trial: suggest(trial, space),
                compute_objective=lambda metrics: metrics[f"eval_{trial_args.metric_for_best_model}"],
                n_trials=1,
                direction="maximize",
                backend="optuna",
                storage=storage,
                study_name=search_args.study_name,
                load_if_exists=True,
                sampler=sampler,
                pruner=pruner,
            )
        except ValueError as err:  # transformers asks for the best trial, which a study gets once one completes
            trials = study.get_trials(deepcopy=False)
            pruned = current.get("trial") is not None and trials[current["trial"]].state.name == "PRUNED"
            if isinstance(err, GoEmoXError) or not pruned or trial_counts(study).get("COMPLETE"):
                raise
        last = study.get_trials(deepcopy=False)[current["trial"]]
        shutil.rmtree(worker_dir, ignore_errors=True)
        value = "-" if last.value is None else f"{last.value:.4f}"
        progress(
            f"trial {last.number}: {last.state.name.lower()}, validation macro-F1 {value}, "
            f"{finished + 1}/{search_args.n_trials} finished, params {json.dumps(last.params)}"
        )
    return write_reports(study, search_args, storage_url(search_args, str(out)), out)


def prune_diverged(compute_metrics: Callable) -> Callable:
    """A trial's `compute_metrics` that prunes a trial whose training diverged (the sampled learning rate too high):
    the study records it, with the reason, and the search goes on instead of stopping.

    Args:
        compute_metrics: the run's `compute_metrics`.

    Example:
        >>> trainer_metrics = prune_diverged(make_compute_metrics(["joy", "anger"]))  # doctest: +SKIP
    """
    import optuna

    def compute(eval_pred):
        try:
            return compute_metrics(eval_pred)
        except TrainingDivergedError as err:
            raise optuna.TrialPruned(str(err)) from None

    return compute


def next_trial(study, search_args: SearchArguments, started: float, progress: Callable[[str], None]) -> int | None:
    """Wait until this worker may start a trial; return the number of finished trials then, or `None` when the
    study holds `n_trials` finished trials or the worker's timeout has passed."""
    import optuna

    while True:
        optuna.storages.fail_stale_trials(study)
        counts = trial_counts(study)
        finished = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0)
        taken = sum(counts.get(state, 0) for state in FINISHED_OR_TAKEN)
        if finished >= search_args.n_trials:
            return None
        if search_args.timeout is not None and time.monotonic() - started > search_args.timeout:
            progress(f"timeout reached after {finished} finished trials")
            return None
        if taken < search_args.n_trials or counts.get("WAITING"):
            return finished
        time.sleep(search_args.heartbeat_interval)  # the rest are running elsewhere, or will go stale


def storage_url(search_args: SearchArguments, output_dir: str) -> str:
    """The study's database URL: the one given, or SQLite in the output folder."""
    return search_args.storage or f"sqlite:///{Path(output_dir).resolve() / 'search.db'}"


def write_reports(study, search_args: SearchArguments, url: str, out: Path) -> dict:
    """trials.csv, best_params.json, study.json and the Optuna plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as optuna_plots

    frame = study.trials_dataframe(attrs=("number", "value", "state", "duration", "params"))
    frame["duration_s"] = frame["duration"].dt.total_seconds()
    frame.drop(columns=["duration"]).to_csv(out / "trials.csv", index=False)
    completed = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not completed:
        counts = ", ".join(f"{n} {state.lower()}" for state, n in trial_counts(study).items())
        raise GoEmoXUsageError(f"study {search_args.study_name!r} has no completed trial ({counts or 'no trial'})")
    best = study.best_trial
    resume = {"study_name": search_args.study_name, "storage": url, "space": search_args.space}
    result = {
        "params": best.params,
        "value": best.value,
        "trial": best.number,
        **resume,
        "trials": {state: n for state, n in trial_counts(study).items()},
    }
    write_json_atomically(out / "best_params.json", result)
    write_json_atomically(out / "study.json", resume)
    optuna_plots.plot_optimization_history(study)
    plt.gcf().set_size_inches(8, 5)
    plt.tight_layout()
    plt.savefig(out / "optimization_history.png", dpi=110)
    plt.close("all")
    if len(completed) >= 2:
        optuna_plots.plot_param_importances(study)
        plt.gcf().set_size_inches(8, 5)
        plt.tight_layout()
        plt.savefig(out / "param_importances.png", dpi=110)
        plt.close("all")
    return result
