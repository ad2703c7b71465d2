"""Data files shipped with goemox (the demo training set)."""
