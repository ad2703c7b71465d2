"""`goemox analyze` (domain shift) and `goemox bias-probe` (identity-term swaps)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from goemox.cli.options import (
    BackendArguments,
    SavedModelArguments,
    check_at_least,
    label_map_field,
    overwrite_field,
)
from goemox.cli.parsing import Command, by_name
from goemox.errors import GoEmoXError, GoEmoXUsageError

ANALYZE_HELP = """Compare a model's predictions across domains: label distributions, collapse onto one label, confidence
and entropy histograms, Jensen-Shannon divergence between domains, and out-of-domain AUROC of the max probability and
of the energy score against the in-domain texts; with --labelled_domain, single-label scores of labelled texts in
their own labels. Writes report.md, analysis.json and PNG plots to --output_dir."""

DOMAIN_HELP = """NAME=SOURCE, given twice or more; the first is in-domain unless --in_domain says otherwise. SOURCE: a
.txt file (one text per line); a .csv/.tsv/.jsonl/.json file (column --text_column, or PATH:COLUMN); or DATASET:SPLIT,
a dataset goemox reads (GoEmotions TSV folder, save_to_disk folder, demo, Hub id) and its split (train, validation/dev,
test; test if left out)."""

LABELLED_DOMAIN_HELP = """NAME=SOURCE of labelled texts, scored in their own labels (repeatable): the rows with exactly
one label get accuracy, macro-F1, the majority baseline, F1 per label and a confusion heatmap in report.md and
analysis.json (`labelled_domains`). SOURCE: a .csv/.tsv/.jsonl/.json file (labels in --label_column; text in
--text_column or PATH:COLUMN), or DATASET:SPLIT. Labels are read with --label_map. Scored in full (--max_texts does not
apply); for its domain-shift figures give the same texts as a --domain too."""

TEMPLATES_HELP = """Sentences with [NAME]/[RELIGION]/[PERSON] placeholders: 'builtin' (packaged templates), a file, or
DATASET:SPLIT (e.g. the GoEmotions folder with :test)."""


@dataclass
class TextSourceArguments:
    """How analyses read their text sources.

    Args:
        text_column: the text column of CSV/TSV/JSONL sources.
        scheme: the label scheme dataset sources are parsed with (default: the model's).
        seed: the seed of any sampling.
    """

    text_column: str = field(default="text", metadata={"help": "Text column of CSV/TSV/JSONL sources."})
    scheme: str | None = field(
        default=None, metadata={"help": "Label scheme to parse dataset sources with (default: the model's)."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of the sampling."})


@dataclass
class BiasArguments:
    """The bias probe's templates and terms.

    Args:
        bias_terms: a JSON file of identity terms (default: the packaged ones).
        max_templates: at most this many templates per placeholder.
    """

    bias_terms: str | None = field(
        default=None, metadata={"help": "JSON file of identity terms (default: the packaged ones)."}
    )
    max_templates: int | None = field(default=None, metadata={"help": "At most N templates per placeholder."})

    def __post_init__(self) -> None:
        if self.max_templates is not None:
            check_at_least("max_templates", self.max_templates, 1)


@dataclass
class AnalyzeArguments:
    """What `goemox analyze` compares and writes (see `goemox analyze --help`)."""

    domain: list[str] = field(
        default_factory=list, metadata={"help": DOMAIN_HELP, "action": "extend", "metavar": "NAME=SOURCE"}
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "Folder for report.md, analysis.json and the plots (required)."}
    )
    overwrite: bool = overwrite_field("--output_dir")
    in_domain: str | None = field(default=None, metadata={"help": "Name of the in-domain domain (default: the first)."})
    max_texts: int | None = field(default=None, metadata={"help": "Sample at most N texts per domain (seeded)."})
    calibration_split: str = field(
        default="validation",
        metadata={
            "help": "For a dataset in-domain source: the split of the same dataset the OOD cutoff is computed on "
            "(default: validation; 'none' for no cutoff)."
        },
    )
    in_domain_validation: str | None = field(
        default=None,
        metadata={
            "help": "In-domain validation texts for the OOD cutoff (any SOURCE form); overrides --calibration_split.",
            "metavar": "SOURCE",
        },
    )
    ood_quantile: float = field(
        default=0.05, metadata={"help": "Share of validation texts below the cutoff (default 0.05)."}
    )
    ood_score: str = field(
        default="negative_energy",
        metadata={
            "help": "The score of the cutoff --store_ood_cutoff writes: the negative energy sum_k softplus(z_k) "
            "(default; it tells other domains apart far better on the reference model) or the max probability. "
            "The report shows both.",
            "choices": ["negative_energy", "max_probability"],
        },
    )
    store_ood_cutoff: bool = field(
        default=False,
        metadata={
            "help": "Write the cutoff into the model folder's config.json as ood_cutoff (rewritten atomically in "
            "place), or into a copy with --model_copy."
        },
    )
    model_copy: str | None = field(
        default=None, metadata={"help": "With --store_ood_cutoff: copy the model here first.", "metavar": "DIR"}
    )
    bias_probe: str | None = field(
        default=None, metadata={"help": "Also run the bias probe on these templates: " + TEMPLATES_HELP}
    )
    labelled_domain: list[str] = field(
        default_factory=list, metadata={"help": LABELLED_DOMAIN_HELP, "action": "extend", "metavar": "NAME=SOURCE"}
    )
    label_column: str = field(default="labels", metadata={"help": "Label column of --labelled_domain sources."})
    label_map: str | None = label_map_field()

    def __post_init__(self) -> None:
        from goemox.data.domains import split_domain_spec

        for spec in self.domain:
            split_domain_spec(spec)
        labelled = [split_domain_spec(spec, "--labelled_domain")[0] for spec in self.labelled_domain]
        repeated = sorted({name for name in labelled if labelled.count(name) > 1})
        if repeated:
            raise GoEmoXUsageError(f"--labelled_domain: the name {repeated[0]!r} is given twice; names must differ")
        if self.label_map and not self.labelled_domain:
            raise GoEmoXUsageError("--label_map only applies with --labelled_domain")
        if len(self.domain) < 2:
            raise GoEmoXUsageError("--domain NAME=SOURCE must be given at least twice (the in-domain texts and others)")
        if not self.output_dir:
            raise GoEmoXUsageError("--output_dir is required: the folder for report.md, analysis.json and the plots")
        if not 0.0 < self.ood_quantile < 1.0:
            raise GoEmoXUsageError(f"--ood_quantile must lie between 0 and 1, got {self.ood_quantile}")
        if self.max_texts is not None:
            check_at_least("max_texts", self.max_texts, 1)
        if self.model_copy and not self.store_ood_cutoff:
            raise GoEmoXUsageError("--model_copy only applies with --store_ood_cutoff")


@dataclass
class BiasProbeArguments:
    """What `goemox bias-probe` reads and writes."""

    templates: str = field(metadata={"help": TEMPLATES_HELP, "metavar": "SOURCE"})
    output_dir: str = field(metadata={"help": "Folder for report.md, analysis.json and the plots."})
    overwrite: bool = overwrite_field("--output_dir")


def validation_source(options: AnalyzeArguments, sources: TextSourceArguments, in_domain):
    """The in-domain validation source for the OOD cutoff, or None (see `--calibration_split`)."""
    from goemox.data.domains import parse_text_source

    if options.in_domain_validation:
        return parse_text_source(options.in_domain_validation, sources.text_column)
    if options.calibration_split.lower() == "none" or not in_domain.source.is_dataset:
        return None
    return parse_text_source(f"{in_domain.source.path}:{options.calibration_split}")


def parse_labelled_domains(options: AnalyzeArguments, sources: TextSourceArguments) -> list:
    """The `--labelled_domain` domains, refusing sources without labels (plain text files)."""
    from goemox.data.domains import parse_domain

    domains = [parse_domain(spec, sources.text_column, "--labelled_domain") for spec in options.labelled_domain]
    for domain, spec in zip(domains, options.labelled_domain):
        if not domain.source.is_dataset and domain.source.column is None:
            raise GoEmoXUsageError(
                f"--labelled_domain {spec!r}: {domain.source.path} is plain text without labels; expected a "
                ".csv/.tsv/.jsonl/.json file with a label column, or DATASET:SPLIT"
            )
    return domains


def labelled_domains_section(classifier, domains: list, options: AnalyzeArguments, report, folder: Path) -> dict:
    """Score each labelled domain in its own labels and add its report section; returns them for analysis.json."""
    from goemox.evaluation.label_bridge import score_in_data_labels, single_label_scores
    from goemox.evaluation.label_bridge_report import write_single_label_section

    report.heading("Labelled domains")
    report.text(
        "Labelled texts scored in their own labels: each row with exactly one label is predicted as the data label "
        "whose model labels reach the highest probability."
    )
    results = {}
    for domain in domains:
        source = domain.source
        if source.is_dataset:
            where = {"source": source.path, "split": source.split}
        else:  # a file is one split, read whole
            where = {"source": source.path, "split": "train", "validation_size": 0, "test_size": 0}
        try:
            scored, label_map = score_in_data_labels(
                classifier,
                label_map=options.label_map,
                text_column=source.column or "text",
                label_column=options.label_column,
                **where,
            )
            scores = single_label_scores(scored.y_true, scored.probs, label_map.data_labels)
        except GoEmoXError as err:
            raise GoEmoXUsageError(f"--labelled_domain {domain.name}={source.spec}: {err}") from None
        image = folder / f"labelled_{domain.name}_confusion.png"
        write_single_label_section(report, scores, label_map, image, title=domain.name, level=3)
        results[domain.name] = {"source": source.spec, "label_map": label_map.to_dict(), "single_label": scores}
    return results


def bias_probe_section(classifier, loader, templates: str, bias: BiasArguments, sources, report, folder) -> dict:
    """Run the bias probe and add its report section; returns the summaries for analysis.json."""
    from goemox.analysis.bias_probe import load_templates, load_terms, run_bias_probe, summarise_probe
    from goemox.analysis.bias_report import write_bias_report

    terms = load_terms(bias.bias_terms)
    texts = load_templates(templates, loader, sources.text_column)
    probes = run_bias_probe(classifier, texts, terms, max_templates=bias.max_templates, seed=sources.seed)
    summaries = {p.placeholder: summarise_probe(p, classifier.label_names, classifier.thresholds) for p in probes}
    write_bias_report(summaries, templates, folder, report)
    return {"templates": templates, "placeholders": summaries}


def run_analyze(
    model: SavedModelArguments,
    backend: BackendArguments,
    sources: TextSourceArguments,
    bias: BiasArguments,
    options: AnalyzeArguments,
) -> int:
    from goemox.analysis.domain_shift import analyze_domains, save_analysis
    from goemox.analysis.domain_shift_report import write_domain_shift_report
    from goemox.analysis.ood import store_ood_cutoff
    from goemox.data.domains import TextLoader, parse_domain
    from goemox.file_io import check_output_folder, prepare_output_folder
    from goemox.reporting.markdown import MarkdownReport
    from goemox.run_folder import check_model_folder

    domains = [parse_domain(spec, sources.text_column) for spec in options.domain]
    labelled = parse_labelled_domains(options, sources)
    by_name = {domain.name: domain for domain in domains}
    if options.in_domain is not None and options.in_domain not in by_name:
        raise GoEmoXUsageError(f"--in_domain {options.in_domain!r} is not one of the domains {list(by_name)}")
    validation = validation_source(options, sources, by_name.get(options.in_domain, domains[0]))
    if options.store_ood_cutoff:
        if validation is None:
            raise GoEmoXUsageError(
                "--store_ood_cutoff needs in-domain validation texts (--in_domain_validation SOURCE)"
            )
        check_model_folder(model.model, "--store_ood_cutoff writes into one")
        if options.model_copy:
            check_output_folder(options.model_copy, False, inputs=[model.model], option="--model_copy")
    inputs = [model.model, *(domain.source.path for domain in [*domains, *labelled]), options.model_copy]
    inputs.append(options.label_map)
    folder = prepare_output_folder(options.output_dir, options.overwrite, inputs=inputs)
    classifier = model.load(backend)
    loader = TextLoader(classifier.label_scheme(sources.scheme))
    result = analyze_domains(
        classifier,
        domains,
        model_name=model.model,
        in_domain=options.in_domain,
        validation=validation,
        ood_quantile=options.ood_quantile,
        ood_score=options.ood_score,
        max_texts=options.max_texts,
        seed=sources.seed,
        loader=loader,
    )
    report = MarkdownReport(folder, "Domain shift analysis")
    write_domain_shift_report(result, folder, report)
    if labelled:
        result.analysis["labelled_domains"] = labelled_domains_section(classifier, labelled, options, report, folder)
    if options.bias_probe:
        result.analysis["bias_probe"] = bias_probe_section(
            classifier, loader, options.bias_probe, bias, sources, report, folder
        )
    if options.store_ood_cutoff:
        config_path = store_ood_cutoff(model.model, result.analysis["ood_cutoff"], options.model_copy)
        result.analysis["ood_cutoff_stored_in"] = str(config_path)
        where = "a copy of the model" if options.model_copy else "the model folder, rewritten in place"
        print(f"Stored ood_cutoff {result.analysis['ood_cutoff']['cutoff']:.4f} in {config_path} ({where})")
    save_analysis(result.analysis, folder)
    report.save()
    print_domain_summary(result.analysis)
    print_labelled_summary(result.analysis.get("labelled_domains", {}))
    print(f"Wrote report.md, analysis.json and plots to {folder}")
    return 0


def print_domain_summary(analysis: dict) -> None:
    from goemox.inference.predictor import LongTextReport

    print(f"\n{'domain':<16}{'texts':>7}{'collapse':>10}{'neutral':>9}{'max prob':>10}{'AUROC mp':>10}{'AUROC E':>9}")
    for name, d in analysis["domains"].items():
        values = [d["collapse_rate"], d["neutral_share"], d["mean_max_probability"]]
        values += [d["ood_auroc_max_probability"], d["ood_auroc_energy"]]
        cells = "".join(f"{v:>{w}.3f}" if v is not None else f"{'-':>{w}}" for v, w in zip(values, (10, 9, 10, 10, 9)))
        print(f"{name:<16}{d['n_texts']:>7}{cells}")
    for name, d in analysis["domains"].items():
        if d["long_text"]["long_texts"]:
            print(f"Note: {name}: {LongTextReport(**d['long_text']).describe()}")
    cutoff = analysis["ood_cutoff"]
    if cutoff:
        print(f"OOD cutoff ({cutoff['score']}): {cutoff['cutoff']:.4f} from {cutoff['validation_source']}")
        if cutoff.get("warning"):
            print(f"  Warning: {cutoff['warning']}")


def print_labelled_summary(labelled: dict) -> None:
    if not labelled:
        return
    print(f"\n{'labelled domain':<16}{'scored':>8}{'accuracy':>10}{'macro-F1':>10}{'majority':>10}  majority label")
    for name, entry in labelled.items():
        s = entry["single_label"]
        print(
            f"{name:<16}{s['rows_scored']:>8}{s['accuracy']:>10.3f}{s['macro_f1']:>10.3f}"
            f"{s['majority_baseline_accuracy']:>10.3f}  {s['majority_label']}"
        )


def run_bias_probe(
    model: SavedModelArguments,
    backend: BackendArguments,
    sources: TextSourceArguments,
    bias: BiasArguments,
    options: BiasProbeArguments,
) -> int:
    from goemox.analysis.domain_shift import save_analysis
    from goemox.data.domains import TextLoader
    from goemox.file_io import prepare_output_folder
    from goemox.reporting.markdown import MarkdownReport

    folder = prepare_output_folder(options.output_dir, options.overwrite, inputs=[model.model, options.templates])
    classifier = model.load(backend)
    loader = TextLoader(classifier.label_scheme(sources.scheme))
    report = MarkdownReport(folder, "Bias probe")
    report.text(f"Model `{model.model}` ({len(classifier.label_names)} labels).")
    probe = bias_probe_section(classifier, loader, options.templates, bias, sources, report, folder)
    save_analysis({"model": model.model, "label_names": classifier.label_names, "bias_probe": probe}, folder)
    report.save()
    print(f"Wrote report.md, analysis.json and plots to {folder}")
    return 0


COMMANDS = by_name(
    Command(
        "analyze",
        (SavedModelArguments, BackendArguments, TextSourceArguments, BiasArguments, AnalyzeArguments),
        run_analyze,
        description=ANALYZE_HELP,
    ),
    Command(
        "bias-probe",
        (SavedModelArguments, BackendArguments, TextSourceArguments, BiasArguments, BiasProbeArguments),
        run_bias_probe,
        description="Bias probe: every template is scored with each identity term in place of its placeholder. "
        "Writes report.md, analysis.json and a PNG per placeholder to --output_dir.",
    ),
)
