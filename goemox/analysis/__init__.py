"""How a model behaves beyond its training data: domain shift between sets of texts and its report, out-of-domain
scores and the cutoff stored in a model's `config.json`, and the identity-term bias probe and its report.

Example:

```python
>>> from goemox.analysis import analyze_domains
>>> from goemox.data import parse_domain
>>> from goemox.inference import EmotionClassifier
>>> result = analyze_domains(EmotionClassifier.from_pretrained("runs/demo"),
...                          [parse_domain("reddit=demo:test"), parse_domain("hn=hn.jsonl")])  # doctest: +SKIP
```"""

from goemox.lazy_names import lazy_names

__all__ = [
    "DomainShiftResult",
    "analyze_domains",
    "load_templates",
    "load_terms",
    "ood_auroc",
    "ood_cutoff",
    "run_bias_probe",
    "save_analysis",
    "store_ood_cutoff",
    "summarise_probe",
    "validation_ood_cutoff",
    "write_bias_report",
    "write_domain_shift_report",
]

_LAZY = {
    "DomainShiftResult": "goemox.analysis.domain_shift",
    "analyze_domains": "goemox.analysis.domain_shift",
    "save_analysis": "goemox.analysis.domain_shift",
    "write_domain_shift_report": "goemox.analysis.domain_shift_report",
    "ood_auroc": "goemox.analysis.ood",
    "ood_cutoff": "goemox.analysis.ood",
    "validation_ood_cutoff": "goemox.analysis.ood",
    "store_ood_cutoff": "goemox.analysis.ood",
    "load_templates": "goemox.analysis.bias_probe",
    "load_terms": "goemox.analysis.bias_probe",
    "run_bias_probe": "goemox.analysis.bias_probe",
    "summarise_probe": "goemox.analysis.bias_probe",
    "write_bias_report": "goemox.analysis.bias_report",
}


__getattr__ = lazy_names(__name__, _LAZY)
