"""Scoring saved models: metrics and threshold tuning, scoring a labelled split, error analysis and its report."""
