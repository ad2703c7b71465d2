"""Model cards: the Hub README of a trained model, rendered from the run's own files.

Every number comes from the run folder: `metrics.json` (test and validation metrics, per-label F1, support and
thresholds, the per-epoch log gathered by `ModelCardCallback` while training), `run_config.json` (options, data
source, versions, search summary) and `config.json`; the measured out-of-domain behaviour comes from a
`goemox analyze` folder's `analysis.json` when one is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers import AutoConfig, TrainerCallback

from goemox.calibration.logit_map import LogitMap
from goemox.data.arguments import SPLIT_FILES, DataSourceArguments
from goemox.errors import GoEmoXUsageError
from goemox.exporters.native import published_architecture
from goemox.exporters.portable import is_hub_id, local_name
from goemox.file_io import read_json_object
from goemox.hub.published import PublishedResult, read_published_results
from goemox.inference.predictor import LONG_TEXT_CONFIG_KEYS
from goemox.resources import MODEL_CARD_TEMPLATE, resource
from goemox.run_folder import METRICS_FILE, RUN_CONFIG_FILE, StartingPoint, read_run_file

DESCRIPTION = (
    "A multi-label emotion classifier for short English texts, fine-tuned with goemox: a transformer encoder, a "
    "pooled embedding and a Linear + Tanh classification head, trained with {loss} and per-label decision thresholds "
    "tuned on validation data."
)
LOSS_TEXTS = {
    "bce": "binary cross-entropy",
    "asymmetric": "an asymmetric loss (asymmetric focusing with a probability margin for negatives)",
}

HYPERPARAMETERS = (
    ("learning_rate", "learning rate"),
    ("num_train_epochs", "epochs (maximum)"),
    ("per_device_train_batch_size", "batch size per device"),
    ("gradient_accumulation_steps", "gradient accumulation steps"),
    ("weight_decay", "weight decay"),
    ("warmup_steps", "warm-up (steps, or fraction when < 1)"),
    ("lr_scheduler_type", "schedule"),
    ("optim", "optimizer"),
    ("loss", "loss"),
    ("asl_gamma_neg", "asymmetric loss: negatives' focusing exponent"),
    ("asl_gamma_pos", "asymmetric loss: positives' focusing exponent"),
    ("asl_clip", "asymmetric loss: probability margin"),
    ("label_smoothing_factor", "label smoothing"),
    ("pos_weight_strategy", "positive weights"),
    ("pos_weight_power", "positive-weight exponent"),
    ("pos_weight_cap", "positive-weight cap"),
    ("early_stopping_patience", "early-stopping patience (epochs)"),
    ("metric_for_best_model", "checkpoint selected on"),
    ("seed", "seed"),
)


class ModelCardCallback(TrainerCallback):
    """Gathers the per-epoch training log for the model card while training runs.

    `run_training` stores `epochs` in `metrics.json`: one entry per epoch with the mean training loss,
    validation loss and validation macro-F1 at threshold 0.5 (what checkpoint selection saw), and for several corpora
    each source's validation macro-F1 (`eval_macro_f1_<source>`).
    """

    def __init__(self):
        self.epochs: dict[float, dict[str, float]] = {}

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None or state.epoch is None:
            return
        entry = self.epochs.setdefault(round(state.epoch, 4), {"epoch": round(state.epoch, 4)})
        for source, target in (("loss", "train_loss"), ("eval_loss", "eval_loss"), ("eval_macro_f1", "eval_macro_f1")):
            if source in logs:
                entry[target] = float(logs[source])
        for key, value in logs.items():  # several corpora: each source's validation macro-F1
            if key.startswith("eval_macro_f1_") and key != "eval_macro_f1_tuned":
                entry[key] = float(value)

    def epoch_log(self) -> list[dict[str, float]]:
        return [self.epochs[epoch] for epoch in sorted(self.epochs) if len(self.epochs[epoch]) > 1]


@dataclass
class ModelCardOptions:
    """Card metadata that the run folder cannot know.

    Args:
        repo_id: the Hub repository, used in the usage snippets (default: the model folder's name).
        license: the model's license identifier.
        language: language code(s).
        base_model: Hub id of the encoder, when the run loaded it from a local path.
        dataset_id: Hub id of the training data, when the run read it from local files.
        analysis_dir: a `goemox analyze` output folder with `analysis.json`.
        comparison_file: a YAML or JSON file of other models' published test macro-F1 on the same label scheme
            (`goemox.hub.published`), set beside this model's in the evaluation.
    """

    repo_id: str | None = field(
        default=None, metadata={"help": "Hub repository user/name (the card's usage snippets; `push` uploads to it)."}
    )
    license: str = field(default="apache-2.0", metadata={"help": "License identifier for the card."})
    language: str = field(default="en", metadata={"help": "Language code of the texts."})
    base_model: str | None = field(
        default=None, metadata={"help": "Hub id of the encoder, if the run loaded a local path."}
    )
    dataset_id: str | None = field(
        default=None, metadata={"help": "Hub id of the training data, if the run read local files."}
    )
    analysis_dir: str | None = field(
        default=None,
        metadata={"help": "A `goemox analyze` folder: its out-of-domain numbers.", "aliases": ["--analysis"]},
    )
    comparison_file: str | None = field(
        default=None,
        metadata={
            "help": "YAML/JSON file of published test macro-F1 on the same labels (scheme, results: model, "
            "test_macro_f1, how, parameters, source) to set beside this model's."
        },
    )


def read_analysis(analysis_dir: str | Path) -> dict:
    """The `analysis.json` of a `goemox analyze` folder, refusing a missing or invalid one."""
    path = Path(analysis_dir) / "analysis.json"
    if not path.is_file():
        raise GoEmoXUsageError(f"{path}: missing; the model card needs the analysis of a `goemox analyze` folder")
    return read_json_object(path)


def _fmt(value, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _summary_row(name: str, values: dict) -> list[str]:
    keys = ("macro_f1", "micro_f1", "roc_auc_macro", "hamming_score", "subset_accuracy")
    return [name] + [_fmt(values.get(key)) for key in keys]


def _eval_results(metrics: dict, dataset_type: str, dataset_name: str, config_name: str | None) -> list[EvalResult]:
    tuned = metrics["test"]["tuned"]
    common = {
        "task_type": "text-classification",
        "task_name": "Multi-label emotion classification",
        "dataset_type": dataset_type,
        "dataset_name": dataset_name,
        "dataset_config": config_name,
        "dataset_split": "test",
    }
    spec = (
        ("f1", "macro-F1 (tuned thresholds)", "macro", "macro_f1"),
        ("f1", "micro-F1 (tuned thresholds)", "micro", "micro_f1"),
        ("roc_auc", "ROC-AUC (macro)", "macro", "roc_auc_macro"),
        ("accuracy", "Hamming score (tuned thresholds)", "hamming", "hamming_score"),
    )
    return [
        EvalResult(metric_type=kind, metric_name=name, metric_config=config, metric_value=tuned[key], **common)
        for kind, name, config, key in spec
        if tuned.get(key) is not None
    ]


def _ood_rows(analysis: dict) -> list[list[str]]:
    rows = []
    for name, domain in analysis.get("domains", {}).items():
        rows.append(
            [
                name,
                str(domain.get("n_texts", "n/a")),
                _fmt(domain.get("neutral_share"), 3),
                _fmt(domain.get("collapse_rate"), 3),
                _fmt(domain.get("mean_max_probability"), 3),
                _fmt(domain.get("ood_auroc_max_probability"), 3),
                _fmt(domain.get("ood_auroc_energy"), 3),
            ]
        )
    return rows


def _bias_text(probe: dict) -> str:
    """One sentence per placeholder of a bias probe: how often swapping its terms changed the label set."""
    parts = []
    for placeholder, result in (probe.get("placeholders") or {}).items():
        labels = result.get("labels") or {}
        if not labels:
            continue
        label, moved = max(labels.items(), key=lambda item: item[1]["mean_abs_change"])
        parts.append(
            f"swapping `{placeholder}` across {len(result.get('terms', []))} terms in {result.get('n_templates')} "
            f"sentences changed the predicted label set of {result['label_set_flip_rate']:.1%} of them "
            f"(largest mean score change: `{label}`, {moved['mean_abs_change']:.3f})"
        )
    return "; ".join(parts)


@dataclass
class RunFiles:
    """What a card is rendered from: a run folder's files and the metadata options, read once.

    Attributes:
        folder: the run's output folder.
        options: the card metadata the run cannot know.
        metrics: `metrics.json`.
        run_config: `run_config.json`.
        config: the model's configuration (`config.json`).
        analysis: a `goemox analyze` folder's `analysis.json` (empty without `--analysis_dir`).
        published: the results of `options.comparison_file` (empty without one).
    """

    folder: Path
    options: ModelCardOptions
    metrics: dict
    run_config: dict
    config: object
    analysis: dict
    published: list[PublishedResult]

    @classmethod
    def read(cls, model_dir: str | Path, options: ModelCardOptions | None = None) -> RunFiles:
        """Read the files of `model_dir` (and of `options.analysis_dir` and `options.comparison_file`), refusing
        missing or invalid ones."""
        folder, options = Path(model_dir), options or ModelCardOptions()
        metrics = read_run_file(folder, METRICS_FILE, needed_by="the model card")
        run_config = read_run_file(folder, RUN_CONFIG_FILE, needed_by="the model card")
        analysis = read_analysis(options.analysis_dir) if options.analysis_dir else {}
        run = cls(folder, options, metrics, run_config, AutoConfig.from_pretrained(folder), analysis, [])
        if options.comparison_file:
            run = replace(run, published=read_published_results(options.comparison_file, run.scheme_name))
        return run

    @property
    def scheme_name(self) -> str:
        return self.metrics.get("label_scheme") or (self.config.label_scheme or {}).get("name") or "custom"

    @property
    def data_args(self) -> dict:
        return self.run_config["data"]

    @property
    def labels(self) -> list[str]:
        return [self.config.id2label[i] for i in range(self.config.num_labels)]

    @property
    def repo_id(self) -> str:
        return self.options.repo_id or self.folder.resolve().name

    @property
    def base_model(self) -> str | None:
        encoder = self.run_config["model"]["model_name_or_path"]
        return self.options.base_model or (encoder if is_hub_id(encoder) else None)

    @property
    def split_files(self) -> dict[str, str]:
        """The split files the run read, by option name (when given, `dataset` was not read)."""
        return DataSourceArguments(**{name: self.data_args.get(name) for name in SPLIT_FILES}).split_files()

    @property
    def dataset_id(self) -> str | None:
        source = None if self.split_files else self.data_args.get("dataset")
        return self.options.dataset_id or (source if is_hub_id(source) and source != "demo" else None)

    @property
    def dataset_name(self) -> str:
        source, files = self.data_args.get("dataset"), self.split_files
        if self.dataset_id or not files:
            return self.dataset_id or ("goemox demo set" if source == "demo" else Path(source or "local files").name)
        return ", ".join(Path(path).name for path in files.values())

    def source_text(self) -> str:
        """What the run read, as the card names it: the Hub dataset, the split files' names, or the local source."""
        if self.dataset_id:
            return f"`{self.dataset_id}`"
        if self.split_files:
            return ", ".join(
                f"{name.removesuffix('_file')} file `{Path(path).name}`" for name, path in self.split_files.items()
            )
        return f"`{local_name(self.data_args.get('dataset'))}`"

    @property
    def held_out_test(self) -> bool:
        return "test" in self.metrics and self.metrics["test"].get("held_out", False)


def card_metadata(run: RunFiles) -> ModelCardData:
    """The card's YAML metadata: license, language, tags, base model, dataset and the test results."""
    config_name = run.data_args.get("dataset_config") if run.dataset_id else None
    results = (
        _eval_results(run.metrics, run.dataset_id or "custom", run.dataset_name, config_name)
        if run.held_out_test
        else None
    )
    return ModelCardData(
        language=run.options.language,
        license=run.options.license,
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["goemox", "emotion", "multi-label-classification", "text-classification"],
        datasets=[run.dataset_id] if run.dataset_id else None,
        base_model=run.base_model,
        model_name=run.repo_id,
        eval_results=results,
    )


def loss_text(training: dict) -> str:
    """The loss a run was trained with, in words (runs made before `--loss` existed used binary cross-entropy)."""
    loss = training.get("loss", "bce")
    text = LOSS_TEXTS.get(loss, f"the `{loss}` loss")
    return "label-smoothed " + text if loss == "bce" and training.get("label_smoothing_factor") else text


def overview_section(run: RunFiles, architecture: str) -> dict:
    """The title, the description and the list of what the model is: architecture, labels, calibration, OOD flag."""
    config = run.config
    logit_map = LogitMap.stored(config)
    calibration_text = ""
    if logit_map is not None:
        calibration_text = (
            f"calibration ({logit_map.describe()}) fitted on validation is folded into the last layer, so the "
            "scores are calibrated probabilities as downloaded."
        )
    ood = getattr(config, "ood_cutoff", None)
    ood_text = (
        f"`config.json` stores `ood_cutoff` ({ood['score']} < {ood['cutoff']:.3f}, from {ood.get('source', 'n/a')}); "
        "goemox flags such texts as unlike the training data."
        if ood
        else ""
    )
    return {
        "title": run.repo_id.split("/")[-1],
        "description": DESCRIPTION.format(loss=loss_text(run.run_config["training"])),
        "architecture": architecture,
        "encoder_type": config.encoder.model_type,
        "base_model": run.base_model,
        "pooling_text": "first-token pooling" if config.pooling == "cls" else "mean pooling over tokens",
        "num_labels": len(run.labels),
        "scheme_text": f"label scheme `{run.scheme_name}`",
        "calibration_text": calibration_text,
        "ood_text": ood_text,
        "versions": run.run_config["versions"],
    }


def usage_section(run: RunFiles, native_blocker: str | None, onnx: bool = False) -> dict:
    """Which clients load the model and how: transformers natively or with remote code (and why), optimum and
    transformers.js when the folder holds ONNX files, text-embeddings-inference for a native class; each with the
    stored thresholds and the training length."""
    return {
        "native": native_blocker is None,
        "native_blocker": native_blocker,
        "repo_id": run.repo_id,
        "onnx": onnx,
        "max_length": run.data_args["max_length"],
        "long_text_window": getattr(run.config, LONG_TEXT_CONFIG_KEYS["mode"], None) == "window",
    }


def evaluation_section(run: RunFiles) -> dict:
    """The test summary table (tuned thresholds and 0.5) and the validation line."""
    metrics = run.metrics
    test_rows, test_heading = [], ""
    if "test" in metrics:
        test = metrics["test"]
        test_rows = [
            _summary_row("tuned on validation", test["tuned"]),
            _summary_row("0.5 for every label", test["fixed_0.5"]),
        ]
        test_heading = f"On the test split ({metrics['rows']['test']} rows), scored once after training" + (
            "."
            if run.held_out_test
            else ". **The test rows were also trained on (`--train_on` with test): not held out.**"
        )
    validation = (metrics.get("validation") or {}).get("per_class_thresholds")
    validation_row = (
        {"macro_f1": _fmt(validation["macro_f1"]), "micro_f1": _fmt(validation["micro_f1"])} if validation else None
    )
    return {
        "test_rows": test_rows,
        "test_heading": test_heading,
        "rows": metrics["rows"],
        "validation_row": validation_row,
        "published_rows": _published_rows(run),
        "published_file": Path(run.options.comparison_file or "").name,
    }


def _parameter_count(folder: Path) -> str:
    """The model's number of parameters, from the header of its `model.safetensors` (e.g. "22.7M")."""
    from safetensors import safe_open

    path = folder / "model.safetensors"
    if not path.is_file():
        return "n/a"
    with safe_open(str(path), framework="numpy") as weights:
        names = weights.keys()  # the file's tensors (the handle itself is not iterable)
        count = sum(math.prod(weights.get_slice(name).get_shape()) for name in names)
    return f"{count / 1e6:.1f}M"


def _published_rows(run: RunFiles) -> list[list[str]]:
    """This model's held-out test macro-F1 among the published ones, best first (empty without a comparison file)."""
    if not run.published or not run.held_out_test:
        return []
    seed = run.run_config["training"].get("seed")
    own = PublishedResult(
        model=f"**{run.repo_id.split('/')[-1]} (this model)**",
        test_macro_f1=run.metrics["test"]["tuned"]["macro_f1"],
        how="per-label thresholds tuned on validation; one run" + (f", seed {seed}" if seed is not None else ""),
        parameters=_parameter_count(run.folder),
        source="this card",
    )
    return [result.row() for result in sorted([*run.published, own], key=lambda r: -r.test_macro_f1)]


def labels_section(run: RunFiles) -> dict:
    """The per-label table: threshold, F1, precision, recall and support on test (else validation)."""
    metrics = run.metrics
    if "test" in metrics:
        per_label_source, per_class = "test", metrics["test"]["tuned"]["per_class"]
    elif metrics.get("validation"):
        per_label_source, per_class = "validation", metrics["validation"]["per_class_thresholds"]["per_class"]
    else:  # a final run trained on every split it had
        per_label_source, per_class = "held-out", {}
    missing = {"f1": None, "precision": None, "recall": None, "support": "n/a"}
    label_rows = []
    for name, threshold in zip(run.labels, metrics["thresholds"]):
        values = per_class.get(name, missing)
        scores = [_fmt(values[key], 3) for key in ("f1", "precision", "recall")]
        label_rows.append([name, _fmt(threshold, 2), *scores, str(values["support"])])
    return {"per_label_source": per_label_source, "label_rows": label_rows}


def _scheme_mapping_text(run: RunFiles) -> str:
    """Which GoEmotions labels each label groups, for a scheme that merges labels (empty otherwise)."""
    mapping = (run.config.label_scheme or {}).get("mapping")
    if not mapping or all(targets == [original] for original, targets in mapping.items()):
        return ""
    grouped: dict[str, list[str]] = {}
    for original, targets in mapping.items():
        for target in targets:
            grouped.setdefault(target, []).append(original)
    return "Each label groups these GoEmotions labels: " + "; ".join(
        f"**{target}**: {', '.join(grouped[target])}" for target in run.labels if target in grouped
    )


def data_section(run: RunFiles) -> dict:
    """Where the training data came from, the rows per split, truncation and the label scheme's grouping."""
    data_args = run.data_args
    limit = data_args.get("max_train_samples")
    data_text = (
        f"Source: {run.source_text()}, label scheme `{run.scheme_name}`. "
        "Rows: "
        + ", ".join(f"{split} {count:,}" for split, count in run.metrics["rows"].items())
        + f". Texts longer than {data_args['max_length']} tokens were truncated."
        + (f" Training used at most {limit:,} rows." if limit else "")
        + _distillation_text(run.metrics.get("distillation"))
    )
    return {"data_text": data_text, "scheme_mapping_text": _scheme_mapping_text(run), "source_rows": _source_rows(run)}


def _distillation_text(record: dict | None) -> str:
    """The sentence on the teachers and texts a distilled model (`goemox distill`) learnt from (empty otherwise)."""
    if not record:
        return ""
    teachers = ", ".join(
        f"`{local_name(teacher['source'])}`"
        + (f" (revision `{teacher['revision'][:12]}`)" if teacher["revision"] else "")
        for teacher in record["teachers"]
    )
    rows, unlabelled = record["rows"], record.get("unlabelled")
    texts = f"the {rows['labelled']:,} training texts" + (
        f" and {rows['unlabelled']:,} unlabelled texts of `{Path(unlabelled['source']).name}`" if unlabelled else ""
    )
    return (
        f" Distilled (`goemox distill`) from {len(record['teachers'])} teacher(s), {teachers}: on {texts}, the loss "
        f"weighed the teachers' mean probabilities at temperature {record['temperature']:g} by "
        f"{record['alpha']:g} and the gold labels by {1 - record['alpha']:g}."
    )


def _source_rows(run: RunFiles) -> list[list[str]]:
    """One row per corpus of a several-corpora run: its data, annotated labels, rows and per-corpus scores."""
    metrics, rows = run.metrics, []
    for source in metrics.get("sources") or []:
        name = source["name"]
        validation = (metrics.get("validation_by_source") or {}).get(name)
        test = (metrics.get("test_by_source") or {}).get(name)
        single = (test or validation or {}).get("single_label")
        annotates = source["annotates"]
        rows.append(
            [
                f"`{name}`",
                ", ".join(f"`{Path(path).name}`" for path in source["files"].values())
                or f"`{local_name(source['dataset'])}`",
                f"{len(annotates)}: {', '.join(annotates)}" if len(annotates) <= 8 else f"{len(annotates)}",
                f"{source['rows'].get('train', 0):,}",
                _fmt(validation["tuned"]["macro_f1"]) if validation else "n/a",
                _fmt(test["tuned"]["macro_f1"]) if test else "n/a",
                f"{_fmt(single['accuracy'])} / {_fmt(single['macro_f1'])} ({'test' if test else 'validation'})"
                if single
                else "n/a",
            ]
        )
    return rows


def hyperparameters_section(run: RunFiles) -> dict:
    """The hyperparameter table: the model's shape, then the training options that were set."""
    training, config = run.run_config["training"], run.config
    encoder = run.base_model or local_name(run.run_config["model"]["model_name_or_path"])
    hyperparameters = [
        ("encoder", f"`{encoder}`"),
        ("pooling", config.pooling),
        ("classifier dropout", config.classifier_dropout),
        ("max length (tokens)", run.data_args["max_length"]),
        ("threshold strategy", run.metrics.get("threshold_strategy")),
    ]
    start = run.metrics.get("initialised_from")
    if start and start["kind"] != "encoder":  # continued from a trained model: which output rows it kept
        hyperparameters.append(("initialised from", StartingPoint(**{**start, "source": f"`{encoder}`"}).summary()))
    unused = () if training.get("loss") == "asymmetric" else ("asl_gamma_neg", "asl_gamma_pos", "asl_clip")
    hyperparameters += [
        (title, training[key])
        for key, title in HYPERPARAMETERS
        if key in training and training[key] not in (None, "", []) and key not in unused
    ]
    return {"hyperparameters": hyperparameters}


def search_section(run: RunFiles) -> dict:
    """The sentence on the Optuna search the hyperparameters came from (empty without one)."""
    search = run.run_config.get("search")
    if not search:
        return {"search_text": ""}
    counts = ", ".join(f"{count} {state.lower()}" for state, count in search.get("trials", {}).items())
    params = ", ".join(
        f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in search["params"].items()
    )
    text = (
        f"The hyperparameters came from an Optuna search (`goemox search`, space `{search.get('space')}`, "
        f"trials: {counts}); the best trial ({search.get('trial')}) reached validation macro-F1 "
        f"{_fmt(search.get('value'))} with {params}."
    )
    return {"search_text": text}


def training_log_section(run: RunFiles) -> dict:
    """The per-epoch table and the sentence on how long training ran and which checkpoint was kept."""
    metrics = run.metrics
    epoch_rows = [
        [_fmt(e["epoch"], 2), _fmt(e.get("train_loss")), _fmt(e.get("eval_loss")), _fmt(e.get("eval_macro_f1"))]
        for e in metrics.get("epochs", [])
    ]
    best, epochs = metrics.get("best_epoch"), _fmt(metrics.get("epochs_trained"), 0)
    selection_text = (
        f"Trained {epochs} epochs in {_fmt(metrics.get('train_runtime_s'), 0)} s on {metrics.get('processes', 1)} "
        f"process(es); the checkpoint of epoch {_fmt(best, 0)} was kept (best validation macro-F1)."
        if best is not None
        else f"Trained {epochs} epochs on all listed splits with no early stopping."
    )
    return {"epoch_rows": epoch_rows, "selection_text": selection_text}


def domain_shift_section(run: RunFiles) -> dict:
    """The measured out-of-domain table of the limitations (empty without an analysis folder)."""
    return {"ood_rows": _ood_rows(run.analysis), "ood_in_domain": run.analysis.get("in_domain", "the first domain")}


def bias_section(run: RunFiles) -> dict:
    """The measured bias-probe sentence of the risks (empty without a probe in the analysis folder)."""
    return {"bias_text": _bias_text(run.analysis.get("bias_probe") or {})}


def render_model_card(
    model_dir: str | Path,
    *,
    options: ModelCardOptions | None = None,
    native: bool = True,
    onnx: bool = False,
) -> ModelCard:
    """Render the model card of a trained run with `huggingface_hub.ModelCard` and goemox's packaged template.

    Each section's template values come from one builder (`overview_section`, `usage_section`, ...); the
    citation is fixed text in the template.

    Args:
        model_dir: the run's output folder (`config.json`, `metrics.json`, `run_config.json`).
        options: metadata the run cannot know (license, Hub ids, analysis folder).
        native: whether the model is published as a native transformers class when its encoder and pooling
            allow it (as `goemox push` does by default).
        onnx: whether the folder holds `onnx/model.onnx` and `onnx/model_quantized.onnx`: the card then shows how
            optimum and transformers.js load them.

    Example:

    ```python
    >>> card = render_model_card("runs/demo", options=ModelCardOptions(repo_id="me/goemox-demo"))  # doctest: +SKIP
    >>> card.data.pipeline_tag  # doctest: +SKIP
    'text-classification'
    ```"""
    run = RunFiles.read(model_dir, options)
    architecture, native_blocker = published_architecture(run.config, native)
    sections = (
        overview_section(run, architecture),
        usage_section(run, native_blocker, onnx),
        evaluation_section(run),
        labels_section(run),
        data_section(run),
        hyperparameters_section(run),
        search_section(run),
        training_log_section(run),
        domain_shift_section(run),
        bias_section(run),
    )
    values = {key: value for section in sections for key, value in section.items()}
    return ModelCard.from_template(card_metadata(run), template_path=str(resource(MODEL_CARD_TEMPLATE)), **values)
